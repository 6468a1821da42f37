"""A BERT sentence encoder for sentence-transformers models made of a BERT transformer, mean or
CLS pooling and (optionally) normalization, as the bundled all-MiniLM-L6-v2 is.

Tokens come from `tokenizers`; the embeddings are summed in numpy; the transformer layers run in
ONNX Runtime, from a graph bert_graph.py builds out of the same weights with its matrix products
in int8. Nothing imports torch: importing it costs about 220 MB of memory and 2 s of start-up
holding the GIL (the language server's completions would stall behind it); transformers and
sentence-transformers add 190 MB and 2.5 s more. Its vectors are sentence-transformers' float32
ones to cosine 0.99 on average, at least 0.965 (tests/test_bert.py), and rank papers as well
(bench/bench_retrieval.py). Models of any other shape, and every model on a GPU, go through
sentence-transformers (embed.py).

The weights are memory-mapped from `model.safetensors` (read by `_safetensors`; the
`safetensors` package copies every tensor into memory): the word-embedding table, half of
the bundled model, stays on disk but for the rows of the words met, and the layers' float32
weights are let go once their int8 graph is built (ONNX Runtime keeps its own int8 copy).

Each ONNX Runtime call computes one text on one thread; an encoder given several `threads`
computes that many texts at once (ONNX Runtime lets go of the GIL while it computes). numpy's BLAS
is held to one thread in the process from the first encoder on (threadpoolctl): BLAS's own
threads wait on each other and stall when other processes compete for the cores (4x slower on a
loaded 2-core machine); texts side by side do not.
"""

from __future__ import annotations

import json
import mmap
import struct
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from citewise.bib.index import bert_graph

TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"


def pooling_mode(folder: Path) -> str | None:
    """'mean' or 'cls' when `folder` holds a model this encoder computes, else None."""
    try:
        modules = _json(folder / "modules.json")
        config = _json(folder / "config.json")
        pooling_folder = next(module["path"] for module in modules if module["type"] == POOLING)
        pooling = _json(folder / pooling_folder / "config.json")
        lower_case = _json(folder / "sentence_bert_config.json").get("do_lower_case", False)
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None
    plain_bert = (
        [module["type"] for module in modules] in ([TRANSFORMER, POOLING], [TRANSFORMER, POOLING, NORMALIZE])
        and config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and not lower_case
        and (folder / "tokenizer.json").is_file()
        and (folder / "model.safetensors").is_file()
    )
    modes = {name.removeprefix("pooling_mode_") for name, on in pooling.items() if name.startswith("pooling_mode_") and on}
    if not plain_bert or len(modes) != 1:
        return None
    return {"mean_tokens": "mean", "cls_token": "cls"}.get(modes.pop())


class BertEncoder:
    """Texts -> tokens -> BERT -> pooled, unit-length vectors. Safe to call from several threads."""

    device = "cpu"

    def __init__(self, folder: Path, pooling: str, threads: int = 1):
        """`threads`: how many texts one `encode` computes at once (embed.py's thread count)."""
        import onnxruntime
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        threadpool_limits(1, user_api="blas")  # for the whole process (module docstring)
        config = _json(folder / "config.json")
        self.max_seq_length = min(int(_json(folder / "sentence_bert_config.json").get("max_seq_length", 512)),
                                  int(config["max_position_embeddings"]))
        self.dimension = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._epsilon = float(config["layer_norm_eps"])
        self._pooling = pooling
        self.threads = threads
        mapped, tensors = _safetensors(folder / "model.safetensors")
        weights = {name.removeprefix("bert."): array for name, array in tensors.items()}
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its warnings name graph nodes, nothing a user can act on
        self._session = onnxruntime.InferenceSession(
            bert_graph.build(weights, self._layers, self._heads, self._epsilon), options,
            providers=["CPUExecutionProvider"])
        # The layers' float32 weights were read once, for the graph: their pages leave this process
        # (they stay in the page cache), and the embedding tables' come back as words are met.
        self._weights = {name: array for name, array in weights.items() if name.startswith("embeddings.")}
        mapped.madvise(mmap.MADV_DONTNEED)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()  # tokenizer.json may pad to a fixed length; each text runs alone
        self._tokenizing = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int, max_tokens: int) -> np.ndarray:
        """One unit-length float32 row per text, cut at `max_tokens`.

        Texts are tokenized `batch_size` at a time but computed one by one: a text's int8 products
        are scaled by its own largest value, so in a batch its vector would depend on its
        neighbours (and on their padding). Alone, it needs no padding and runs as fast."""
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), batch_size)

        def encode_batch(start: int) -> None:
            with self._tokenizing:  # the truncation length is a setting of the shared tokenizer
                self._tokenizer.enable_truncation(max_length=max_tokens)
                encodings = self._tokenizer.encode_batch([str(text).strip() for text in texts[start:start + batch_size]])
            for offset, encoding in enumerate(encodings):
                vectors[start + offset] = self._vector(encoding.ids, encoding.type_ids)

        if self.threads > 1 and len(starts) > 1:  # ONNX Runtime lets go of the GIL while it computes
            with ThreadPoolExecutor(min(self.threads, len(starts)), thread_name_prefix="bert") as pool:
                list(pool.map(encode_batch, starts))
        else:
            for start in starts:
                encode_batch(start)
        return vectors

    def _vector(self, ids: list[int], types: list[int]) -> np.ndarray:
        """One text's pooled, unit-length vector: the embeddings summed here, the layers in ONNX Runtime."""
        weight = self._weights
        embedded = (weight["embeddings.word_embeddings.weight"][ids]
                    + weight["embeddings.position_embeddings.weight"][:len(ids)]
                    + weight["embeddings.token_type_embeddings.weight"][types])
        hidden = self._session.run([bert_graph.OUTPUT], {bert_graph.INPUT: embedded[None]})[0][0]
        pooled = hidden[0] if self._pooling == "cls" else hidden.mean(axis=0)
        return np.asarray(pooled / max(float(np.linalg.norm(pooled)), 1e-12), dtype=np.float32)


def _safetensors(path: Path) -> tuple[mmap.mmap, dict[str, np.ndarray]]:
    """The file's read-only mapping and its tensors as float32 arrays, views of it where stored as float32.

    The format: an 8-byte little-endian header length, a JSON header giving each tensor's
    dtype, shape and byte range, then the data."""
    try:
        with path.open("rb") as file:
            data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        (header_length,) = struct.unpack_from("<Q", data)
        header: dict[str, Any] = json.loads(data[8:8 + header_length])
        start = 8 + header_length
        tensors = {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            begin, end = entry["data_offsets"]
            if not 0 <= begin <= end <= len(data) - start:
                raise ValueError(f"{name} lies past the end of the file")
            raw = np.frombuffer(data, dtype=np.uint8, count=end - begin, offset=start + begin)
            kind = entry["dtype"]
            if kind == "F32":
                array = raw.view(np.float32)
            elif kind == "F16":
                array = raw.view(np.float16).astype(np.float32)
            elif kind == "BF16":
                array = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
            elif kind == "I64":
                array = raw.view(np.int64)
            else:
                raise ValueError(f"{name} is stored as {kind}")
            tensors[name] = array.reshape(entry["shape"])
        return data, tensors
    except (struct.error, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, OverflowError,
            MemoryError) as error:
        raise ValueError(f"{path}: not a safetensors file of float tensors ({error})") from None


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
