"""`citewise search` input at the edges: -k out of range, invalid UTF-8 in argv and on stdin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_support import assert_no_traceback, assert_one_line_error, citewise

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def embedded_index(tmp_path_factory) -> Path:
    """Embedded with the real model, so queries go through its tokenizer."""
    index = tmp_path_factory.mktemp("search-input") / "index.sqlite"
    result = citewise("index", "add", EXAMPLES / "library.bib", "--index", index)
    assert result.returncode == 0 and "embedded 5" in result.stdout, result.stderr
    return index


@pytest.mark.parametrize("k", ["0", "-1"])
def test_k_below_one_is_rejected(embedded_index, k):
    assert_one_line_error(citewise("search", "attention", "-k", k, "--index", embedded_index), f"-k {k}", "at least 1")


def test_huge_k_is_capped_not_an_overflow(embedded_index):
    result = citewise("search", "attention", "-k", "9223372036854775807", "--index", embedded_index, "--json")
    assert_no_traceback(result)
    assert result.returncode == 0 and len(json.loads(result.stdout)) == 5
    many = citewise("search", "-", "-k", str(10**30), "--index", embedded_index, stdin="attention\n")
    assert many.returncode == 0 and len(json.loads(many.stdout)) == 5


def test_invalid_utf8_in_argv_is_replaced(embedded_index):
    result = citewise("search", b"attention \xff\xfe transformers \xc3", "--index", embedded_index, "--json")
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["key"] == "vaswaniAttentionAllYou2017"


def test_invalid_utf8_on_stdin_is_replaced(embedded_index):
    queries = b"attention \xff transformers\n\xc3\x28 \xa0\xa1\n\n" + b"score-based diffusion\n"
    result = citewise("search", "-", "-k", "1", "--index", embedded_index, stdin=queries)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == 4 and answers[2] == []
    assert answers[0][0]["key"] == "vaswaniAttentionAllYou2017"
    assert answers[3][0]["key"] == "songScoreBasedGenerativeModeling2021"
