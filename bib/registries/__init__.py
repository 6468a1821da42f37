"""Scholarly registries: identifiers to complete references, and checks that references are real.

Modules: `identifiers` (what a string names), `http` (the one HTTP client: base URLs, rate
limits, retries, offline mode) with `cache` (SQLite, a time limit per outcome), one module per
registry turning its answers into `records.Work` (`crossref`, `datacite`, `arxiv`, `openalex`,
`openlibrary`, `pubmed`), `lookup` (which registry to ask for what), `matching` (do two
descriptions name the same work), `resolve` (identifier -> reference), `verify` (reference ->
status) and `enrich` (fill the index's incomplete papers).

Concurrency, stated once: callers that check many references run them on a thread pool of at
most `MAX_WORKERS` threads sharing one `RegistryHTTP`; each registry has a gate that spaces its
requests by its documented rate limit, so concurrency never exceeds what a registry allows.
"""

MAX_WORKERS = 4
