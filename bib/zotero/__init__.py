"""Zotero: the connection (client.py), pulling a library into the index (sync.py), pushing cited papers
(push.py), keeping .bib entries in step (bibsync.py) and reading an offline `zotero.sqlite` (sqlite_reader.py)."""
