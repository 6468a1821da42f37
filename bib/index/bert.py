"""A BERT sentence encoder in plain torch, for sentence-transformers models made of a BERT
transformer, mean or CLS pooling and (optionally) normalization, as the bundled
all-MiniLM-L6-v2 is.

It computes the same vectors as sentence-transformers (tests/test_bert.py compares them)
while importing only torch, `tokenizers` and `safetensors`. Importing transformers and
sentence-transformers instead adds about 190 MB of memory and 2.5 s of start-up, which
the language server cannot afford. Models of any other shape go through
sentence-transformers (embed.py).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"


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

    def __init__(self, folder: Path, pooling: str, device: str = "cpu"):
        import torch
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = _json(folder / "config.json")
        self.max_seq_length = min(int(_json(folder / "sentence_bert_config.json").get("max_seq_length", 512)),
                                  int(config["max_position_embeddings"]))
        self.dimension = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._epsilon = float(config["layer_norm_eps"])
        self._pooling = pooling
        try:
            weights = load_file(folder / "model.safetensors")
        except SafetensorError as error:
            raise ValueError(f"{folder / 'model.safetensors'}: {error}") from None
        self.device = device
        self._weights = {name.removeprefix("bert."): tensor.to(device) for name, tensor in weights.items()}
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        self._tokenizing = threading.Lock()
        self._torch = torch

    def encode(self, texts: Sequence[str], batch_size: int, max_tokens: int) -> np.ndarray:
        """One unit-length float32 row per text, cut at `max_tokens`; batches hold texts of similar length."""
        order = sorted(range(len(texts)), key=lambda position: -len(texts[position]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            vectors[batch] = self._encode_batch([str(texts[position]).strip() for position in batch], max_tokens)
        return vectors

    def _encode_batch(self, texts: list[str], max_tokens: int) -> np.ndarray:
        torch = self._torch
        with self._tokenizing:  # the truncation length is a setting of the shared tokenizer
            self._tokenizer.enable_truncation(max_length=max_tokens)
            encodings = self._tokenizer.encode_batch(texts)
        ids = torch.tensor([encoding.ids for encoding in encodings], device=self.device)
        types = torch.tensor([encoding.type_ids for encoding in encodings], device=self.device)
        mask = torch.tensor([encoding.attention_mask for encoding in encodings], device=self.device)
        with torch.inference_mode():
            hidden = self._forward(ids, types, mask.bool())
            if self._pooling == "cls":
                pooled = hidden[:, 0]
            else:
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
        return pooled.cpu().numpy()

    def _forward(self, ids, types, mask):
        """The BERT encoder's last hidden states, as in the original architecture (inference only)."""
        functional, weight = self._torch.nn.functional, self._weights
        positions = self._torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        hidden = (
            functional.embedding(ids, weight["embeddings.word_embeddings.weight"])
            + functional.embedding(positions, weight["embeddings.position_embeddings.weight"])
            + functional.embedding(types, weight["embeddings.token_type_embeddings.weight"])
        )
        hidden = self._layer_norm(hidden, "embeddings.LayerNorm")
        attend = mask[:, None, None, :]
        for layer in range(self._layers):
            hidden = self._layer(hidden, attend, f"encoder.layer.{layer}.")
        return hidden

    def _layer(self, hidden, attend, prefix: str):
        """Self-attention, then the feed-forward block, each added to its input and layer-normalized."""
        functional = self._torch.nn.functional
        batch, length, width = hidden.shape
        head_width = width // self._heads

        def per_head(name: str):
            projected = self._linear(hidden, f"{prefix}attention.self.{name}")
            return projected.view(batch, length, self._heads, head_width).transpose(1, 2)

        context = functional.scaled_dot_product_attention(
            per_head("query"), per_head("key"), per_head("value"), attn_mask=attend, scale=1 / math.sqrt(head_width))
        context = context.transpose(1, 2).reshape(batch, length, width)
        attended = self._layer_norm(
            self._linear(context, f"{prefix}attention.output.dense") + hidden, f"{prefix}attention.output.LayerNorm")
        expanded = functional.gelu(self._linear(attended, f"{prefix}intermediate.dense"))
        return self._layer_norm(self._linear(expanded, f"{prefix}output.dense") + attended, f"{prefix}output.LayerNorm")

    def _linear(self, tensor, name: str):
        return self._torch.nn.functional.linear(tensor, self._weights[name + ".weight"], self._weights[name + ".bias"])

    def _layer_norm(self, tensor, name: str):
        return self._torch.nn.functional.layer_norm(
            tensor, tensor.shape[-1:], self._weights[name + ".weight"], self._weights[name + ".bias"], self._epsilon)


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))
