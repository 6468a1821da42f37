"""`verify`: every reference of drafts or .bib files checked against the registries.

`verify_paths(paths, offline=...)` is the one entry point (the CLI, the MCP server and the
language server call it): a draft contributes the entries it cites from its .bib files, a .bib
file every entry. Each entry gets one `Finding` `{file, line, key, status, detail, fix}`;
`file`/`line` point at the entry in its .bib file. Entries repeating an earlier one under
another key are `duplicate` (not looked up again); the rest are checked on a bounded thread
pool (see `citewise.bib.registries`). Nothing is written anywhere: `fix` only proposes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from citewise.bib.bibtex.reader import entry_to_reference, read_bib_file
from citewise.bib.bibtex.writer import format_entry
from citewise.bib.errors import CitewiseError
from citewise.bib.model import Reference
from citewise.bib.registries import MAX_WORKERS
from citewise.bib.registries.lookup import Registries
from citewise.bib.registries.verify import PROBLEMS, check_reference, find_duplicates
from citewise.server.drafts.suffixes import DRAFT_FORMATS


@dataclass
class Finding:
    file: str
    line: int
    key: str
    status: str
    detail: str
    fix: dict | None = None
    """`{"title", "key", "entry"}` (the BibTeX entry to put in place of this one), or for a
    duplicate `{"title", "keep", "remove", "citations"}`: cite `keep` wherever `remove` is cited
    (`citations`: `{file, line, column}`, 1-based, of each `remove` in the drafts checked), drop `remove`."""

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def is_problem(self) -> bool:
        return self.status in PROBLEMS


def verify_paths(
    paths: Iterable[str | Path],
    offline: bool = False,
    registries: Registries | None = None,
    known: Callable[[Reference], str] | None = None,
    errors: list[str] | None = None,
) -> list[Finding]:
    """Findings for every entry the drafts cite, or every entry of the .bib files, in file order.

    `registries` defaults to one opened from the environment (and closed again); `known(ref)`
    may vouch for a reference from the user's library when the registries cannot answer;
    problems reading inputs are appended to `errors` as `file:line: message` lines.
    """
    errors = errors if errors is not None else []
    cited_at: dict[str, list[dict]] = {}
    refs = collect_references(paths, errors, cited_at)
    own = registries is None
    registries = registries or Registries.open(offline=offline)
    try:
        findings = check_all(refs, registries, known)
    finally:
        if own:
            registries.close()
    for finding in findings:
        if finding.status == "duplicate" and finding.fix:
            finding.fix["citations"] = cited_at.get(finding.key.lower(), [])
    return findings


def collect_references(paths: Iterable[str | Path], errors: list[str], cited_at: dict[str, list[dict]] | None = None) -> list[Reference]:
    """The entries to check, each once (by .bib file and key), with their origin file and line;
    `cited_at` gets, by lower-cased key, where the drafts cite it (`{file, line, column}`, 1-based)."""
    from citewise.server.drafts.project import language_of, load_draft

    cited_at = cited_at if cited_at is not None else {}
    chosen: dict[tuple[str, str], Reference] = {}
    for path in paths:
        path = Path(path)
        try:
            if path.suffix.lower() == ".bib":
                for ref in _bib_references(path, errors):
                    chosen.setdefault((ref.origin.source, ref.key), ref)
            elif language_of(path) is not None:
                draft = load_draft(path)
                errors.extend(draft.errors)
                library = {}
                for bib in draft.bib_files:
                    for ref in _bib_references(Path(bib), errors):
                        library.setdefault(ref.key.lower(), ref)
                for citation in draft.citations:
                    for use in citation.keys:
                        site = {"file": citation.file or str(path), "line": use.line + 1, "column": use.col + 1}
                        if site not in cited_at.setdefault(use.key.lower(), []):
                            cited_at[use.key.lower()].append(site)
                for key in draft.cited_keys():
                    ref = library.get(key.lower())
                    if ref is not None:
                        chosen.setdefault((ref.origin.source, ref.key), ref)
            else:
                errors.append(f"{path}: not a {DRAFT_FORMATS} draft or a .bib file")
        except CitewiseError as error:
            errors.append(str(error))
    return list(chosen.values())


def _bib_references(path: Path, errors: list[str]) -> list[Reference]:
    bib = read_bib_file(path)
    errors.extend(str(error) for error in bib.errors)
    return [entry_to_reference(entry, str(path)) for entry in bib.entries]


def check_all(refs: list[Reference], registries: Registries, known: Callable[[Reference], str] | None = None,
              checked: Collection[int] = ()) -> list[Finding]:
    """One finding per reference, in the order given, except those whose positions are in
    `checked` (checked before: not looked up again, but a later reference may repeat them)."""
    duplicates = {id(dup): (kept, why) for kept, dup, why in find_duplicates(refs)}
    wanted = [ref for i, ref in enumerate(refs) if i not in checked]
    to_check = [ref for ref in wanted if id(ref) not in duplicates]
    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
        checks = dict(zip(map(id, to_check), pool.map(lambda ref: check_reference(ref, registries, known), to_check)))
    findings = []
    for ref in wanted:
        origin = ref.origin
        file, line = (origin.source, origin.line or 0) if origin else ("", 0)
        if id(ref) in duplicates:
            kept, why = duplicates[id(ref)]
            fix = {"title": f"Merge into {kept.key}", "keep": kept.key, "remove": ref.key}
            findings.append(Finding(file, line, ref.key, "duplicate", f"{kept.key} is the same work ({why})", fix))
            continue
        check = checks[id(ref)]
        fix = None
        if check.fix is not None:
            fix = {"title": check.fix_title, "key": ref.key, "entry": format_entry(check.fix)}
        findings.append(Finding(file, line, ref.key, check.status, check.detail, fix))
    return findings


def library_lookup(index_path: Path) -> Callable[[Reference], str] | None:
    """`known(ref)` for `verify_paths`: "your Zotero library" when the index at `index_path`
    holds the work from a Zotero sync. Each call opens its own connection (checks run on a pool)."""
    if not index_path.is_file():
        return None

    def known(ref: Reference) -> str:
        from citewise.bib.index.store import Index

        with Index.open(index_path, create=False) as index:
            key = index.find_duplicate(ref)
            stored = index.get(key) if key else None
        return "your Zotero library" if stored is not None and stored.zotero_key else ""

    return known
