"""The paper index: `Index.open(location)` (store.py) on SQLite or PostgreSQL, hybrid search, embeddings."""
