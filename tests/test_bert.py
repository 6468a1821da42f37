"""Our BERT encoder (int8 products in ONNX Runtime) against sentence-transformers' float32 one,
on the bundled model and on variants of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from citewise.bib.errors import CitewiseError
from citewise.bib.index.bert import BertEncoder, pooling_mode
from citewise.bib.index.embed import Embedder, SentenceTransformersModel, _native_bfloat16, bundled_model_dir

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TEXTS = [
    "graph neural networks",
    "",
    "   surrounded by spaces   ",
    "Attention Is All You Need",
    "Ünïcödé — “quotes”, 数学, and emoji 🧪 in one line",
    *[paragraph for paragraph in EXAMPLES.joinpath("daily-papers-digest.txt").read_text().split("\n\n")
      if len(paragraph) > 200][:40],
]


@pytest.fixture(scope="module")
def model_folder() -> Path:
    return Path(bundled_model_dir())


def assert_close_to(ours: np.ndarray, reference: np.ndarray) -> None:
    """int8 products move each vector a little: cosine ≥ 0.965 for every text (a bare [CLS] [SEP],
    the empty text, is the farthest), ≥ 0.985 on average (0.990 measured; short texts move most).
    bench/bench_retrieval.py shows it costs no recall."""
    cosines = (ours * reference).sum(axis=1)
    assert cosines.min() >= 0.965 and cosines.mean() >= 0.985, (cosines.min(), cosines.mean())
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)


def sentence_transformers_vectors(folder: Path, texts: list[str], max_tokens: int) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    model.max_seq_length = max_tokens
    return model.encode(texts, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)


@pytest.mark.parametrize("max_tokens", [256, 160, 8])
def test_vectors_match_sentence_transformers(model_folder, max_tokens):
    ours = BertEncoder(model_folder, "mean").encode(TEXTS, batch_size=8, max_tokens=max_tokens)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert_close_to(ours, sentence_transformers_vectors(model_folder, TEXTS, max_tokens))


def test_order_and_batch_size_do_not_change_vectors(model_folder):
    """Each text is computed alone, so its int8 scales are its own: neighbours change nothing."""
    encoder = BertEncoder(model_folder, "mean")
    one_batch = encoder.encode(TEXTS, batch_size=64, max_tokens=256)
    reversed_small_batches = encoder.encode(TEXTS[::-1], batch_size=3, max_tokens=256)[::-1]
    assert np.array_equal(one_batch, reversed_small_batches)


def test_threads_with_different_token_limits_do_not_mix(model_folder):
    encoder = BertEncoder(model_folder, "mean")
    expected = {tokens: encoder.encode(TEXTS, batch_size=4, max_tokens=tokens) for tokens in (8, 256)}
    mismatches = []

    def encode_repeatedly(tokens: int) -> None:
        for _ in range(3):
            if np.abs(encoder.encode(TEXTS, batch_size=4, max_tokens=tokens) - expected[tokens]).max() > 1e-5:
                mismatches.append(tokens)

    threads = [threading.Thread(target=encode_repeatedly, args=(tokens,)) for tokens in (8, 256)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mismatches == []


def test_a_batch_of_very_different_lengths_matches_each_text_alone(model_folder):
    """Padding takes no part: one batch mixing a word with long paragraphs gives each text the
    vector sentence-transformers gives it alone."""
    texts = ["GAN", TEXTS[5], "graph neural networks", TEXTS[6] * 3, "a", TEXTS[0]]
    encoder = BertEncoder(model_folder, "mean")
    ours = encoder.encode(texts, batch_size=len(texts), max_tokens=256)
    assert np.array_equal(ours, np.concatenate([encoder.encode([text], batch_size=1, max_tokens=256) for text in texts]))
    assert_close_to(ours, np.concatenate([sentence_transformers_vectors(model_folder, [text], 256) for text in texts]))


def test_the_graph_is_a_valid_onnx_model_with_int8_products(model_folder):
    """bert_graph.py writes ONNX's protobuf itself: the onnx package reads it back and checks it."""
    import onnx

    from citewise.bib.index import bert_graph
    from citewise.bib.index.bert import _safetensors

    weights = {name.removeprefix("bert."): array for name, array in _safetensors(model_folder / "model.safetensors")[1].items()}
    model = onnx.load_from_string(bert_graph.build(weights, layers=6, heads=12, epsilon=1e-12))
    onnx.checker.check_model(model, full_check=True)
    operators = [node.op_type for node in model.graph.node]
    assert operators.count("MatMulInteger") == 6 * 6 and "MatMul" in operators and operators[-1] == "Identity"
    initializers = {tensor.name: onnx.numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
    quantized = initializers["encoder.layer.0.attention.self.query.weight_quantized"]
    scale = initializers["encoder.layer.0.attention.self.query.weight_scale"]
    assert quantized.dtype == np.int8 and quantized.shape == (384, 384) and np.abs(quantized).max() == 127
    assert np.abs(quantized * scale - weights["encoder.layer.0.attention.self.query.weight"].T).max() <= scale.max() / 2 + 1e-7
    assert [dim.dim_param or dim.dim_value for dim in model.graph.input[0].type.tensor_type.shape.dim] == [1, "length", 384]


def test_batches_computed_side_by_side_give_the_same_vectors(model_folder):
    one_thread = BertEncoder(model_folder, "mean").encode(TEXTS, batch_size=4, max_tokens=160)
    two_threads = BertEncoder(model_folder, "mean", threads=2).encode(TEXTS, batch_size=4, max_tokens=160)
    assert np.array_equal(one_thread, two_threads)


def test_bfloat16_vectors_of_the_sentence_transformers_path_stay_close(model_folder):
    """Models that go to sentence-transformers run in bfloat16 where the CPU computes it natively
    (embed.py), and in float32 elsewhere: compared with sentence-transformers' own float32 call."""
    model = SentenceTransformersModel.load(str(model_folder), "cpu", torch.get_num_threads())
    used = model.encode(TEXTS, batch_size=8, max_tokens=256)
    with torch.autocast("cpu", enabled=False):
        exact = model._model.encode(TEXTS, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
    assert (exact * used).sum(axis=1).min() > 0.999
    assert (np.abs(exact - used).max() > 0) == _native_bfloat16()


def variant(model_folder: Path, tmp_path: Path, edit) -> Path:
    """A copy of the bundled model (weights linked, not copied) with `edit` applied to its configs."""
    folder = tmp_path / "model"
    shutil.copytree(model_folder, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    (folder / "model.safetensors").symlink_to(model_folder / "model.safetensors")
    edit(folder)
    return folder


def set_json(path: Path, **values) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **values}))


