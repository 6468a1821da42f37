"""Draft parsing speed: citations found per draft size, and completion-context latency per keystroke.

For each case the figure is beside a baseline measured in the same run on the same text:
- LaTeX / Markdown drafts of ~1 MB and ~10 MB (a realistic mix: prose, a citation every few
  lines, comments, code) read with `load_draft` (includes, masking, positions, macros), against
  one naive regex pass over the same file (`\\cite...{...}` / `@key`) that knows no syntax;
- `citation_at` at the end of the 10 MB drafts (what each keystroke in the editor costs),
  against `str.rfind` of the last `{` / `@` before the cursor;
- `generate_bib` for the SciPy fixture (31 citations, 94 kB .bib), against `read_bib_file` alone.
Median and p95 over repeated runs are printed.

    .venv/bin/python bench/bench_drafts.py [--repeat R]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from citewise.bib.bibtex.reader import read_bib_file
from citewise.server.drafts.bibgen import generate_bib
from citewise.server.drafts.context import citation_at
from citewise.server.drafts.project import load_draft

REPO = Path(__file__).resolve().parents[1]
SCIPY = REPO / "tests" / "fixtures" / "drafts" / "scipy"
NAIVE_LATEX = re.compile(r"\\[A-Za-z]*cite[A-Za-z]*\*?(?:\[[^\]]*\])*\{([^}]*)\}")
NAIVE_MARKDOWN = re.compile(r"@([A-Za-z0-9_][\w:.#$%&\-+?<>~/]*)")


def latex_paragraph(i: int) -> str:
    return (
        f"Diffusion samplers trade steps for quality, as claim {i} shows \\citep[p.~{i % 9}]{{key{i % 500}, song2021}}.\n"
        "Solvers of higher order reduce the error of each step; % a note to self\n"
        f"the predictor-corrector variant of \\textcite{{zheng{i % 40}}} adds a compensation term.\n"
        "\\begin{verbatim}\n\\cite{not-a-citation}\n\\end{verbatim}\n\n"
    )


def markdown_paragraph(i: int) -> str:
    return (
        f"Diffusion samplers trade steps for quality [see @key{i % 500}, p. 4; @song2021].\n"
        f"As @zheng{i % 40} shows, the compensation term helps; write to me@example.org.\n"
        "```python\n@decorator\ndef sample(): ...\n```\n\n"
    )


def write_draft(folder: Path, name: str, paragraph: Callable[[int], str], size: int) -> Path:
    parts, total, i = [], 0, 0
    while total < size:
        parts.append(paragraph(i))
        total += len(parts[-1])
        i += 1
    path = folder / name
    path.write_text("".join(parts), encoding="utf-8")
    return path


def timed(function: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float], baseline_label: str, baseline: list[float], unit: str = "ms") -> None:
    scale = 1000 if unit == "ms" else 1_000_000

    def figures(values: list[float]) -> str:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
        return f"median {statistics.median(values) * scale:9.2f} {unit}  p95 {p95 * scale:9.2f} {unit}"

    print(f"{label:<44} {figures(times)}")
    print(f"  baseline: {baseline_label:<32} {figures(baseline)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / ".git").mkdir()
        for size_name, size in (("1 MB", 1 << 20), ("10 MB", 10 << 20)):
            repeat = args.repeat if size < (5 << 20) else max(3, args.repeat // 2)
            tex = write_draft(folder, f"draft-{size}.tex", latex_paragraph, size)
            md = write_draft(folder, f"draft-{size}.md", markdown_paragraph, size)
            found = len(load_draft(tex).citations)
            report(f"load_draft LaTeX {size_name} ({found} citations)", timed(lambda: load_draft(tex), repeat),
                   "naive \\cite regex pass", timed(lambda: NAIVE_LATEX.findall(tex.read_text(encoding="utf-8")), repeat))
            found = len(load_draft(md).citations)
            report(f"load_draft Markdown {size_name} ({found} citations)", timed(lambda: load_draft(md), repeat),
                   "naive @key regex pass", timed(lambda: NAIVE_MARKDOWN.findall(md.read_text(encoding="utf-8")), repeat))
        for language, path, typed, marker in (("latex", tex, "\\citep{so", "{"), ("markdown", md, "[@so", "@")):
            text = path.read_text(encoding="utf-8") + typed
            line = text.count("\n")
            col = len(text) - (text.rfind("\n") + 1)
            assert citation_at(text, language, line, col) is not None
            report(f"citation_at end of 10 MB {language}", timed(lambda: citation_at(text, language, line, col), 50),
                   f"str.rfind('{marker}')", timed(lambda: text.rfind(marker), 50), unit="µs")
        draft = load_draft(SCIPY / "main.tex")
        report("generate_bib SciPy fixture", timed(lambda: generate_bib([draft]), args.repeat),
               "read_bib_file of its .bib", timed(lambda: read_bib_file(SCIPY / "references.bib"), args.repeat))


if __name__ == "__main__":
    main()
