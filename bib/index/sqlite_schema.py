"""The SQLite index's schema: the tables, and the migrations that bring an older file up to date.

The schema version lives in `PRAGMA user_version`; `Index.open` (store.py) runs the
`MIGRATIONS` from the file's version on, in one transaction, and refuses a file written by a
newer citewise. A change to the schema is a new function appended to `MIGRATIONS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from citewise.bib.index.connection import Database
from citewise.bib.index.embedding_rows import PENDING
from citewise.bib.index.paper_rows import PaperRows, count_every_row_source, family_variants, first_author, title_head
from citewise.bib.model import normalize_title, reference_from_dict


def _schema_1(db: Database) -> None:
    _run_statements(
        db,
        """
        CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE refs (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            doi TEXT NOT NULL,
            arxiv TEXT NOT NULL,
            title_norm TEXT NOT NULL,
            title_head TEXT NOT NULL,
            first_author TEXT NOT NULL,
            year TEXT NOT NULL,
            sources TEXT NOT NULL,
            data TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            embedding BLOB,
            embedded_hash TEXT
        );
        CREATE INDEX refs_key_nocase ON refs(key COLLATE NOCASE);
        CREATE INDEX refs_doi ON refs(doi);
        CREATE INDEX refs_arxiv ON refs(arxiv);
        CREATE INDEX refs_title_head ON refs(title_head);
        CREATE INDEX refs_author_year ON refs(first_author, year);
        CREATE VIRTUAL TABLE refs_fts USING fts5(
            title, authors, abstract, keywords, key,
            tokenize = 'porter unicode61 remove_diacritics 2'
        );
        """
    )


def _run_statements(db: Database, script: str) -> None:
    """Run `;`-separated statements inside the caller's transaction (executescript would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _schema_2(db: Database) -> None:
    """Other keys of a merged paper (a .bib key for a paper first read from a digest), still found by them."""
    db.execute("CREATE TABLE aliases (key TEXT PRIMARY KEY, ref_id INTEGER NOT NULL)")
    db.execute("CREATE INDEX aliases_ref ON aliases(ref_id)")


def _schema_3(db: Database) -> None:
    """Matching columns recomputed with the one ASCII fold (Ødegård matched as odegard, not degard)."""
    rows = db.execute("SELECT id, data FROM refs").fetchall()
    for row_id, data in rows:
        ref = reference_from_dict(json.loads(data))
        title = normalize_title(ref.title)
        db.execute("UPDATE refs SET title_norm = ?, title_head = ?, first_author = ? WHERE id = ?",
                   (title, title_head(title), first_author(ref), row_id))


def _schema_4(db: Database) -> None:
    """Near-duplicate lookup by exact keys (first author, year, end of title), so ingest stays linear."""
    db.execute(f"CREATE INDEX IF NOT EXISTS refs_author_year_tail ON refs(first_author, year, {PaperRows.TITLE_TAIL_SQL})")


def _schema_5(db: Database) -> None:
    """Rows whose vector changed since the HNSW file beside the index was written (ann.py), listed by triggers."""
    db.execute("CREATE TABLE IF NOT EXISTS ann_changes (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL)")
    _change_triggers(db)
    db.execute("INSERT INTO ann_changes(id) SELECT id FROM refs WHERE embedding IS NOT NULL")


def _change_triggers(db: Database) -> None:
    db.execute("CREATE TRIGGER IF NOT EXISTS ann_embedding AFTER UPDATE OF embedding ON refs"
               " BEGIN INSERT INTO ann_changes(id) VALUES (new.id); END")
    db.execute("CREATE TRIGGER IF NOT EXISTS ann_delete AFTER DELETE ON refs BEGIN INSERT INTO ann_changes(id) VALUES (old.id); END")


def _schema_6(db: Database) -> None:
    """Citation links: the works each paper cites, by DOI or arXiv id (citation_links.py)."""
    db.execute("CREATE TABLE IF NOT EXISTS citations (citing INTEGER NOT NULL, cited TEXT NOT NULL,"
               " PRIMARY KEY (citing, cited)) WITHOUT ROWID")
    db.execute("CREATE INDEX IF NOT EXISTS citations_cited ON citations(cited, citing)")


