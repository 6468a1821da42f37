"""The real drafts bench_suggestions.py leaves citations out of: where they are, and how the
citation datasets among them become drafts with a .bib.

- scipy-articles (LaTeX, \\input sections) and coding-for-economists (Quarto chapters): as they are.
- acm-cr-dev: each citing paper becomes a Markdown draft, its title in the YAML header and one
  paragraph per citation context; a numeric group such as `[46, 47]` becomes `[@r46; @r47]`
  for the numbers the relevance judgements link to a cited paper (the others are dropped),
  and its .bib holds those cited papers (with abstracts) under the keys `rN`.
- unarxive-sample: each of the 49 arXiv papers becomes a Markdown draft (title and abstract,
  a heading per section, `[@bN]` at each citation span) with its references as a .bib (raw
  reference strings as titles: unarXive carries no abstracts).
- held-out: the JOSS papers of bench/data/heldout, never used to fit.

`citing_papers` gives the citing papers of acm-cr-dev and unarxive-sample with their reference
lists (DOIs and arXiv ids), as an index with citation links holds them: each draft's own paper
is among them, and the ranking leaves a draft's own paper out by its title.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tarfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "corpus"
HELDOUT = REPO / "bench" / "data" / "heldout"
ACM = SHARED / "citation-recommendation" / "acm-cr-dev"
SET_NAMES = ("scipy", "economists", "acm", "unarxive", "heldout")


@dataclasses.dataclass
class DraftSet:
    name: str
    root: Path  # workspace root
    files: list[Path]  # draft files whose citations are left out one at a time
    bibs: list[Path]
    heldout: bool = False


def draft_sets(scratch: Path, wanted: set[str]) -> list[DraftSet]:
    sets = []
    scipy = SHARED / "drafts" / "scipy-articles" / "scipy-1.0"
    if "scipy" in wanted and scipy.is_dir():
        from citewise.server.drafts.project import load_draft

        files = [Path(f) for f in load_draft(scipy / "paper.tex").files]
        sets.append(DraftSet("scipy-articles", scipy, files, [scipy / "references.bib"]))
    economists = SHARED / "drafts" / "coding-for-economists"
    if "economists" in wanted and economists.is_dir():
        sets.append(DraftSet("coding-for-economists", economists, sorted(economists.glob("*.qmd")),
                             [economists / "references.bib"]))
    if "acm" in wanted and (ACM / "contexts.topics").is_file():
        root = scratch / "acm-cr-dev"
        files = acm_drafts(root)
        sets.append(DraftSet("acm-cr-dev", root, files, sorted(root.glob("*/paper.bib"))))
    archive = SHARED / "citation-recommendation" / "unarxive-sample" / "unarXive_data_sample.tar.gz"
    if "unarxive" in wanted and archive.is_file():
        root = scratch / "unarxive"
        files = unarxive_drafts(archive, root)
        sets.append(DraftSet("unarxive-sample", root, files, sorted(root.glob("*/paper.bib"))))
    if "heldout" in wanted and HELDOUT.is_dir():
        files = sorted(HELDOUT.glob("*/paper.md"))
        sets.append(DraftSet("held-out JOSS papers", HELDOUT, files, sorted(HELDOUT.glob("*/paper.bib")), heldout=True))
    return sets


_TOPIC = re.compile(r"<num> Number: (\d+)\s*<title>(.*?)\n\s*<desc> Description:\s*(.*?)\s*<narr>", re.S)
_GROUP = re.compile(r"\[(\d+(?:\s*[,;–-]\s*\d+)*)\]")


def acm_drafts(root: Path) -> list[Path]:
    """One Markdown draft per acm-cr-dev citing paper (see the module docstring)."""
    from citewise.bib.model import normalize_doi

    cited = {}  # DOI -> the entry's text as cited_docs.bib has it (a round trip through our writer
    for entry in re.split(r"\n(?=@)", (ACM / "cited_docs.bib").read_text(encoding="utf-8")):  # mangles Qui\~{n}onero)
        doi = re.search(r"\bdoi\s*=\s*\{([^}]*)\}", entry)
        if entry.startswith("@") and doi:
            cited[normalize_doi(doi.group(1))] = entry
    judged: dict[str, dict[int, str]] = defaultdict(dict)  # topic -> reference number -> DOI
    for line in (ACM / "contexts.qrels").read_text(encoding="utf-8").splitlines():
        topic, number, doi, _ = line.split()
        if normalize_doi(doi) in cited:
            judged[topic][int(number)] = normalize_doi(doi)
    papers: dict[str, dict] = {}
    for topic, title, context in _TOPIC.findall((ACM / "contexts.topics").read_text(encoding="utf-8")):
        paper = papers.setdefault(topic[:-3], {"title": " ".join(title.split()), "paragraphs": [], "dois": {}})
        numbers = judged.get(topic, {})
        paper["dois"].update(numbers)

        def cite(match: re.Match, numbers=numbers) -> str:
            keys = [f"@r{n}" for n in _numbers(match.group(1)) if n in numbers]
            return f"[{'; '.join(keys)}]" if keys else ""

        paper["paragraphs"].append(" ".join(_GROUP.sub(cite, context).split()))
    files = []
    for paper_id, paper in sorted(papers.items()):
        if not paper["dois"]:
            continue
        folder = root / paper_id
        folder.mkdir(parents=True, exist_ok=True)
        entries = [re.sub(r"\{\s*[^,]+,", f"{{r{n},", cited[doi], count=1) for n, doi in sorted(paper["dois"].items())]
        (folder / "paper.bib").write_text("\n".join(entries), encoding="utf-8")
        title = paper["title"].replace('"', "'")
        body = "\n\n".join(paper["paragraphs"])
        path = folder / "paper.md"
        path.write_text(f'---\ntitle: "{title}"\nbibliography: paper.bib\n---\n\n{body}\n', encoding="utf-8")
        files.append(path)
    return files


def citing_papers(wanted: set[str]) -> list[tuple[dict, list[str]]]:
    """(paper fields, the identifiers it cites) for the citing papers of acm-cr-dev and unarxive-sample."""
    from citewise.bib.index.citation_links import link_identifier

    papers = []
    if "acm" in wanted and (ACM / "contexts.topics").is_file():
        cites: dict[str, set[str]] = defaultdict(set)
        for line in (ACM / "contexts.qrels").read_text(encoding="utf-8").splitlines():
            topic, _, doi, _ = line.split()
            cites[topic[:-3]].add(link_identifier(doi=doi))
        titles = {topic[:-3]: " ".join(title.split())
                  for topic, title, _ in _TOPIC.findall((ACM / "contexts.topics").read_text(encoding="utf-8"))}
        papers += [({"title": titles[paper]}, sorted(cited)) for paper, cited in sorted(cites.items()) if paper in titles]
    archive = SHARED / "citation-recommendation" / "unarxive-sample" / "unarXive_data_sample.tar.gz"
    if "unarxive" in wanted and archive.is_file():
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".jsonl"):
                    for line in tar.extractfile(member).read().decode().splitlines():
                        paper = json.loads(line)
                        meta = paper["metadata"]
                        cited = {link_identifier(doi=e["ids"].get("doi", ""), arxiv=e["ids"].get("arxiv_id", ""))
                                 for e in paper["bib_entries"].values() if e.get("ids")}
                        papers.append(({"title": " ".join(meta["title"].split()), "abstract": " ".join(meta.get("abstract", "").split()),
                                        "arxiv": meta.get("id", "")}, sorted(cited - {""})))
    return papers


def _numbers(group: str) -> list[int]:
    """`46, 47` -> [46, 47]; `3-6` -> [3, 4, 5, 6]."""
    numbers = []
    for part in re.split(r"\s*[,;]\s*", group):
        ends = [int(n) for n in re.split(r"\s*[–-]\s*", part)]
        numbers.extend(range(ends[0], ends[-1] + 1) if 0 <= ends[-1] - ends[0] < 30 else ends)
    return numbers


def unarxive_drafts(archive: Path, root: Path) -> list[Path]:
    """Each unarXive paper as a Markdown draft with its references as a .bib (see the module docstring)."""
    files = []
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.name.endswith(".jsonl"):
                continue
            for line in tar.extractfile(member).read().decode().splitlines():
                paper = json.loads(line)
                folder = root / paper["paper_id"].replace("/", "_")
                folder.mkdir(parents=True, exist_ok=True)
                keys = {ref_id: f"b{n}" for n, ref_id in enumerate(paper["bib_entries"])}
                bib = []
                for ref_id, entry in paper["bib_entries"].items():
                    title = " ".join(entry["bib_entry_raw"].replace("{", "").replace("}", "").split())
                    ids = entry.get("ids") or {}
                    extra = f"  doi = {{{ids['doi']}}},\n" if ids.get("doi") else ""
                    extra += f"  eprint = {{{ids['arxiv_id']}}},\n  archiveprefix = {{arXiv}},\n" if ids.get("arxiv_id") else ""
                    bib.append(f"@misc{{{keys[ref_id]},\n{extra}  title = {{{title}}}\n}}\n")
                (folder / "paper.bib").write_text("\n".join(bib), encoding="utf-8")
                meta = paper["metadata"]
                abstract = " ".join(meta.get("abstract", "").split()).replace('"', "'")
                title = " ".join(meta["title"].split()).replace('"', "'")
                parts = [f'---\ntitle: "{title}"\nabstract: "{abstract}"\nbibliography: paper.bib\n---\n']
                section = None
                for block in paper["body_text"]:
                    if block.get("section") and block["section"] != section:
                        section = block["section"]
                        parts.append(f"\n# {section}\n")
                    parts.append("\n" + _with_citations(block, keys) + "\n")
                path = folder / "paper.md"
                path.write_text("".join(parts), encoding="utf-8")
                files.append(path)
    return files


def _with_citations(block: dict, keys: dict[str, str]) -> str:
    text, out, at = block["text"], [], 0
    for span in sorted(block.get("cite_spans", []), key=lambda s: s["start"]):
        key = keys.get(span.get("ref_id"))
        out.append(text[at:span["start"]])
        if key:
            out.append(f"[@{key}]")
        at = span["end"]
    out.append(text[at:])
    joined = "".join(out)
    return " ".join(joined.replace("{{formula:", " ").split())
