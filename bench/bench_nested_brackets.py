"""What `citewise suggest` does to a draft before any search, on 200 KB of nested brackets.

`suggest` splits a draft into paragraphs, strips each one's markup, finds the keys it already
cites, and reads the surroundings of each cursor (paragraph, headings, captions, title). Before the fix, `[`s that nothing closed made the markup patterns
quadratic (82 s for 200 KB). Figures: that text work on
- 200 KB of nested brackets (`[[[…]]]`), and on the worst of the other adversarial drafts in
  tests/hostile/adversarial_drafts.py (one opener repeated: `\\(`, `<`, `\\begin{equation}`…);
- baseline: the same work on a 200 KB realistic Markdown draft, measured in the same run.
Median and p95 over repeated runs.

    .venv/bin/python bench/bench_nested_brackets.py [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from timing import p95

from citewise.bib.text import strip_markup
from citewise.server.features.surroundings import paragraphs, surroundings
from citewise.server.features.workspace import scan_draft

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "hostile"))
from adversarial_drafts import SIZE, drafts  # noqa: E402


def realistic_markdown(size: int) -> str:
    paragraph = ("Diffusion samplers trade steps for quality [see @key12, p. 4; @song2021]. As @zheng7 shows, "
                 "the compensation term helps ([details](https://example.org/a)); write to me@example.org.\n\n")
    return paragraph * (size // len(paragraph))


def suggest_text_work(text: str, suffix: str = ".md") -> None:
    language = "latex" if suffix == ".tex" else "markdown"
    scan_draft(text, language, "draft" + suffix)
    for start, end in paragraphs(text, language):
        strip_markup(text[start:end])
    surroundings(text, len(text) // 2, language)


def timed(text: str, repeat: int, suffix: str = ".md") -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        suggest_text_work(text, suffix)
        times.append(time.perf_counter() - start)
    return times


def line(label: str, times: list[float]) -> str:
    return f"{label:<48} median {statistics.median(times) * 1000:8.1f} ms  p95 {p95(times) * 1000:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    shapes = drafts(SIZE)
    print(line("baseline: 200 KB realistic Markdown", timed(realistic_markdown(SIZE), args.repeat)))
    print(line("200 KB nested brackets", timed(shapes["nested brackets"], args.repeat)))
    worst: dict[tuple[str, str], float] = {}
    for name, text in shapes.items():
        for suffix in (".md", ".tex"):
            worst[name, suffix] = timed(text, 1, suffix)[0]
    name, suffix = max(worst, key=worst.get)
    print(line(f"worst adversarial: {name} ({suffix})"[:48], timed(shapes[name], args.repeat, suffix)))

if __name__ == "__main__":
    main()