def _schema_7(db: Database) -> None:
    """First authors' family names by their deletion neighbourhood, so a typo finds a name without
    comparing it with every name the index holds."""
    db.execute("CREATE TABLE IF NOT EXISTS family_variants (variant TEXT NOT NULL, family TEXT NOT NULL,"
               " PRIMARY KEY (variant, family)) WITHOUT ROWID")
    for (family,) in db.execute("SELECT DISTINCT first_author FROM refs WHERE first_author != ''").fetchall():
        db.executemany("INSERT OR IGNORE INTO family_variants(variant, family) VALUES (?, ?)",
                       ((variant, family) for variant in sorted(family_variants(family))))


def _schema_8(db: Database) -> None:
    """Duplicate lookup by every column it gives: the title under its first words, the first words
    under author and year (these replace the indexes on title_head and on author and year, which
    they also serve)."""
    db.execute("CREATE INDEX IF NOT EXISTS refs_title_head_norm ON refs(title_head, title_norm)")
    db.execute("CREATE INDEX IF NOT EXISTS refs_author_year_head ON refs(first_author, year, title_head)")
    db.execute("DROP INDEX IF EXISTS refs_title_head")
    db.execute("DROP INDEX IF EXISTS refs_author_year")


def _schema_9(db: Database) -> None:
    """Papers per source, kept by the writes, so `index stats` reads one row per source, not every paper."""
    db.execute("CREATE TABLE IF NOT EXISTS source_counts (source TEXT PRIMARY KEY, papers INTEGER NOT NULL) WITHOUT ROWID")
    count_every_row_source(db)


PAPER_COUNTS = {
    "papers": "1",
    "embedded": "{row}.embedding IS NOT NULL",
    "current": "({row}.embedding IS NOT NULL AND {row}.embedded_hash IS {row}.text_hash)",
    "with_doi": "{row}.doi != ''",
    "with_arxiv": "{row}.arxiv != ''",
    "with_abstract": "coalesce(json_extract({row}.data, '$.abstract'), '') != ''",
}
"""What `paper_counts` counts: the rows for which each expression holds (`row` is refs, `new` or `old`)."""


