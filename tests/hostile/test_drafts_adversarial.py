"""Drafts made of unclosed or nested brackets, braces, math and code openers (200 KB each) go
through every draft-text function `suggest`, `cites` and the language server use, in linear time.

Before the fix `citewise suggest` spent 82 s on 200 KB of nested brackets: the markup patterns of
`strip_markup` (and the LaTeX environment mask of `draft_paragraphs`) rescanned to the end of the
text from every unclosed opener. The run below takes seconds; a quadratic step would take hours,
so the subprocess timeout catches it without a timing assertion.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from adversarial_drafts import drafts

from citewise.bib.text import strip_markup

SCRIPT = Path(__file__).with_name("adversarial_drafts.py")


def test_every_draft_function_finishes_on_200_kb_of_adversarial_text():
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "ok"
    assert len(result.stdout.splitlines()) == len(drafts(1000)) + 1


def test_strip_markup_still_strips_what_it_did():
    text = (r"As shown \citep[p.~3]{a,b} in \cite{c}, $x^2$ and \(y\) and \[z\] and "
            r"\begin{equation}\begin{split}e\end{split}\end{equation} see [the paper](http://x.org) "
            r"and ![fig](f.png) <b>bold</b> [@d; @e] \textbf[opt]{word}.")
    assert strip_markup(text) == "As shown in , and and and see the paper and fig bold word."
