"""Pandoc, Quarto and MyST citation syntax, what is not a citation, front matter and the YAML reader."""

from __future__ import annotations

import pytest

from citewise.server.drafts.markdown import (
    find_markdown_citations,
    front_matter,
    front_matter_end,
    markdown_bibliographies,
    markdown_includes,
)
from citewise.server.drafts.yaml_metadata import parse_yaml, string_list


def keys(text: str) -> list[list[str]]:
    return [citation.key_names for citation in find_markdown_citations(text, "t.md")]


def test_bracketed_citation_with_locators_and_several_keys():
    text = "As shown [see @doe99, pp. 33-35; also @smith04, chap. 1]."
    (citation,) = find_markdown_citations(text, "t.md")
    assert citation.command == "[@" and citation.syntax == "pandoc"
    assert citation.key_names == ["doe99", "smith04"]
    assert text[citation.col : citation.end_col] == "[see @doe99, pp. 33-35; also @smith04, chap. 1]"
    assert [text[use.col : use.end_col] for use in citation.keys] == ["doe99", "smith04"]


def test_suppressed_author_and_in_text_forms():
    text = "Smith says [-@smith04]. @doe99 [p. 33] says so, and @lee20 too."
    citations = find_markdown_citations(text, "t.md")
    assert [(c.command, c.key_names) for c in citations] == [("[-@", ["smith04"]), ("@", ["doe99"]), ("@", ["lee20"])]
    assert citations[1].end_col == text.index("]", text.index("[p. 33")) + 1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("@ravuris2021skillful: yes", "ravuris2021skillful"),
        ("see @white1972elements.", "white1972elements"),
        ("@Doe:2020:x.y#z$a%b&c-d+e?f<g>h~i/j, then", "Doe:2020:x.y#z$a%b&c-d+e?f<g>h~i/j"),
        ("@_under_score!", "_under_score"),
        ("@{weird key with spaces}", "weird key with spaces"),
        ("(@wrapped)", "wrapped"),
        ("@café2020 works", "café2020"),
    ],
)
def test_key_characters_follow_pandoc(text, expected):
    assert keys(text) == [[expected]]


@pytest.mark.parametrize(
    "text",
    [
        "write to me@example.com or fake_email@fakeyfake.com",
        r"Artwork by \@allison_horst.",
        "inline `@code` here and ``a ` @double``",
        "```python\n@decorator\ndef f(): pass\n```",
        "~~~~\n@tilde\n~~~~",
        "Para.\n\n    @indented code\n",
        "<!-- @hidden -->",
        "<!-- @hidden\nover lines --> <!-- unclosed",
        r"See Figure \@ref(fig:plot) in bookdown.",
        "[link](https://medium.com/@paul.niehaus/doing-research)",
        "see https://twitter.com/@handle and <https://x.com/@y>",
        "@fig-polar, @sec-intro. @tbl-one @eq-energy @lst-code @thm-main @lem-a @def-b",
        "[@fig-a; @fig-b]",
        "---\ntitle: x\nauthor: '@me'\n---\nbody",
    ],
)
def test_things_that_are_not_citations(text):
    assert keys(text) == []


def test_social_handle_in_running_text_is_reported_as_pandoc_would():
    assert keys("Thanks to @allison_horst for the art.") == [["allison_horst"]]


def test_list_continuation_indented_four_spaces_is_not_code():
    assert keys("- item\n\n    continued @a\n") == [["a"]]


def test_unclosed_fence_hides_the_rest_but_not_what_came_before():
    assert keys("@before\n```\n@inside") == [["before"]]


def test_four_backtick_fence_holds_a_three_backtick_one():
    assert keys("````markdown\n```\n```\n@example\n````\n@after") == [["after"]]


def test_bracket_with_an_item_without_key_falls_back_to_in_text():
    assert keys("[a note; see @a]") == [["a"]]


def test_link_text_followed_by_target_is_not_a_bracketed_citation():
    citations = find_markdown_citations("[@a](http://x.org)", "t.md")
    assert [(c.command, c.key_names) for c in citations] == [("@", ["a"])]