def _schema_10(db: Database) -> None:
    """Papers, vectors (all and current), DOIs, arXiv ids and abstracts, counted by triggers in the
    transaction of each write, so `index stats` reads one row, not every paper (the vector columns
    only when a vector or text hash is written: a stored vector does not parse the paper's JSON)."""
    columns = ", ".join(f"{name} INTEGER NOT NULL" for name in PAPER_COUNTS)
    db.execute(f"CREATE TABLE IF NOT EXISTS paper_counts ({columns})")
    db.execute("DELETE FROM paper_counts")
    totals = ", ".join(f"coalesce(sum({expression.format(row='refs')}), 0)" for expression in PAPER_COUNTS.values())
    db.execute(f"INSERT INTO paper_counts SELECT {totals} FROM refs")

    def change(names: list[str], sign: str, row: str) -> str:
        return ", ".join(f"{name} = {name} {sign} ({PAPER_COUNTS[name].format(row=row)})" for name in names)

    def both(names: list[str]) -> str:
        return ", ".join(f"{name} = {name} - ({PAPER_COUNTS[name].format(row='old')}) + ({PAPER_COUNTS[name].format(row='new')})"
                         for name in names)

    every, vectors, identifiers = list(PAPER_COUNTS), ["embedded", "current"], ["with_doi", "with_arxiv", "with_abstract"]
    for name, event, assignments in (
        ("paper_counts_insert", "INSERT", change(every, "+", "new")),
        ("paper_counts_delete", "DELETE", change(every, "-", "old")),
        ("paper_counts_vectors", "UPDATE OF embedding, embedded_hash, text_hash", both(vectors)),
        ("paper_counts_identifiers", "UPDATE OF doi, arxiv, data", both(identifiers)),
    ):
        db.execute(f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON refs BEGIN UPDATE paper_counts SET {assignments}; END")


NAMES_TABLE = ("CREATE VIRTUAL TABLE IF NOT EXISTS refs_names USING fts5(title, authors, key, content = '',"
               " prefix = '2 3', tokenize = 'porter unicode61 remove_diacritics 2')")
"""What completion looks words up in (sqlite_queries.word_prefix_ids): the title, authors and key of
each paper, without their text (`content = ''`; refs_fts keeps it) and with the postings of every
two- and three-letter prefix merged in advance. Looked up in refs_fts under a column filter, a
word's postings include its every abstract, and a typed prefix merged the postings of every word
it stands for before the first row (time growing with the index: 11–38 ms at 1M papers)."""


def _schema_11(db: Database) -> None:
    """Completion's words in a table of their own, with prefix indexes (NAMES_TABLE)."""
    db.execute(NAMES_TABLE)
    db.execute("INSERT INTO refs_names(rowid, title, authors, key) SELECT rowid, title, authors, key FROM refs_fts")


def _schema_12(db: Database) -> None:
    """The change list's sequence numbers never come back (AUTOINCREMENT): a sync that forgets every
    change would otherwise restart them at 1, and a reader that had read up to change 40 would take
    the new list's first 40 changes for ones it had read (ann.py's `ListedRows`). And lookups by
    row: a search of a large index leaves out the graph's candidates that the list names, a few
    hundred rows against a list that may hold millions."""
    db.execute("DROP TRIGGER IF EXISTS ann_embedding")
    db.execute("DROP TRIGGER IF EXISTS ann_delete")
    db.execute("CREATE TABLE ann_changes_new (seq INTEGER PRIMARY KEY AUTOINCREMENT, id INTEGER NOT NULL)")
    db.execute("INSERT INTO ann_changes_new(seq, id) SELECT seq, id FROM ann_changes")
    db.execute("DROP TABLE ann_changes")
    db.execute("ALTER TABLE ann_changes_new RENAME TO ann_changes")
    _change_triggers(db)
    db.execute("CREATE INDEX ann_changes_id ON ann_changes(id)")


def _schema_13(db: Database) -> None:
    """The rows waiting for a vector, listed by triggers in `pending_rows`: an embedding run reads
    them from there, where it read every row of the index to find them (2.0 s warm, 15.4 s cold at
    1M papers, each time the language server embedded a few new papers). The list is filled from
    the rows only when the counts (schema 10) show some waiting: a fully embedded index of any size
    migrates at once."""
    db.execute("CREATE TABLE IF NOT EXISTS pending_rows (id INTEGER PRIMARY KEY)")
    if db.execute("SELECT papers - current FROM paper_counts").fetchone()[0]:
        db.execute(f"INSERT OR IGNORE INTO pending_rows(id) SELECT id FROM refs WHERE {PENDING.format(row='refs')}")
    waiting = PENDING.format(row="new")
    for name, event, condition, action in (
        ("pending_insert", "INSERT", waiting, "INSERT OR IGNORE INTO pending_rows(id) VALUES (new.id)"),
        ("pending_update", "UPDATE OF embedding, embedded_hash, text_hash", waiting,
         "INSERT OR IGNORE INTO pending_rows(id) VALUES (new.id)"),
        ("pending_done", "UPDATE OF embedding, embedded_hash, text_hash", f"NOT {waiting}",
         "DELETE FROM pending_rows WHERE id = new.id"),
        ("pending_delete", "DELETE", "1", "DELETE FROM pending_rows WHERE id = old.id"),
    ):
        db.execute(f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON refs WHEN {condition} BEGIN {action}; END")


def _schema_14(db: Database) -> None:
    """An index on the year. Completion of a typed year (`year_ids`) read every paper's year when
    few or none had it (at 1M papers 70 ms warm and 1.3 s cold per keystroke, for "2027"), and a
    search limited to years cast every paper's year (159–267 ms at 1M). Building it reads the
    table once: 11.5 s for the 1M benchmark index."""
    db.execute("CREATE INDEX IF NOT EXISTS refs_year ON refs(year)")


MIGRATIONS: list[Callable[[Database], None]] = [_schema_1, _schema_2, _schema_3, _schema_4, _schema_5, _schema_6,
                                                _schema_7, _schema_8, _schema_9, _schema_10, _schema_11, _schema_12,
                                                _schema_13, _schema_14]
SCHEMA_VERSION = len(MIGRATIONS)
COUNTS_SCHEMA = 10  # from this version on, the writes keep `paper_counts` and `source_counts`
