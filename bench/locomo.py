"""LoCoMo evidence-retrieval benchmark: our retrieval against plain cosine top-k and BM25, in one run.

Run from the repo root (the data is NOT part of the project; see bench/README.md for where to get it)::

    .venv/bin/python bench/locomo.py PATH/TO/locomo10.json
    .venv/bin/python bench/locomo.py PATH/TO/locomo10.json --conversations 2     # a quick look

Each of the 10 LoCoMo conversations becomes one user. Every dialogue turn is one memory, written through the
project's write path (``MemoryRecord`` -> ``LongTermStore.add`` into a real Chroma store, embeddings from the local
MiniLM in batches): text ``"<speaker>: <text>"`` (plus the caption of a shared photo), ``created_at`` the date of
its session, and the memory id made from the conversation and the turn's ``dia_id`` so retrieved memories can be
matched against each question's evidence. Then for every question with evidence, three retrievers return 10
memories each:

* **ours**: ``tools.recall.recall`` (the function the conversation graph calls): Chroma candidates, then MMR with
  the importance, recency and emotion boosts of ``tools/retrieval.py``; called once per k (1, 5, 10);
* **cosine**: the ``k`` nearest memories by cosine similarity (``LongTermStore.search``, no MMR, no threshold);
* **bm25**: BM25Okapi (``rank-bm25``) over the same texts, lower-cased word tokens.

Reported per question category and overall: evidence recall@k (the share of a question's evidence turns among
the first k memories, averaged over questions) for k = 1, 5, 10, and MRR (1 / rank of the first evidence turn
within 10). Plus ingest time and per-query latency p50/p95 of each retriever. With ``COMPANION_CHAT_MODEL`` set,
also the LLM-judged answer accuracy (J, as in the mem0 paper: the model answers from our 10 memories, a judge
marks the answer CORRECT or WRONG against the gold answer; categories 1-4).
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import chromadb  # noqa: E402
from chromadb.config import Settings as ChromaSettings  # noqa: E402
from rank_bm25 import BM25Okapi  # noqa: E402

from companion.errors import CompanionError  # noqa: E402
from companion.services import build_chat_model  # noqa: E402
from companion.settings import load_settings  # noqa: E402
from memory.embeddings import Embedder, load_embedder  # noqa: E402
from memory.long_term import LongTermStore  # noqa: E402
from memory.records import MemoryRecord  # noqa: E402
from prompts.evals import LOCOMO_ANSWER_PROMPT, LOCOMO_JUDGE_PROMPT  # noqa: E402
from tools.recall import recall  # noqa: E402

console = Console()

KS = (1, 5, 10)
MAX_K = max(KS)
EMBED_BATCH = 256
INSERT_BATCH = 1000
#: The usual reading of LoCoMo's category numbers (the file does not name them; mem0 and the LoCoMo code use these).
CATEGORY_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
RETRIEVERS = ("ours", "cosine", "bm25")
TARGET_RECALL_AT_10 = 0.85
DIA_ID = re.compile(r"D\d+:\d+")
TOKEN = re.compile(r"[a-z0-9]+")
SESSION_DATE_FORMAT = "%I:%M %p on %d %B, %Y"


@dataclass(frozen=True)
class Question:
    """One LoCoMo question with its evidence turn ids."""

    conversation: str
    question: str
    answer: str
    category: int
    evidence: tuple[str, ...]


@dataclass
class Conversation:
    """One LoCoMo conversation: its turns as records (one user per conversation) and its questions."""

    sample_id: str
    user_id: str
    records: list[MemoryRecord]
    dia_ids: list[str]
    questions: list[Question]
    skipped_questions: int = 0
    malformed_evidence: int = 0


@dataclass
class Ranked:
    """The dia_ids each retriever returned for one question, best first, per k (``ours`` is run per k)."""

    question: Question
    lists: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)


# -- loading ------------------------------------------------------------------------------------------------
def memory_id(sample_id: str, dia_id: str) -> str:
    """The id of the memory holding one dialogue turn (reversible: see :func:`dia_id_of`)."""
    return f"locomo.{sample_id}.{dia_id}"


def dia_id_of(memory: str) -> str:
    """The ``dia_id`` of a memory written by this benchmark."""
    return memory.rsplit(".", 1)[1]


def session_timestamp(text: str) -> float:
    """``"1:56 pm on 8 May, 2023"`` as a UTC timestamp."""
    parsed = dt.datetime.strptime(text.strip(), SESSION_DATE_FORMAT).replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def turn_text(turn: dict[str, Any]) -> str:
    """What a turn's memory says: ``"<speaker>: <text>"``, plus the caption of a photo the speaker shared."""
    text = f"{turn['speaker']}: {turn['text']}"
    caption = turn.get("blip_caption")
    if caption:
        text += f" [shares a photo: {caption}]"
    return text


