"""The one file:// URI <-> path conversion, shared by the draft parser, the features and the protocol layer."""

from __future__ import annotations

import os

import pytest

from citewise.server.drafts.project import language_of
from citewise.server.drafts.suffixes import DRAFT_SUFFIXES
from citewise.server.drafts.uris import path_to_uri, uri_to_path
from citewise.server.lsp import convert


@pytest.mark.parametrize("name", ["paper.tex", "a b/thesis#2.tex", "été 100%/chapter.md", "x?y;z.bib"])
def test_paths_round_trip_and_are_percent_encoded_as_editors_send_them(tmp_path, name):
    path = str(tmp_path / name)
    uri = path_to_uri(path)
    assert uri.startswith("file:///") and " " not in uri and "#" not in uri[8:] and "?" not in uri
    assert uri_to_path(uri) == path
    assert convert.uri_from_path(path) == uri and convert.path_from_uri(uri) == path


def test_what_vs_code_sends_reads_as_the_file():
    assert uri_to_path("file:///home/ann/My%20Thesis/%C3%A9t%C3%A9.tex") == "/home/ann/My Thesis/été.tex"


def test_non_file_uris_and_relative_paths():
    assert uri_to_path("untitled:Untitled-1") == "untitled:Untitled-1"
    assert uri_to_path("https://example.org/refs.bib") == "https://example.org/refs.bib"
    assert uri_to_path("refs.bib") == os.path.join(os.getcwd(), "refs.bib")


def test_one_list_of_draft_suffixes():
    assert all(language_of("x" + suffix) for suffix in DRAFT_SUFFIXES)
    assert language_of(path_to_uri("/p/Analysis.Rmd")) == "markdown"
    assert language_of("file:///p/refs.bib") is None
