"""LaTeX text <-> Unicode for BibTeX field values.

`latex_to_unicode` reads what people type in .bib files (`{\\"u}`, `\\'{e}`, `\\ss`, `--`,
`{Protected}` braces) into plain Unicode for the reference model. `unicode_to_latex` writes
Unicode back as the escapes classic BibTeX needs; BibLaTeX output keeps UTF-8.

Text that is already LaTeX stays as it is when written: a special character a backslash
already escapes (`15\\%`) is not escaped again, and math (`$…$`, `$$…$$`, `\\(…\\)`,
`\\[…\\]`) is copied untouched. arXiv and digest abstracts are written that way.

Our own tables rather than pylatexenc or latexcodec: on BibTeX field values pylatexenc's
latex2text gives the same text about 65 times slower and latexcodec about 30 times slower,
leaving braces and `\\emph` in (measured on the fields of tests/test_bibtex_write.py); for
writing, both spell symbols differently from Better BibTeX (`{\\textemdash}`,
`\\ensuremath{\\alpha}`), which test_written_symbols_are_spelled_as_better_bibtex_does pins.
"""

from __future__ import annotations

import re
import unicodedata

# Accent commands and the combining character each one stands for.
_ACCENTS = {
    "`": "\u0300", "'": "\u0301", "^": "\u0302", "~": "\u0303", "=": "\u0304", "u": "\u0306",
    ".": "\u0307", '"': "\u0308", "r": "\u030a", "H": "\u030b", "v": "\u030c", "d": "\u0323",
    "c": "\u0327", "k": "\u0328", "b": "\u0331",
}
_COMBINING_TO_ACCENT = {mark: command for command, mark in _ACCENTS.items()}

# Letters LaTeX writes as a command of their own.
_LETTERS = {
    "ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å", "AA": "Å",
    "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ", "dh": "ð", "DH": "Ð", "th": "þ", "TH": "Þ", "ng": "ŋ", "NG": "Ŋ",
    "dj": "đ", "DJ": "Đ",
}
_SYMBOLS = {
    "&": "&", "%": "%", "$": "$", "#": "#", "_": "_", "{": "{", "}": "}",
    "textendash": "–", "textemdash": "—", "textquoteright": "’", "textquoteleft": "‘",
    "textquotedblleft": "“", "textquotedblright": "”", "textregistered": "®", "texttrademark": "™",
    "copyright": "©", "textdegree": "°", "S": "§", "P": "¶", "dag": "†", "ddag": "‡", "euro": "€",
    "pounds": "£", "ldots": "…", "dots": "…", "textellipsis": "…", "textbackslash": "\\",
    "textasciitilde": "~", "textasciicircum": "^", "guillemotleft": "«", "guillemotright": "»",
}
_GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau "
    "upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega"
).split()
_MATH = {name: unicodedata.lookup(("GREEK CAPITAL LETTER " if name[0].isupper() else "GREEK SMALL LETTER ") + name.upper().replace("LAMBDA", "LAMDA")) for name in _GREEK}
_MATH.update({"times": "×", "pm": "±", "leq": "≤", "geq": "≥", "neq": "≠", "infty": "∞", "rightarrow": "→", "to": "→", "cdot": "·", "sim": "∼", "approx": "≈"})

_ACCENT_COMMAND = re.compile(r"""\\([`'^~=".]|[uvHrdckb](?![A-Za-z]))\s*(?:\{\s*(\\?[A-Za-z]{1,2}|)\s*\}|(\\[ij](?![A-Za-z])|[A-Za-z]))""")
_NAMED_COMMAND = re.compile(r"\\(?:([A-Za-z]+)(?:\{\}|\s?)|([&%$#_{}]))")
_SPACING_COMMAND = re.compile(r"\\(?:[hv]space\*?|kern)\s*\{[^{}]*\}")
_DASHES = re.compile(r"-{2,3}")


def latex_to_unicode(text: str) -> str:
    """`{\\"U}ber --- {DNA}` -> `Über — DNA`: accents, letters, symbols, dashes; braces removed.

    Math that reads as plain text (`$\\alpha$`, `$T$`) becomes that text; math with structure
    (`$O(n^2)$`, `$\\alpha_t$`) is kept as it is, `$`s and all, so writing it back loses nothing."""
    if "$" in text or "\\(" in text or "\\[" in text:
        text = outside_math(text, _text_to_unicode, _math_to_unicode)
    else:
        text = _text_to_unicode(text)
    return unicodedata.normalize("NFC", " ".join(text.split()))


def _math_to_unicode(math: str) -> str:
    inner = math[2:-2] if math.startswith(("$$", "\\(", "\\[")) else math[1:-1]
    plain = _text_to_unicode(inner)
    return math if re.search(r"[\\^_{}]", plain) else plain


def _text_to_unicode(text: str) -> str:
    """Commands, dashes, `~`, braces and stray `$` of text outside math (spaces left as they are)."""
    if "\\" in text:
        text = _SPACING_COMMAND.sub("", text)
        text = _ACCENT_COMMAND.sub(_accented, text)
        text = _NAMED_COMMAND.sub(_named, text)
    text = _DASHES.sub(lambda m: "–" if len(m.group()) == 2 else "—", text)
    text = text.replace("~", "\u00a0") if "~" in text and "\\" not in text else text
    text = re.sub(r"(?<!\\)[{}]", "", text)
    text = re.sub(r"(?<!\\)\$", "", text)
    return text.replace("\\{", "{").replace("\\}", "}").replace("\\$", "$")