def parse_evidence(raw: Sequence[Any]) -> tuple[list[str], int]:
    """Evidence ids, with upstream typos repaired where unambiguous (``"D8:6; D9:17"``); and how many were malformed."""
    found: list[str] = []
    malformed = 0
    for item in raw:
        ids = DIA_ID.findall(str(item))
        if not ids or str(item).strip() not in ids:
            malformed += 1
        found.extend(i for i in ids if i not in found)
    return found, malformed


def load_locomo(path: Path, *, limit: int | None) -> list[Conversation]:
    """Read ``locomo10.json`` into conversations; a clear error if it is missing or not LoCoMo."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"error: {path} does not exist (see bench/README.md for where to get locomo10.json)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"error: cannot read {path} as JSON: {exc}") from None
    if not isinstance(data, list) or not data or "conversation" not in data[0] or "qa" not in data[0]:
        raise SystemExit(f"error: {path} is not LoCoMo data (expected a list of conversations with 'qa')")
    conversations = []
    for sample in data[:limit]:
        sample_id = str(sample["sample_id"])
        user_id = f"locomo-{sample_id}"
        convo = sample["conversation"]
        records: list[MemoryRecord] = []
        dia_ids: list[str] = []
        sessions = sorted(
            (int(key.split("_")[1]) for key in convo if re.fullmatch(r"session_\d+", key)),
        )
        for number in sessions:
            started = session_timestamp(convo[f"session_{number}_date_time"])
            for offset, turn in enumerate(convo[f"session_{number}"]):
                dia_ids.append(turn["dia_id"])
                records.append(
                    MemoryRecord(
                        id=memory_id(sample_id, turn["dia_id"]),
                        user_id=user_id,
                        text=turn_text(turn),
                        # the session's own date (turns a second apart keep their order): recency is relative to it
                        created_at=started + offset,
                        conversation_id=f"session-{number}",
                    )
                )
        known = set(dia_ids)
        conversation = Conversation(sample_id, user_id, records, dia_ids, [])
        for qa in sample["qa"]:
            evidence, malformed = parse_evidence(qa.get("evidence", []))
            conversation.malformed_evidence += malformed
            evidence = [e for e in evidence if e in known]
            if not evidence:
                conversation.skipped_questions += 1
                continue
            answer = qa.get("answer", qa.get("adversarial_answer", ""))
            conversation.questions.append(
                Question(sample_id, str(qa["question"]), str(answer), int(qa["category"]), tuple(evidence))
            )
        conversations.append(conversation)
    return conversations


# -- ingest and retrieve -------------------------------------------------------------------------------------
def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def ingest(long_term: LongTermStore, embedder: Embedder, conversations: Sequence[Conversation]) -> dict[str, Any]:
    """Embed every turn in batches and write it through ``LongTermStore.add``; returns the timings."""
    total = sum(len(c.records) for c in conversations)
    embed_s = write_s = 0.0
    with progress_bar() as progress:
        task = progress.add_task("ingest turns", total=total)
        for conversation in conversations:
            for start in range(0, len(conversation.records), EMBED_BATCH):
                batch = conversation.records[start : start + EMBED_BATCH]
                began = time.perf_counter()
                vectors = embedder.embed([r.text for r in batch])
                embedded = time.perf_counter()
                long_term.add(conversation.user_id, batch, vectors)
                write_s += time.perf_counter() - embedded
                embed_s += embedded - began
                progress.advance(task, len(batch))
    return {
        "memories": total,
        "seconds": round(embed_s + write_s, 3),
        "embed_seconds": round(embed_s, 3),
        "write_seconds": round(write_s, 3),
        "memories_per_s": round(total / max(embed_s + write_s, 1e-9), 1),
    }


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def retrieve_all(long_term: LongTermStore, embedder: Embedder, conversations: Sequence[Conversation]) -> list[Ranked]:
    """Run the three retrievers on every question."""
    ranked: list[Ranked] = []
    total = sum(len(c.questions) for c in conversations)
    with progress_bar() as progress:
        task = progress.add_task("questions", total=total)
        for conversation in conversations:
            bm25 = BM25Okapi([tokens(r.text) for r in conversation.records])
            user = conversation.user_id
            for question in conversation.questions:
                item = Ranked(question)
                # ours: the conversation graph's recall, once per k (MMR's candidate pool depends on k)
                item.lists["ours"] = {}
                for k in KS:
                    began = time.perf_counter()
                    found = recall(long_term, embedder, user, question.question, k)
                    if k == MAX_K:
                        item.latency_ms["ours"] = (time.perf_counter() - began) * 1000.0
                    item.lists["ours"][k] = [dia_id_of(s.candidate.id) for s in found.selected]
                # plain cosine: the store's own nearest neighbours
                began = time.perf_counter()
                query = embedder.embed([question.question])[0]
                nearest = long_term.search(user, query, MAX_K)
                item.latency_ms["cosine"] = (time.perf_counter() - began) * 1000.0
                cosine = [dia_id_of(c.id) for c in nearest]
                item.lists["cosine"] = {k: cosine[:k] for k in KS}
                # BM25 over the same texts
                began = time.perf_counter()
                scores = bm25.get_scores(tokens(question.question))
                best = np.argsort(-scores, kind="stable")[:MAX_K]
                item.latency_ms["bm25"] = (time.perf_counter() - began) * 1000.0
                lexical = [conversation.dia_ids[i] for i in best]
                item.lists["bm25"] = {k: lexical[:k] for k in KS}
                ranked.append(item)
                progress.advance(task)
    return ranked


# -- metrics -------------------------------------------------------------------------------------------------
def evidence_recall(retrieved: Sequence[str], evidence: Sequence[str]) -> float:
    """The share of ``evidence`` found in ``retrieved``."""
    return len(set(retrieved) & set(evidence)) / len(evidence)


def reciprocal_rank(retrieved: Sequence[str], evidence: Sequence[str]) -> float:
    """1 / (1-based rank of the first evidence id in ``retrieved``), 0 if none is there."""
    wanted = set(evidence)
    for rank, dia in enumerate(retrieved, start=1):
        if dia in wanted:
            return 1.0 / rank
    return 0.0


def percentile(samples: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q)) if samples else 0.0


def score(ranked: Sequence[Ranked]) -> dict[str, Any]:
    """Recall@k and MRR per retriever, per category and overall (1-4, the usual LoCoMo set) and all (1-5)."""
    groups: dict[str, list[Ranked]] = defaultdict(list)
    for item in ranked:
        category = item.question.category
        groups[f"{category} {CATEGORY_NAMES.get(category, '?')}"].append(item)
        if category != 5:
            groups["overall (1-4)"].append(item)
        groups["all (1-5)"].append(item)
    metrics: dict[str, Any] = {}
    for retriever in RETRIEVERS:
        per_group: dict[str, Any] = {}
        for name in sorted(groups):
            items = groups[name]
            entry: dict[str, float] = {"questions": len(items)}
            for k in KS:
                values = [evidence_recall(i.lists[retriever][k], i.question.evidence) for i in items]
                entry[f"recall@{k}"] = round(statistics.fmean(values), 4)
            entry["mrr"] = round(
                statistics.fmean(reciprocal_rank(i.lists[retriever][MAX_K], i.question.evidence) for i in items), 4
            )
            per_group[name] = entry
        latencies = [i.latency_ms[retriever] for i in ranked]
        conversations: dict[str, list[float]] = defaultdict(list)
        for i in ranked:
            if i.question.category != 5:
                conversations[i.question.conversation].append(
                    evidence_recall(i.lists[retriever][MAX_K], i.question.evidence)
                )
        metrics[retriever] = {
            "by_category": per_group,
            "recall@10_by_conversation": {name: round(statistics.fmean(v), 4) for name, v in conversations.items()},
            "latency_ms": {"p50": round(percentile(latencies, 50), 3), "p95": round(percentile(latencies, 95), 3)},
        }
    return metrics


# -- LLM-judged answers (J) ----------------------------------------------------------------------------------
async def judge_answers(
    chat_model: Any, long_term: LongTermStore, embedder: Embedder, conversations: Sequence[Conversation]
) -> dict[str, Any]:
    """Answer each question (categories 1-4) from our 10 memories, then judge it against the gold answer."""
    by_id = {r.id: r for c in conversations for r in c.records}
    verdicts: dict[int, list[bool]] = defaultdict(list)
    questions = [(c, q) for c in conversations for q in c.questions if q.category != 5]
    with progress_bar() as progress:
        task = progress.add_task("answer + judge", total=len(questions))
        for conversation, question in questions:
            found = recall(long_term, embedder, conversation.user_id, question.question, MAX_K)
            lines = []
            for selected in found.selected:
                record = by_id[selected.candidate.id]
                when = dt.datetime.fromtimestamp(record.created_at, dt.UTC).strftime("%d %B %Y")
                lines.append(f"- ({when}) {record.text}")
            answer = await chat_model.ainvoke(
                LOCOMO_ANSWER_PROMPT.format(memories="\n".join(lines) or "(none)", question=question.question)
            )
            verdict = await chat_model.ainvoke(
                LOCOMO_JUDGE_PROMPT.format(
                    question=question.question, gold_answer=question.answer, generated_answer=answer.text.strip()
                )
            )
            verdicts[question.category].append("CORRECT" in verdict.text.upper())
            progress.advance(task)
    result = {f"{c} {CATEGORY_NAMES[c]}": round(statistics.fmean(v), 4) for c, v in sorted(verdicts.items())}
    every = [v for values in verdicts.values() for v in values]
    result["overall (1-4)"] = round(statistics.fmean(every), 4) if every else 0.0
    return result


# -- report --------------------------------------------------------------------------------------------------
def print_table(metrics: dict[str, Any]) -> None:
    table = Table(title="LoCoMo evidence retrieval (recall@k, MRR within 10)")
    for column in ("category", "n", "retriever", "R@1", "R@5", "R@10", "MRR"):
        table.add_column(column, justify="left" if column in ("category", "retriever") else "right")
    groups = metrics["ours"]["by_category"]
    for name in groups:
        for index, retriever in enumerate(RETRIEVERS):
            entry = metrics[retriever]["by_category"][name]
            table.add_row(
                name if index == 0 else "",
                str(groups[name]["questions"]) if index == 0 else "",
                retriever,
                *(f"{entry[key]:.3f}" for key in ("recall@1", "recall@5", "recall@10", "mrr")),
                end_section=index == len(RETRIEVERS) - 1,
            )
    console.print(table)
    latency = Table(title="query latency (ms)")
    latency.add_column("retriever")
    latency.add_column("p50", justify="right")
    latency.add_column("p95", justify="right")
    for retriever in RETRIEVERS:
        latency.add_row(
            retriever,
            f"{metrics[retriever]['latency_ms']['p50']:.2f}",
            f"{metrics[retriever]['latency_ms']['p95']:.2f}",
        )
    console.print(latency)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("chromadb", "onnxruntime", "numpy", "rank-bm25", "langchain-core"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def git_dirty() -> bool | None:
    """Whether tracked files differ from the commit (the numbers then belong to uncommitted changes)."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return bool(out.stdout.strip())


