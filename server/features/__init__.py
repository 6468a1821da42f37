"""Language-server features as plain data: what the protocol layer (server/lsp/) calls.

Nothing here imports pygls or lsprotocol; every function takes a `Workspace`, a document
URI (or plain path) and LSP-style positions, and returns plain dataclasses.

Coordinates. `Pos(line, col)` and `Range(start, end)` (positions.py) are LSP coordinates:
0-based line, column in UTF-16 code units, exactly what `lsprotocol.types.Position`
carries. Positions past the end of a line or file are clamped, never an error.
Edits name plain paths, not URIs. A path that does not exist on disk yet (a new
`references.bib`) must be created by the protocol layer (CreateFile, ignoreIfExists)
before its edits are applied.

Signatures (stable; the protocol engineer codes against these):

    settings.py    Settings(...) dataclass; parse_settings(raw, base=None) -> (Settings, warnings)
    workspace.py   Workspace(roots, settings=None, lanes=None)
                     .open_document / .update_document(uri, text, version=None) / .close_document(uri)
                     .document(uri) -> Document(uri, path, text, language, version, generation) | None
                     .draft_for(uri) -> Draft ; .bib_files_for(uri) -> list[BibFile]
                     .reload_bib(path, wait=True) -> BibState | None  re-parse (fields on the `files`
                        lane with wait=False)
                     .file_changed(uri) -> list[str]  re-reads a known .bib on the `files` lane (the
                        old parse answers meanwhile); returns paths whose diagnostics to republish
                     .drafts_using(bib_path) -> list[str]
                     .update_settings(settings) ; .settings
                     .index -> Index | None (opened lazily) ; .searcher -> Searcher | None
                     .load_model() blocking, run it on the `model` lane ; .model_ready
                     .status() -> WorkspaceStatus
                     parts: .documents (open_documents.py), .drafts (draft_catalog.py),
                     .bibs (bibliographies.py), .papers (papers.py: index, searcher, model)
    positions.py   Pos, Range, TextEdit(range, new_text), FileEdit(path, range, new_text),
                   Location(path, range), Command(title, name, arguments),
                   LspLineIndex(text) (offset <-> Pos, UTF-16 aware)
    completion.py  complete(ws, uri, pos) -> list[CompletionCandidate]
                     CompletionCandidate(key, detail, documentation_md, filter_text, sort_text,
                                         in_bib,
                                         insert_text  (use as textEdit.newText: "@key" in Pandoc after "; "),
                                         replace_range: Range (the key being typed: textEdit range),
                                         additional_text_edits: list[TextEdit] (same document: a
                                            bibliography declaration when the draft has none),
                                         score)
                     The list is always partial: send CompletionList(is_incomplete=True).
                     warm_up(ws, uri, wait=False): parse the draft's .bib files, build candidate
                       tables, start embedding entry titles once the model is loaded (call on didOpen)
                     documentation(ws, uri, key) -> str | None   the Markdown card (completionItem/resolve)
    identifier_completion.py complete(ws, uri, pos), documentation(ws, uri, key): the same, with the
                     entry of a DOI or arXiv id typed as the key first (what the protocol layer calls)
    accept.py      accepted_papers(ws, uri) -> AcceptedPapers(uri, refs, leftovers) | None;
                   entry_edits(ws, accepted), draft_edits(ws, accepted) -> VersionedEdits(edits, versions)
                     after a change: the .bib entries of index papers completion offered and the
                     change cited (send as workspace/applyEdit); forget_offers(ws, uri) on close
    suggestions.py suggest(ws, uri, pos) -> SuggestionSet(uri, range, items: list[SuggestionItem(
                                         key, title, authors, year, score, in_bib, reason)])
                   embed_ahead(ws, uri, pos) -> Future | None: embeds what suggest will query with on
                     the `queries` lane (await it between the two calls: completions go meanwhile)
    hover.py       hover(ws, uri, pos) -> HoverInfo(markdown, range) | None
    navigation.py  definition(ws, uri, pos) -> list[Location] ; references(ws, uri, pos) -> list[Location]
                   prepare_rename(ws, uri, pos) -> Range | None
                   rename(ws, uri, pos, new_key) -> dict[path, list[TextEdit]]   (CitewiseError on a bad key)
                   bib_symbols(ws, uri) -> list[Symbol] ; workspace_symbols(ws, query) -> list[Symbol]
                     Symbol(name, detail, kind "entry"|"paper", location: Location | None,
                            selection: Range | None (the key inside location.range))
                     (location None: the paper is only in the index, in no file)
    diagnostics.py diagnostics(ws, uri) -> list[Problem(range, severity, message, code, data)]
                     severity "error"|"warning"|"info"|"hint"; codes: undefined-key, duplicate-key,
                     unused-entry, bib-syntax, claim-without-citation; data is a JSON-ready dict
                     (round-trip it through Diagnostic.data so code_actions can read it back).
                     With the `verify` setting, reference_checks.verify_problems and
                     fit_checks.fit_problems add `verify-<status>` and `verify-weak-fit` problems.
    actions.py     code_actions(ws, uri, range, problems) -> list[Action(title, kind, edits, command)]
                     kind "quickfix" | "refactor"; edits: dict[path, list[TextEdit]];
                     command: Command(title, name, arguments) | None (run after the edit)
    commands.py    insert_citation(ws, uri, pos, key_or_ref) -> dict[path, list[TextEdit]]
                   generate_bib(ws, uri) -> str (path written)
                   search_papers(ws, query, k=10) -> list[dict]
                   reindex(ws, on_progress(message, percent|None), is_cancelled() -> bool) -> dict
                     (raises commands.Cancelled, a CitewiseError, when cancelled; work so far is kept)
                   enrich_index(ws, on_progress, is_cancelled, limit=None) -> EnrichSummary
                   sync_zotero(ws, on_progress(message, percent|None)) -> dict
                   push_to_zotero(ws, key) -> str   (command name "citewise.pushToZotero", args [key])
                   status(ws) -> WorkspaceStatus

Every module of this package, with its job, is listed in README.md's Layout section.

Threads: see background.py, the one statement of the concurrency model. Every feature runs
on the `features` thread except these, which the protocol layer runs on a lane:
`Workspace.load_model` on `model`; `commands.reindex`, `enrich_index`, `sync_zotero` and
`push_to_zotero` on `jobs` (they open their own index connection or touch none);
`reference_checks.check_entries` on `registries`; `identifier_completion.resolve` and
`reference_checks.resolve_identifier` on `lookups`; `fit_checks.run_fit_job` on `embed`.
"""