def test_cls_pooling_matches_sentence_transformers(model_folder, tmp_path):
    folder = variant(model_folder, tmp_path, lambda folder: set_json(
        folder / "1_Pooling" / "config.json", pooling_mode_mean_tokens=False, pooling_mode_cls_token=True))
    assert pooling_mode(folder) == "cls"
    ours = BertEncoder(folder, "cls").encode(TEXTS, batch_size=8, max_tokens=256)
    assert_close_to(ours, sentence_transformers_vectors(folder, TEXTS, 256))
    assert np.abs(ours - BertEncoder(model_folder, "mean").encode(TEXTS, batch_size=8, max_tokens=256)).max() > 0.01


def add_dense_module(folder: Path) -> None:
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))


def keep_bin_weights_only(folder: Path) -> None:
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")


@pytest.mark.parametrize("edit, loadable", [
    (lambda folder: set_json(folder / "1_Pooling" / "config.json", pooling_mode_max_tokens=True), True),
    (lambda folder: set_json(folder / "config.json", model_type="roberta"), False),
    (lambda folder: set_json(folder / "config.json", hidden_act="gelu_new"), True),
    (lambda folder: set_json(folder / "sentence_bert_config.json", do_lower_case=True), True),
    (lambda folder: (folder / "modules.json").write_text(json.dumps(json.loads((folder / "modules.json").read_text())[:1])), True),
    (lambda folder: (folder / "tokenizer.json").unlink(), False),
    (add_dense_module, False),
    (keep_bin_weights_only, False),
], ids=["max-pooling", "roberta", "other-gelu", "lower-case", "no-pooling", "no-tokenizer-json", "dense-module",
        "bin-weights-only"])
def test_other_shapes_go_to_sentence_transformers(model_folder, tmp_path, edit, loadable):
    """The README's list of what takes the sentence-transformers path (loaded where the variant is a whole model)."""
    folder = variant(model_folder, tmp_path, edit)
    assert pooling_mode(folder) is None
    if loadable:
        assert isinstance(Embedder.load(str(folder)).model, SentenceTransformersModel)


def test_a_model_named_by_its_hub_name_goes_to_sentence_transformers(tmp_path, monkeypatch):
    """Only a folder on disk can take our encoder: a name, even of a BERT model, is sentence-transformers' to fetch."""
    monkeypatch.chdir(tmp_path)
    assert pooling_mode(Path("sentence-transformers/all-MiniLM-L12-v2")) is None


@pytest.mark.parametrize("damage", ["not a safetensors file", "cut short"])
def test_damaged_weights_give_one_line_naming_the_file(model_folder, tmp_path, damage):
    folder = tmp_path / "model"
    shutil.copytree(model_folder, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    weights = (model_folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(b"not a safetensors file" if damage == "not a safetensors file"
                                               else weights[:len(weights) // 2])
    with pytest.raises(CitewiseError) as raised:
        Embedder.load(str(folder))
    message = str(raised.value)
    assert "\n" not in message and str(folder / "model.safetensors") in message


def test_bundled_model_loads_without_torch_or_transformers():
    probe = (
        "import sys\n"
        "from citewise.bib.index.embed import Embedder\n"
        "embedder = Embedder.load(device='cpu')\n"
        "print(embedder.encode(['a query']).shape, type(embedder.model).__name__,\n"
        "      sorted(name for name in ('torch', 'transformers', 'sentence_transformers') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "(1, 384) BertEncoder []", result.stderr
