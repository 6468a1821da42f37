"""Citation keys: Better BibTeX's default formula, the template language, disambiguation, stability."""

from __future__ import annotations

import pytest

from citewise.bib.errors import CitewiseError
from citewise.bib.keys import DEFAULT_FORMULA, FreeKeys, KeyFormula, fill_keys, make_key, suffix
from citewise.bib.model import Author, Reference
from citewise.bib.text import ascii_fold

VASWANI = Reference(title="Attention Is All You Need", authors=[Author("Vaswani", "Ashish"), Author("Shazeer", "Noam")], year="2017")


def test_better_bibtex_default():
    assert DEFAULT_FORMULA == "auth.lower + shorttitle(3,3) + year"
    assert make_key(VASWANI) == "vaswaniAttentionAllYou2017"


@pytest.mark.parametrize(
    ("family", "title", "expected"),
    [
        ("Müller", "Über die Straße", "mullerUberStrasse2020"),
        ("Łukasiewicz", "Logika trójwartościowa", "lukasiewiczLogikaTrojwartosciowa2020"),
        ("Ødegård", "The æsthetics of đak", "odegardAestheticsDak2020"),
        ("van der Berg", "A theory of the firm: on markets", "vanderbergTheoryFirmMarkets2020"),
        ("O'Neil", "Weapons of math destruction", "oneilWeaponsMathDestruction2020"),
    ],
)
def test_transliteration_and_stop_words(family, title, expected):
    ref = Reference(title=title, authors=[Author(family, "X")], date="2020-05-01")
    assert make_key(ref) == expected


def test_editor_when_no_author_and_anon_when_nothing():
    assert make_key(Reference(title="Handbook", editors=[Author("Editor", "E")], year="1999")) == "editorHandbook1999"
    assert make_key(Reference(year="1999")) == "anon1999"


def test_disambiguation_with_taken_keys():
    taken = {"vaswaniAttentionAllYou2017"}
    assert make_key(VASWANI, taken) == "vaswaniAttentionAllYou2017a"
    taken |= {"vaswaniAttentionAllYou2017a", "vaswaniAttentionAllYou2017b"}
    assert make_key(VASWANI, taken) == "vaswaniAttentionAllYou2017c"
    many = {"vaswaniAttentionAllYou2017"} | {"vaswaniAttentionAllYou2017" + chr(c) for c in range(ord("a"), ord("z") + 1)}
    assert make_key(VASWANI, many) == "vaswaniAttentionAllYou2017aa"


def test_stability_is_the_callers_stored_key():
    """A stored key is kept: the caller only asks for a key when a reference has none, passing every key in use."""
    stored = {VASWANI.title: make_key(VASWANI)}
    edited = Reference(title="Attention is all you need (revised)", authors=VASWANI.authors, year="2018")
    key = stored.get(VASWANI.title) or make_key(edited, set(stored.values()))
    assert key == "vaswaniAttentionAllYou2017"
    other = Reference(title="Attention Is All You Need", authors=[Author("Vaswani", "B.")], year="2017")
    assert make_key(other, set(stored.values())) == "vaswaniAttentionAllYou2017a"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("auth.lower + year", "vaswani2017"),
        ("auth.upper + '_' + year", "VASWANI_2017"),
        ('authors + "-" + veryshorttitle', "VaswaniShazeer-Attention"),
        ("shorttitle(2,1) + year", "Attentionall2017"),
        ("title.lower", "attentionallyouneed"),
        ("auth.lower.upper", "VASWANI"),
    ],
)
def test_templates(template, expected):
    assert KeyFormula(template).make(VASWANI) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("", "empty part"),
        ("auth +", "empty part"),
        ("authr", "unknown part 'authr'"),
        ("shorttitle(3)", "shorttitle takes 2 argument"),
        ("shorttitle(a,b)", "shorttitle takes 2 argument"),
        ("year(4)", "year takes 0 argument"),
        ("auth.title", "unknown modifier .title"),
        ("auth year", "cannot read"),
        ('"open quote + year', "cannot read"),
    ],
)
def test_invalid_templates_are_clear_errors(template, message):
    with pytest.raises(CitewiseError, match="invalid citation key template") as raised:
        KeyFormula(template)
    assert message in str(raised.value)


def test_ascii_fold():
    assert ascii_fold("Łódź ßøæ Đ") == "Lodz ssoae D"


def _keys_as_before(references: list[Reference], taken: set[str]) -> list[str]:
    """The rule as it was: for each paper, try a, b, … from the start (quadratic)."""
    import itertools
    import string

    def suffixes():
        for length in itertools.count(1):
            for letters in itertools.product(string.ascii_lowercase, repeat=length):
                yield "".join(letters)

    keys = []
    for ref in references:
        base = KeyFormula().base_key(ref)
        key = base if base not in taken else next(base + s for s in suffixes() if base + s not in taken)
        taken.add(key)
        keys.append(key)
    return keys


def test_linear_disambiguation_gives_the_keys_it_gave_before():
    same = [Reference(title="Attention Is All You Need", authors=[Author("Vaswani")], year="2017") for _ in range(800)]
    others = [Reference(title=f"Topic {i % 7} study", authors=[Author("Smith")], year="2020") for i in range(600)]
    mixed = [ref for pair in zip(same, others) for ref in pair] + same[len(others):]
    taken = {"vaswaniAttentionAllYou2017b", "vaswaniAttentionAllYou2017aa", "smithTopicStudy2020"}
    expected = _keys_as_before(mixed, set(taken))
    for ref in mixed:
        ref.key = ""
    fill_keys(mixed, set(taken))
    assert [ref.key for ref in mixed] == expected
    assert "vaswaniAttentionAllYou2017aaa" in expected, "past zz the suffixes go on with three letters"
    assert len(set(expected)) == len(expected)


def test_suffix_numbering():
    assert [suffix(n) for n in (0, 1, 26, 27, 52, 702, 703)] == ["", "a", "z", "aa", "az", "zz", "aaa"]


def test_free_keys_resumes_where_a_base_ended_but_rechecks_it():
    taken: set[str] = {"k"}
    free = FreeKeys(taken)
    assert free.free("k") == "ka"
    assert free.free("k") == "ka", "a key not taken by the caller is offered again"
    taken.add("ka")
    assert free.free("k") == "kb"
