"""The paper service: the index, its searcher and the embedding model.

The index opens on first use, on the features thread (its SQLite connection belongs
there). The searcher ranks lexically and fuzzily until `load_model()` (seconds; run on the
`model` lane) publishes an embedder, which the searcher adopts on its next use on the
features thread. Caches over index data key on `revision()`, which changes with every
write to the index, from this process or another (reindex, Zotero sync, `index add`).
The index's vector matrix is read on the `model` lane once the model is loaded, and read
again on the `vectors` lane after each write, while the one before keeps answering: the
features thread never reads 100,000 vectors itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citewise.bib.errors import CitewiseError
from citewise.bib.index.location import display_location, index_exists, is_database_url, resolve_index_path
from citewise.server.features.background import Lanes, keep_for_good

if TYPE_CHECKING:  # the index pulls in numpy; the model torch: neither on the import path
    from citewise.bib.index.search import Searcher
    from citewise.bib.index.store import Index


@dataclass(frozen=True)
class ModelState:
    """What caches that depend on the model key on: its name, and whether it is in use."""

    name: str
    ready: bool


# Encoded once on the `model` lane before the model is published: the first encoding reads the
# memory-mapped weights for the first time (250-300 ms of page faults and first numpy calls
# under load, 50 ms on a quiet machine), which would otherwise fall in the first completion that
# ranks densely, on the features thread.
WARM_UP_TEXT = "A first sentence to encode, so that every weight of the model has been read once."


class Papers:
    def __init__(self, index_path: str | None, model: str, lanes: Lanes | None = None):
        self._lanes = lanes
        self._index_setting = index_path
        self._model_name = model
        self._index: Index | None = None
        self._index_checked = False
        self._searcher: Searcher | None = None
        self._embedder: Any = None
        self.problem: str | None = None

    def configure(self, index_path: str | None, model: str) -> None:
        """New settings: a different index path closes the open one."""
        if index_path != self._index_setting:
            self.close()
        self._index_setting = index_path
        self._model_name = model

    @property
    def index_path(self) -> Path | str:
        """A path, or a PostgreSQL URL."""
        return resolve_index_path(self._index_setting)

    @property
    def index(self) -> Index | None:
        """The index, opened on first use; None when no index file exists yet."""
        if not self._index_checked:
            self._index_checked = True
            path = self.index_path
            if index_exists(path):
                from citewise.bib.index.store import READER_CACHE_KIB, Index

                try:
                    self._index = Index.open(path, create=False, page_cache_kib=READER_CACHE_KIB)
                except Exception as error:  # a broken index must not take the server down
                    self.problem = f"cannot open index {display_location(path)}: {error}"
                    self._index = None
                if self._index is not None and self._lanes is not None and not is_database_url(path):
                    lanes = self._lanes
                    self._index.reload_vectors_with = lambda job: lanes.submit("vectors", job)
        return self._index

    def revision(self) -> int:
        """The index's revision (-1 without an index): what index-derived caches key on."""
        index = self.index
        return index.revision() if index is not None else -1

    @property
    def searcher(self) -> Searcher | None:
        """The index searcher; it turns hybrid on the first call after `load_model` finished."""
        if self._searcher is None and self.index is not None:
            from citewise.bib.index.search import Searcher

            self._searcher = Searcher(self.index)
        if self._searcher is not None and self._embedder is not None and self._searcher.embedder is None:
            try:
                self._searcher.set_embedder(self._embedder)
            except CitewiseError as error:  # index embedded with another model: stay lexical, say why
                self.problem = str(error)
                self._embedder = None
        return self._searcher

    def keys_like(self, key: str) -> list[str]:
        """Index keys a typo or two from `key` may be among (indexed lookups, not every key)."""
        index = self.index
        return index.keys_like(key) if index is not None else []

    def index_changed(self) -> None:
        """Another connection wrote the index. An open connection sees the commits by itself
        (caches follow `revision()`); a missing index is looked for again on next use."""
        if self._index is None:
            self._index_checked = False

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
        self._index = None
        self._index_checked = False
        self._searcher = None

    def load_model(self, embedder: Any = None, model: str | None = None) -> None:
        """Load the embedding model (`model`, else the setting's; seconds; torch only for a model
        bib/index/bert.py does not run), or adopt an `embedder` already loaded. Runs on the `model`
        lane; publishes the embedder with one assignment."""
        if embedder is not None:
            self._embedder = embedder
            return
        from citewise.bib.index.embed import QUERY_THREADS, Embedder

        try:
            embedder = Embedder.load(model or self._model_name, threads=QUERY_THREADS)
            embedder.encode([WARM_UP_TEXT])
        except Exception as error:  # reported through status(); lexical search keeps working
            self.problem = f"embedding model unavailable: {error}"
            raise
        finally:
            keep_for_good()  # what was imported, even when the model then failed to load, stays for good
        index = self._index
        if index is not None and index.reload_vectors_with is not None:
            index.load_vectors(embedder.dimension, embedder.name)  # before the first dense search asks for them
        self._embedder = embedder

    @property
    def embedder(self) -> Any:
        return self._embedder

    @property
    def model_ready(self) -> bool:
        return self._embedder is not None and (self._searcher is None or self._searcher.embedder is not None)

    def model_state(self) -> ModelState:
        return ModelState(getattr(self._embedder, "name", self._model_name), self.model_ready)