def test_braced_key_position_skips_inner_spaces():
    text = "x @{ odd key } y"
    (citation,) = find_markdown_citations(text, "t.md")
    use = citation.keys[0]
    assert text[use.col : use.end_col] == "odd key"


def test_myst_roles():
    text = "{cite}`a,b` and {cite:p}`c` and {cite:t}` d , e ` and {cite:ps}`f`"
    citations = find_markdown_citations(text, "t.md")
    assert [(c.command, c.key_names, c.syntax) for c in citations] == [
        ("{cite}", ["a", "b"], "myst"), ("{cite:p}", ["c"], "myst"), ("{cite:t}", ["d", "e"], "myst"), ("{cite:ps}", ["f"], "myst")
    ]
    assert citations[2].keys[0].col == text.index(" d ") + 1


def test_citations_come_in_text_order_with_lines():
    text = "{cite}`m`\n[@b]\n@c"
    assert [(c.line, c.key_names) for c in find_markdown_citations(text, "t.md")] == [(0, ["m"]), (1, ["b"]), (2, ["c"])]


def test_front_matter_bibliography_string_or_list():
    assert markdown_bibliographies("---\nbibliography: refs.bib\n---\n") == ["refs.bib"]
    assert markdown_bibliographies("---\nbibliography:\n  - a.bib\n  - 'b c.bib'\n...\n") == ["a.bib", "b c.bib"]
    assert markdown_bibliographies('---\nbibliography: ["x.bib", y.bib]\n---\n') == ["x.bib", "y.bib"]
    assert markdown_bibliographies("no front matter\nbibliography: z.bib\n") == []


def test_front_matter_without_end_is_not_front_matter():
    assert front_matter("---\ntitle: x\n") == ({}, 0)
    assert front_matter_end("---\ntitle: x\n") == 0


@pytest.mark.parametrize("text", ["---\ntitle: x\nbibliography: refs.bib\n...\nBody [@k]\n",
                                  "---\ntitle: [unclosed\n---\nBody\n", "---\ntitle: x\n---"])
def test_the_body_starts_where_front_matter_says_without_parsing_its_yaml(text):
    body = text.find("Body") if "Body" in text else len(text)
    assert front_matter_end(text) == front_matter(text)[1] == body


def test_quarto_include_shortcodes():
    assert markdown_includes("{{< include _part.qmd >}}\n```\n{{< include no.qmd >}}\n```") == [("_part.qmd", 0)]


def test_yaml_metadata_reader():
    data = parse_yaml(
        'title: "x: y"  # comment\n'
        "bibliography:\n  - a.bib\n  - 'b.bib'\n"
        "project:\n  bibliography: [p.bib, \"q r.bib\"]\n"
        "bibtex_bibfiles:\n- one.bib\n"
        "abstract: |\n  text: here\n  - not a list\n"
        "chapters:\n  - index.qmd\n  - part: Two\n    chapters: [a.qmd]\n"
        "after: ok\n"
    )
    assert data["title"] == "x: y"
    assert string_list(data["bibliography"]) == ["a.bib", "b.bib"]
    assert data["project"] == {"bibliography": ["p.bib", "q r.bib"]}
    assert data["bibtex_bibfiles"] == ["one.bib"]
    assert data["chapters"] == ["index.qmd", {"part": "Two", "chapters": ["a.qmd"]}]
    assert data["after"] == "ok"


@pytest.mark.parametrize("text", ["", "just text", "- a\n- b", ":::\n  : :", "key: [unclosed", "\t\tx: 1\ny:\n\t- z", "a: 'b"])
def test_yaml_reader_never_fails(text):
    assert isinstance(parse_yaml(text), dict)


def test_yaml_that_the_old_subset_reader_got_wrong():
    """Anchors, folded multi-line flow lists and quoted escapes are YAML that project files use."""
    data = parse_yaml(
        "common: &bibs [a.bib,\n  b.bib]\n"
        "book:\n  bibliography: *bibs\n"
        'other: "tab\\there"\n'
    )
    assert string_list(data["book"]["bibliography"]) == ["a.bib", "b.bib"]
    assert data["other"] == "tab\there"
