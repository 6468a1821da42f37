"""BibTeX files: reading with exact spans (reader), writing entries (writer), minimal edits (edit)."""
