"""The reference library: references, BibTeX, citation keys, readers, the index, registries and Zotero sync.

Nothing in this package imports citewise.server, pygls or lsprotocol.
"""
