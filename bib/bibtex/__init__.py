"""BibTeX files: reading with exact spans (reader, over scan, rescan, parse and cache), writing
entries (writer, with names and latex), minimal edits (edit), @strings across files (bibliography)."""
