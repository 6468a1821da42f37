"""A BERT sentence encoder in numpy, for sentence-transformers models made of a BERT
transformer, mean or CLS pooling and (optionally) normalization, as the bundled
all-MiniLM-L6-v2 is.

It computes the same vectors as sentence-transformers (tests/test_bert.py compares them)
while importing only numpy and `tokenizers`. Importing torch costs about 220 MB of memory
and 2 s of start-up holding the GIL (the language server's completions would stall behind
it); transformers and sentence-transformers add 190 MB and 2.5 s more. Models of any other
shape, and every model on a GPU, go through sentence-transformers (embed.py).

The weights are memory-mapped from `model.safetensors` (read by `_safetensors`; the
`safetensors` package copies every tensor into memory): the word-embedding table, half of
the bundled model, stays on disk but for the rows of the words met.

Matrix products run on numpy's BLAS, held to one thread in the process from the first
encoder on (threadpoolctl): an encoder given several `threads` computes that many batches at
once instead. BLAS's own threads wait on each other and stall when other processes compete
for the cores (4x slower on a loaded 2-core machine); batches side by side do not.
"""

from __future__ import annotations

import json
import math
import mmap
import struct
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"
# Abramowitz & Stegun 7.1.26: erf(x) = 1 - t(a1 + t(a2 + ...)) exp(-x²), t = 1/(1 + p x), x ≥ 0;
# absolute error ≤ 1.5e-7, below float32's own rounding of BERT's activations.
ERF_P = 0.3275911
ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
# Element-wise work goes in slices that stay in the CPU's cache: rows of the feed-forward
# activations per GELU pass, attention scores per softmax (1 MB).
GELU_ROWS = 32
SCORES_PER_SLICE = 1 << 18


def pooling_mode(folder: Path) -> str | None:
    """'mean' or 'cls' when `folder` holds a model this encoder computes exactly, else None."""
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
        """`threads`: how many batches one `encode` computes at once (embed.py's thread count)."""
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
        self._weights = {name.removeprefix("bert."): array
                         for name, array in _safetensors(folder / "model.safetensors").items()}
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        self._tokenizing = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int, max_tokens: int) -> np.ndarray:
        """One unit-length float32 row per text, cut at `max_tokens`; batches hold texts of similar length."""
        order = sorted(range(len(texts)), key=lambda position: -len(texts[position]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]

        def encode_batch(batch: list[int]) -> None:
            vectors[batch] = self._encode_batch([str(texts[position]).strip() for position in batch], max_tokens)

        if self.threads > 1 and len(batches) > 1:  # numpy lets go of the GIL while it computes
            with ThreadPoolExecutor(min(self.threads, len(batches)), thread_name_prefix="bert") as pool:
                list(pool.map(encode_batch, batches))
        else:
            for batch in batches:
                encode_batch(batch)
        return vectors

    def _encode_batch(self, texts: list[str], max_tokens: int) -> np.ndarray:
        with self._tokenizing:  # the truncation length is a setting of the shared tokenizer
            self._tokenizer.enable_truncation(max_length=max_tokens)
            encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        types = np.array([encoding.type_ids for encoding in encodings], dtype=np.int64)
        mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.float32)
        hidden = self._forward(ids, types, mask)
        if self._pooling == "cls":
            pooled = hidden[:, 0]
        else:
            pooled = np.einsum("blw,bl->bw", hidden, mask) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.asarray(pooled / norms, dtype=np.float32)

    def _forward(self, ids: np.ndarray, types: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The BERT encoder's last hidden states, as in the original architecture (inference only)."""
        weight = self._weights
        batch, length = ids.shape
        hidden = (weight["embeddings.word_embeddings.weight"][ids]
                  + weight["embeddings.position_embeddings.weight"][:length]
                  + weight["embeddings.token_type_embeddings.weight"][types]).reshape(batch * length, -1)
        hidden = self._layer_norm(hidden, "embeddings.LayerNorm")
        # Padding takes no attention: -inf before the softmax.
        ignore = np.where(mask > 0, np.float32(0), np.float32(-np.inf))[:, None, None, :]
        for layer in range(self._layers):
            hidden = self._layer(hidden, batch, ignore, f"encoder.layer.{layer}.")
        return hidden.reshape(batch, length, -1)

    def _layer(self, hidden: np.ndarray, batch: int, ignore: np.ndarray, prefix: str) -> np.ndarray:
        """Self-attention, then the feed-forward block, each added to its input and layer-normalized.
        `hidden` holds the batch's tokens as rows (batch × length, width)."""
        rows, width = hidden.shape
        length, head_width = rows // batch, width // self._heads

        def per_head(name: str) -> np.ndarray:
            projected = self._linear(hidden, f"{prefix}attention.self.{name}")
            return projected.reshape(batch, length, self._heads, head_width).transpose(0, 2, 1, 3)

        query, key, value = per_head("query"), per_head("key").transpose(0, 1, 3, 2), per_head("value")
        context = np.empty((batch, length, self._heads, head_width), dtype=np.float32)
        step = max(1, SCORES_PER_SLICE // (self._heads * length * length))
        for start in range(0, batch, step):
            part = slice(start, start + step)
            scores = query[part] @ key[part]
            scores *= np.float32(1 / math.sqrt(head_width))
            scores += ignore[part]
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context[part] = (scores @ value[part]).transpose(0, 2, 1, 3)
        context = context.reshape(rows, width)
        attended = self._linear(context, f"{prefix}attention.output.dense")
        attended += hidden
        attended = self._layer_norm(attended, f"{prefix}attention.output.LayerNorm")
        expanded = _gelu(self._linear(attended, f"{prefix}intermediate.dense"))
        output = self._linear(expanded, f"{prefix}output.dense")
        output += attended
        return self._layer_norm(output, f"{prefix}output.LayerNorm")

    def _linear(self, rows: np.ndarray, name: str) -> np.ndarray:
        product: np.ndarray = rows @ self._weights[name + ".weight"].T  # stored as (out, in)
        product += self._weights[name + ".bias"]
        return product

    def _layer_norm(self, rows: np.ndarray, name: str) -> np.ndarray:
        centered: np.ndarray = rows - rows.mean(axis=-1, keepdims=True)
        variance = np.einsum("rw,rw->r", centered, centered)[:, None] / np.float32(rows.shape[-1])
        centered *= 1 / np.sqrt(variance + np.float32(self._epsilon))
        centered *= self._weights[name + ".weight"]
        centered += self._weights[name + ".bias"]
        return centered


def _gelu(rows: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x·Φ(x) with Φ(x) = (1 + erf(x/√2))/2, in place, GELU_ROWS rows at a time."""
    a1, a2, a3, a4, a5 = (np.float32(a) for a in ERF_A)
    for start in range(0, len(rows), GELU_ROWS):
        x = rows[start:start + GELU_ROWS]
        z = np.abs(x)
        z *= np.float32(1 / math.sqrt(2))
        t = np.float32(ERF_P) * z
        t += 1
        np.reciprocal(t, out=t)
        below = a5 * t
        for a in (a4, a3, a2, a1):
            below += a
            below *= t
        np.square(z, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        below *= z
        below *= np.float32(0.5)  # Φ(-|x|) = (1 - erf(|x|/√2))/2
        np.subtract(np.float32(0.5), below, out=below)
        np.copysign(below, x, out=below)
        below += np.float32(0.5)
        x *= below
    return rows


def _safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file as float32 arrays, memory-mapped where stored as float32.

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
        return tensors
    except (struct.error, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, OverflowError,
            MemoryError) as error:
        raise ValueError(f"{path}: not a safetensors file of float tensors ({error})") from None


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