def _accented(match: re.Match) -> str:
    command = match.group(1)
    base = match.group(2) if match.group(2) is not None else match.group(3)
    if base.startswith("\\"):
        base = base[1:] if base[1:] in ("i", "j") else _LETTERS.get(base[1:], base[1:])
    return unicodedata.normalize("NFC", base + _ACCENTS[command])


def _named(match: re.Match) -> str:
    name = match.group(1) or match.group(2)
    for table in (_LETTERS, _SYMBOLS, _MATH):
        if name in table:
            return table[name]
    if name in _DROPPED_COMMANDS:
        return ""
    return match.group(0)


_DROPPED_COMMANDS = frozenset((
    "null relax mkbibemph mkbibquote textsubscript textsuperscript emph textit textbf textsc textrm textsf "
    "texttt mathrm mathit mathbf mbox url textup textnormal NoCaseChange ensuremath "
    "it bf em sc rm sf tt sl up itshape bfseries scshape rmfamily sffamily ttfamily upshape normalfont"
).split())
"""Formatting commands whose argument (or, for switches such as `{\\it …}`, the rest of the
group) is kept as plain text."""

_SPECIALS = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_"}
_UNICODE_SYMBOLS = {
    "–": "--", "—": "---", "’": "'", "‘": "`", "“": "``", "”": "''", "…": r"\ldots{}", "§": r"\S{}",
    "©": r"\textcopyright{}", "®": r"\textregistered{}", "™": r"\texttrademark{}", "°": r"\textdegree{}",
    "€": r"\euro{}", "£": r"\pounds{}", "«": r"\guillemotleft{}", "»": r"\guillemotright{}", "\u00a0": "~",
    "×": r"$\times$", "±": r"$\pm$", "≤": r"$\leq$", "≥": r"$\geq$", "∞": r"$\infty$", "→": r"$\rightarrow$",
}
_UNICODE_SYMBOLS.update({char: f"$\\{name}$" for name, char in _MATH.items() if len(name) > 2 or name in ("mu", "nu", "xi", "pi")})
_LETTER_COMMANDS = {char: name for name, char in _LETTERS.items() if name not in ("j",)}


# Math as Pandoc reads it: `$$…$$`; `$…$` whose opening `$` is followed by a non-space and
# whose closing `$` follows a non-space and precedes no digit (so `$5 and $10` is no math);
# `\(…\)` and `\[…\]`.
MATH_SPAN = re.compile(
    r"(?<!\\)\$\$.+?(?<!\\)\$\$"
    r"|(?<!\\)\$(?=[^\s$])(?:[^$\\]|\\.)*?(?<=[^\s\\])\$(?!\d)"
    r"|\\\(.*?\\\)|\\\[.*?\\\]",
    re.S,
)


def outside_math(text: str, convert, convert_math=None) -> str:
    """`convert` applied to the parts of `text` outside math; math copied as it is, or
    passed through `convert_math`."""
    if "$" not in text and "\\" not in text:
        return convert(text)
    out, last = [], 0
    for match in MATH_SPAN.finditer(text):
        out.append(convert(text[last:match.start()]))
        out.append(convert_math(match.group()) if convert_math else match.group())
        last = match.end()
    out.append(convert(text[last:]))
    return "".join(out)


def unicode_to_latex(text: str, escape_specials: bool = True) -> str:
    """Unicode -> ASCII LaTeX for classic BibTeX: `Müller & Co` -> `M{\\"u}ller \\& Co`.

    Characters with no LaTeX spelling are kept as they are (BibTeX passes them through);
    already escaped specials and math are kept as they are.
    """
    def convert(part: str) -> str:
        out = []
        for position, char in enumerate(part):
            if char in _SPECIALS:
                escaped = not escape_specials or _is_escaped(part, position)
                out.append(char if escaped else _SPECIALS[char])
            elif ord(char) < 128:
                out.append(char)
            else:
                out.append(_char_to_latex(char))
        return "".join(out)

    return outside_math(text, convert)


def escape_specials(text: str) -> str:
    """Only `& % $ # _` escaped (unless already escaped; math kept): what BibLaTeX's UTF-8 output still needs."""
    def convert(part: str) -> str:
        return "".join(char if char not in _SPECIALS or _is_escaped(part, i) else _SPECIALS[char]
                       for i, char in enumerate(part))

    return outside_math(text, convert)


def _is_escaped(text: str, position: int) -> bool:
    """True when an odd number of backslashes stands right before `text[position]`."""
    backslashes = len(text[:position]) - len(text[:position].rstrip("\\"))
    return backslashes % 2 == 1


def _char_to_latex(char: str) -> str:
    if char in _UNICODE_SYMBOLS:
        return _UNICODE_SYMBOLS[char]
    if char in _LETTER_COMMANDS:
        return "{\\" + _LETTER_COMMANDS[char] + "}"
    decomposed = unicodedata.normalize("NFD", char)
    base, marks = decomposed[0], decomposed[1:]
    if ord(base) >= 128 or not marks or any(mark not in _COMBINING_TO_ACCENT for mark in marks):
        return char
    result = "\\i" if base == "i" else base
    for mark in marks:
        command = _COMBINING_TO_ACCENT[mark]
        result = f"\\{command}{{{result}}}" if command.isalpha() else f"\\{command}{result}"
    return "{" + result + "}"