@contextlib.contextmanager
def data_dir(requested: Path | None) -> Iterator[Path]:
    if requested is not None:
        requested.mkdir(parents=True, exist_ok=True)
        yield requested
        return
    with tempfile.TemporaryDirectory(prefix="companion-locomo-") as tmp:
        yield Path(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description="LoCoMo evidence-retrieval benchmark (see bench/README.md)")
    parser.add_argument("data", type=Path, help="path to locomo10.json")
    parser.add_argument("--conversations", type=int, default=None, help="only the first N conversations")
    parser.add_argument("--data-dir", type=Path, default=None, help="where the Chroma store goes (default: a temp dir)")
    parser.add_argument("--json-out", type=Path, default=None, help="default: bench/results/locomo-<date>.json")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --data-dir: keep an already ingested store (ingest time not measured)",
    )
    parser.add_argument("--no-judge", action="store_true", help="skip the LLM-judged answers even with a chat model")
    args = parser.parse_args()

    started = time.perf_counter()
    conversations = load_locomo(args.data, limit=args.conversations)
    digest = hashlib.sha256(args.data.read_bytes()).hexdigest()
    try:
        settings = load_settings()
        chat_model = None if args.no_judge else build_chat_model(settings)
    except CompanionError as exc:
        raise SystemExit(f"error: {exc}") from None
    questions = sum(len(c.questions) for c in conversations)
    console.print(
        f"LoCoMo: {len(conversations)} conversations, {sum(len(c.records) for c in conversations):,} turns, "
        f"{questions:,} questions with evidence ({sum(c.skipped_questions for c in conversations)} without, skipped)"
    )
    with data_dir(args.data_dir) as root:
        embedder = load_embedder(root / "models")
        client = chromadb.PersistentClient(
            path=str(root / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        long_term = LongTermStore(client, namespace="locomo")
        complete = all(long_term.count(c.user_id) == len(c.records) for c in conversations)
        if args.reuse and args.data_dir is not None and complete:
            ingest_stats = {"memories": sum(len(c.records) for c in conversations), "reused": True}
        else:
            for conversation in conversations:
                long_term.delete_user(conversation.user_id)
            ingest_stats = ingest(long_term, embedder, conversations)
        ranked = retrieve_all(long_term, embedder, conversations)
        metrics = score(ranked)
        judged: dict[str, Any] | str
        if chat_model is None:
            judged = (
                "not run: no chat model configured (set COMPANION_CHAT_MODEL)"
                if not args.no_judge
                else "not run: --no-judge"
            )
        else:
            judged = asyncio.run(judge_answers(chat_model, long_term, embedder, conversations))
    print_table(metrics)
    overall = {r: metrics[r]["by_category"]["overall (1-4)"]["recall@10"] for r in RETRIEVERS}
    met = overall["ours"] >= TARGET_RECALL_AT_10 and overall["ours"] > max(overall["cosine"], overall["bm25"])
    j_overall = judged if isinstance(judged, str) else judged["overall (1-4)"]
    ingest_line = (
        "reused store"
        if ingest_stats.get("reused")
        else f"{ingest_stats['seconds']:.1f} s ({ingest_stats['memories_per_s']:.0f}/s)"
    )
    console.print(f"ingest: {ingest_stats['memories']:,} memories, {ingest_line}   J: {j_overall}")
    console.print(
        f"target recall@10 >= {TARGET_RECALL_AT_10} overall and above both baselines: "
        + ("[green]met[/]" if met else "[red]not met[/]")
        + f" (ours {overall['ours']:.3f}, cosine {overall['cosine']:.3f}, bm25 {overall['bm25']:.3f})"
    )
    report = {
        "benchmark": "locomo",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "dataset": {"path_name": args.data.name, "sha256": digest, "conversations": len(conversations)},
        "questions": questions,
        "skipped_questions": sum(c.skipped_questions for c in conversations),
        "malformed_evidence_entries": sum(c.malformed_evidence for c in conversations),
        "ingest": ingest_stats,
        "retrieval": metrics,
        "j_score": judged,
        "target": {"recall@10": TARGET_RECALL_AT_10, "met": met},
        "elapsed_s": round(time.perf_counter() - started, 1),
        "cpu_count": os.cpu_count(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "versions": versions(),
    }
    json_out = args.json_out or ROOT / "bench" / "results" / f"locomo-{dt.date.today().isoformat()}.json"
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    console.print(f"results written to {json_out} ({report['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
