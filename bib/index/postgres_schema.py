"""The PostgreSQL index's schema: its tables and the migrations that bring an older database up to date.

The version lives in the meta table's `schema_version`; `PostgresIndex` (postgres.py) runs the
`MIGRATIONS` from it on, in one transaction under an advisory lock, on every open. A change to
the schema is a new function appended to `MIGRATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable

from citewise.bib.index.connection import Database
from citewise.bib.index.embedding_rows import PENDING
from citewise.bib.index.paper_rows import TITLE_TAIL_CHARS, count_every_row_source

TITLE_TAIL_SQL = f"right(title_norm, {TITLE_TAIL_CHARS})"
"""The last `TITLE_TAIL_CHARS` characters of the normalised title (PaperRows.TITLE_TAIL_SQL)."""


def _schema_1(db: Database) -> None:
    for statement in (
        "CREATE EXTENSION IF NOT EXISTS vector",
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        """CREATE TABLE refs (
            id BIGSERIAL PRIMARY KEY,
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
            embedding HALFVEC,
            embedded_hash TEXT,
            title TEXT NOT NULL DEFAULT '',
            authors TEXT NOT NULL DEFAULT '',
            words TSVECTOR,
            names TSVECTOR
        )""",
        "CREATE INDEX refs_key_lower ON refs (lower(key) text_pattern_ops)",
        "CREATE INDEX refs_doi ON refs (doi)",
        "CREATE INDEX refs_arxiv ON refs (arxiv)",
        "CREATE INDEX refs_title_head ON refs (title_head)",
        "CREATE INDEX refs_author_year ON refs (first_author, year)",
        "CREATE INDEX refs_words ON refs USING gin (words)",
        "CREATE INDEX refs_names ON refs USING gin (names)",
        "CREATE INDEX refs_first_author_trgm ON refs USING gin (first_author gin_trgm_ops)",
        "CREATE TABLE aliases (key TEXT PRIMARY KEY, ref_id BIGINT NOT NULL)",
        "CREATE INDEX aliases_ref ON aliases (ref_id)",
    ):
        db.execute(statement)


def _schema_2(db: Database) -> None:
    """Near-duplicate lookup by exact keys (first author, year, end of title), as in SQLite."""
    db.execute(f"CREATE INDEX IF NOT EXISTS refs_author_year_tail ON refs (first_author, year, {TITLE_TAIL_SQL})")


def _schema_3(db: Database) -> None:
    """Citation links, as in SQLite (citation_links.py)."""
    db.execute("CREATE TABLE IF NOT EXISTS citations (citing BIGINT NOT NULL, cited TEXT NOT NULL, PRIMARY KEY (citing, cited))")
    db.execute("CREATE INDEX IF NOT EXISTS citations_cited ON citations (cited, citing)")


def _schema_4(db: Database) -> None:
    """Duplicate lookup by every column it gives, as in SQLite (its schema 8)."""
    db.execute("CREATE INDEX IF NOT EXISTS refs_title_head_norm ON refs (title_head, title_norm)")
    db.execute("CREATE INDEX IF NOT EXISTS refs_author_year_head ON refs (first_author, year, title_head)")
    db.execute("DROP INDEX IF EXISTS refs_title_head")
    db.execute("DROP INDEX IF EXISTS refs_author_year")


def _schema_5(db: Database) -> None:
    """First authors' family names, once each, under pg_trgm: a typo's trigram match reads names,
    not every paper by a matched name (the trigram index on refs.first_author did)."""
    db.execute("CREATE TABLE IF NOT EXISTS families (family TEXT PRIMARY KEY)")
    db.execute("INSERT INTO families SELECT DISTINCT first_author FROM refs WHERE first_author <> '' ON CONFLICT DO NOTHING")
    db.execute("CREATE INDEX IF NOT EXISTS families_trgm ON families USING gin (family gin_trgm_ops)")
    db.execute("DROP INDEX IF EXISTS refs_first_author_trgm")


def _schema_6(db: Database) -> None:
    """Papers per source, kept by the writes, as in SQLite (its schema 9)."""
    db.execute("CREATE TABLE IF NOT EXISTS source_counts (source TEXT PRIMARY KEY, papers BIGINT NOT NULL)")
    count_every_row_source(db)


# What `paper_counts` counts (the names of sqlite_schema.PAPER_COUNTS), for `row` as refs or a transition table.
PAPER_COUNTS = {
    "papers": "TRUE",
    "embedded": "{row}.embedding IS NOT NULL",
    "current": "({row}.embedding IS NOT NULL AND {row}.embedded_hash IS NOT DISTINCT FROM {row}.text_hash)",
    "with_doi": "{row}.doi <> ''",
    "with_arxiv": "{row}.arxiv <> ''",
    "with_abstract": "coalesce({row}.data::json->>'abstract', '') <> ''",
}


def _schema_7(db: Database) -> None:
    """Papers, vectors, DOIs, arXiv ids and abstracts, counted in the transaction of each write, as in
    SQLite (its schema 10). Statement triggers read the rows a statement changed (transition
    tables), so clearing a million vectors updates the count once, not a million times; an update
    parses the JSON of the rows whose data it changed only."""
    columns = ", ".join(f"{name} BIGINT NOT NULL" for name in PAPER_COUNTS)
    db.execute(f"CREATE TABLE IF NOT EXISTS paper_counts ({columns})")
    db.execute("DELETE FROM paper_counts")
    db.execute(f"INSERT INTO paper_counts SELECT {_totals('refs')} FROM refs")
    added = ", ".join(f"{name} = paper_counts.{name} + d.{name}" for name in PAPER_COUNTS)
    removed = ", ".join(f"{name} = paper_counts.{name} - d.{name}" for name in PAPER_COUNTS)
    changed = ", ".join(
        f"{name} = paper_counts.{name} + d.{name}" for name in PAPER_COUNTS if name != "papers")
    deltas = ", ".join(
        f"coalesce(sum(({_delta(name)})), 0) AS {name}" for name in PAPER_COUNTS if name != "papers")
    db.execute(f"""CREATE OR REPLACE FUNCTION paper_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                UPDATE paper_counts SET {added} FROM (SELECT {_totals('n')} FROM new_rows n) d;
            ELSIF TG_OP = 'DELETE' THEN
                UPDATE paper_counts SET {removed} FROM (SELECT {_totals('o')} FROM old_rows o) d;
            ELSE
                UPDATE paper_counts SET {changed} FROM (SELECT {deltas} FROM old_rows o JOIN new_rows n ON n.id = o.id) d;
            END IF;
            RETURN NULL;
        END $$""")
    for event, tables in (("INSERT", "NEW TABLE AS new_rows"), ("DELETE", "OLD TABLE AS old_rows"),
                          ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows")):
        db.execute(f"DROP TRIGGER IF EXISTS paper_counts_{event.lower()} ON refs")
        db.execute(f"CREATE TRIGGER paper_counts_{event.lower()} AFTER {event} ON refs REFERENCING {tables}"
                   " FOR EACH STATEMENT EXECUTE FUNCTION paper_counts_change()")


def _totals(row: str) -> str:
    return ", ".join(f"count(*) FILTER (WHERE {expression.format(row=row)}) AS {name}"
                     for name, expression in PAPER_COUNTS.items())


def _delta(name: str) -> str:
    """One updated row's change to a count (the abstract's only when the row's data changed)."""
    change = f"({PAPER_COUNTS[name].format(row='n')})::int - ({PAPER_COUNTS[name].format(row='o')})::int"
    return f"CASE WHEN n.data = o.data THEN 0 ELSE {change} END" if name == "with_abstract" else change


def _schema_8(db: Database) -> None:
    """The rows waiting for a vector in an index of their own (partial: `PENDING_ROWS_SQL` seeks
    them), where an embedding run read every row to find them, as SQLite lists them (its schema 13)."""
    db.execute(f"CREATE INDEX IF NOT EXISTS refs_pending ON refs (id) WHERE {PENDING.format(row='refs')}")


def _schema_9(db: Database) -> None:
    """An index on the year, as SQLite's (its schema 14): completion of a typed year read the
    table until it found the papers of that year, all of it for a year few papers have."""
    db.execute("CREATE INDEX IF NOT EXISTS refs_year ON refs (year)")


PENDING_ROWS_SQL = f"SELECT id, data FROM refs WHERE id > ? AND {PENDING.format(row='refs')} ORDER BY id"
"""The rows waiting for a vector past an id, in order (`EmbeddingRows.needing_embedding`), read through refs_pending."""

MIGRATIONS: list[Callable[[Database], None]] = [_schema_1, _schema_2, _schema_3, _schema_4, _schema_5, _schema_6,
                                                _schema_7, _schema_8, _schema_9]
SCHEMA_VERSION = len(MIGRATIONS)
