"""LaTeX text <-> Unicode for BibTeX field values.

`latex_to_unicode` reads what people type in .bib files (`{\\"u}`, `\\'{e}`, `\\ss`, `--`,
`{Protected}` braces) into plain Unicode for the reference model. `unicode_to_latex` writes
Unicode back as the escapes classic BibTeX needs; BibLaTeX output keeps UTF-8.
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
    """`{\\"U}ber --- {DNA}` -> `Über — DNA`: accents, letters, symbols, dashes; braces and `$` removed."""
    if "\\" in text:
        text = _SPACING_COMMAND.sub("", text)
        text = _ACCENT_COMMAND.sub(_accented, text)
        text = _NAMED_COMMAND.sub(_named, text)
    text = _DASHES.sub(lambda m: "–" if len(m.group()) == 2 else "—", text)
    text = text.replace("~", "\u00a0") if "~" in text and "\\" not in text else text
    text = re.sub(r"(?<!\\)[{}]", "", text)
    text = re.sub(r"(?<!\\)\$", "", text)
    text = text.replace("\\{", "{").replace("\\}", "}").replace("\\$", "$")
    return unicodedata.normalize("NFC", " ".join(text.split()))


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
    if name in ("null", "relax", "mkbibemph", "mkbibquote", "textsubscript", "textsuperscript", "emph", "textit", "textbf", "textsc", "textrm", "textsf", "texttt", "mathrm", "mathit", "mathbf", "mbox", "url", "textup", "textnormal", "NoCaseChange", "ensuremath"):
        return ""
    return match.group(0)


_SPECIALS = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_"}
_UNICODE_SYMBOLS = {
    "–": "--", "—": "---", "’": "'", "‘": "`", "“": "``", "”": "''", "…": r"\ldots{}", "§": r"\S{}",
    "©": r"\textcopyright{}", "®": r"\textregistered{}", "™": r"\texttrademark{}", "°": r"\textdegree{}",
    "€": r"\euro{}", "£": r"\pounds{}", "«": r"\guillemotleft{}", "»": r"\guillemotright{}", "\u00a0": "~",
    "×": r"$\times$", "±": r"$\pm$", "≤": r"$\leq$", "≥": r"$\geq$", "∞": r"$\infty$", "→": r"$\rightarrow$",
}
_UNICODE_SYMBOLS.update({char: f"$\\{name}$" for name, char in _MATH.items() if len(name) > 2 or name in ("mu", "nu", "xi", "pi")})
_LETTER_COMMANDS = {char: name for name, char in _LETTERS.items() if name not in ("j",)}


def unicode_to_latex(text: str, escape_specials: bool = True) -> str:
    """Unicode -> ASCII LaTeX for classic BibTeX: `Müller & Co` -> `M{\\"u}ller \\& Co`.

    Characters with no LaTeX spelling are kept as they are (BibTeX passes them through).
    """
    out = []
    for char in text:
        if escape_specials and char in _SPECIALS:
            out.append(_SPECIALS[char])
        elif ord(char) < 128:
            out.append(char)
        else:
            out.append(_char_to_latex(char))
    return "".join(out)


def escape_specials(text: str) -> str:
    """Only `& % $ # _` escaped: what BibLaTeX's UTF-8 output still needs."""
    return "".join(_SPECIALS.get(char, char) for char in text)


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
