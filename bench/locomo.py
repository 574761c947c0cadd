"""LoCoMo evidence-retrieval benchmark: our retrieval against plain cosine top-k and BM25, in one run.

Run from the repo root (the data is NOT part of the project; see bench/README.md for where to get it)::

    .venv/bin/python bench/locomo.py PATH/TO/locomo10.json
    .venv/bin/python bench/locomo.py PATH/TO/locomo10.json --conversations 2     # a quick look

Each of the 10 LoCoMo conversations becomes one user, ingested through the real path: each session is a JSON-lines
transcript (``companion.runtime.ingest.ingest_session``), processed like the worker does (``process_queued``: detection,
embedding, storage, association, summary). A turn is a ``user`` line ``"<speaker>: <text>"`` (plus the caption of
a shared photo) with ``ts`` its session's date and ``ref`` its ``dia_id``, which ingestion keeps on the memory
(``source_ref``) so retrieved memories can be matched against each question's evidence (a memory association
derived from a turn maps to that turn). Then for every question with evidence, four retrievers return 10
memories each, over every memory of the user:

* **ours**: ``tools.recall.recall`` with its defaults (the function the conversation graph calls): Chroma
  candidates, then MMR with the lexical, importance and recency terms of ``tools/retrieval.py``; once per k;
* **ours-wide**: the same with a 300-candidate pool (``COMPANION_RETRIEVAL_CANDIDATES``);
* **cosine**: the ``k`` nearest memories by cosine similarity (``LongTermStore.search``, no MMR, no threshold);
* **bm25**: BM25Okapi (``rank-bm25``) over the same texts, lower-cased word tokens.

Parameters were chosen on the dev split (conv-26, conv-30) only; results are reported for it, for the other
eight conversations (the test split) and overall.

Reported per question category and overall: evidence recall@k (the share of a question's evidence turns among
the first k memories, averaged over questions) for k = 1, 5, 10, and MRR (1 / rank of the first evidence turn
within 10). Session level, as training-free session retrieval on LoCoMo is reported (Hit@1 and NDCG@5, e.g.
arXiv 2606.04194): the 10 memories' sessions, each ranked by its best memory; ``session_hit@1`` is 1 when the first
session holds evidence, ``session_ndcg@5`` the NDCG of the first five sessions with evidence sessions as relevant.
Plus ingest time and per-query latency p50/p95 of each retriever. With ``COMPANION_CHAT_MODEL`` set, also the
LLM-judged answer accuracy (J, as in the mem0 paper: the model answers from our 10 memories, a judge
marks the answer CORRECT or WRONG against the gold answer; categories 1-4).
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared bench helpers (run_info), when loaded by path
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from langchain_core.language_models import BaseChatModel  # noqa: E402
from rank_bm25 import BM25Okapi  # noqa: E402
from run_info import git_commit  # noqa: E402

from companion.core.errors import CompanionError  # noqa: E402
from companion.core.settings import load_settings  # noqa: E402
from companion.core.versions import package_versions  # noqa: E402
from companion.runtime.ingest import ingest_session, process_queued  # noqa: E402
from companion.services import Services, build_services  # noqa: E402
from evals.judged_answers import answer_and_judge, j_scores  # noqa: E402
from memory.embedded import EmbeddedRedis  # noqa: E402
from memory.embeddings import Embedder  # noqa: E402
from memory.long_term import LongTermStore  # noqa: E402
from memory.records import MemoryRecord, normalised_content  # noqa: E402
from nodes.association import derived_memory_id  # noqa: E402
from tools import retrieval  # noqa: E402
from tools.detection import load_detector  # noqa: E402
from tools.recall import recall  # noqa: E402

console = Console()

KS = (1, 5, 10)
MAX_K = max(KS)
#: The usual reading of LoCoMo's category numbers (the file does not name them; mem0 and the LoCoMo code use these).
CATEGORY_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
#: Candidate pool of ``ours-wide`` (chosen on the dev split: 300 and the whole conversation scored the same).
WIDE_CANDIDATES = 300
RETRIEVERS = ("ours", "ours-wide", "cosine", "bm25")
#: The dev split: the only conversations parameters were chosen on (tools/retrieval.py); the rest is the test split.
DEV_CONVERSATIONS = ("conv-26", "conv-30")
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
    """One LoCoMo conversation (one user): its sessions as transcripts to ingest, and its questions.

    After ingestion, ``memories`` holds every memory of the user (the turns and what association made of them) and
    ``dia_of`` maps a memory id to the ``dia_id`` of the turn it came from.
    """

    sample_id: str
    user_id: str
    sessions: list[tuple[str, list[dict[str, Any]]]]
    dia_ids: list[str]
    questions: list[Question]
    skipped_questions: int = 0
    malformed_evidence: int = 0
    memories: list[MemoryRecord] = field(default_factory=list)
    dia_of: dict[str, str] = field(default_factory=dict)

    @property
    def turns(self) -> int:
        """How many dialogue turns the conversation has."""
        return sum(len(lines) for _, lines in self.sessions)


@dataclass
class Ranked:
    """The dia_ids each retriever returned for one question, best first, per k (``ours`` is run per k)."""

    question: Question
    lists: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)


# -- loading ------------------------------------------------------------------------------------------------
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
        sessions: list[tuple[str, list[dict[str, Any]]]] = []
        dia_ids: list[str] = []
        numbers = sorted(
            (int(key.split("_")[1]) for key in convo if re.fullmatch(r"session_\d+", key)),
        )
        for number in numbers:
            started = session_timestamp(convo[f"session_{number}_date_time"])
            lines = []
            for offset, turn in enumerate(convo[f"session_{number}"]):
                dia_ids.append(turn["dia_id"])
                # both speakers are people the companion listens to: every turn is a "user" line; "ts" is the
                # session's own date (turns a second apart keep their order); "ref" carries the dia_id through
                lines.append(
                    {"role": "user", "content": turn_text(turn), "ts": started + offset, "ref": turn["dia_id"]}
                )
            sessions.append((f"session-{number}", lines))
        known = set(dia_ids)
        conversation = Conversation(sample_id, user_id, sessions, dia_ids, [])
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


async def ingest(services: Services, conversations: Sequence[Conversation]) -> dict[str, Any]:
    """Ingest every session through the real path: ``ingest_session`` (queue) then ``process_queued`` (the worker's
    ingestion: detection, embedding, storage; then association). Returns the counts and timings."""
    detector = load_detector()  # loaded once, outside the timing (the worker loads it once per process)
    total = sum(c.turns for c in conversations)
    seconds = 0.0
    counts = {"submissions": 0, "ingested": 0, "associated": 0, "dead": 0}
    with progress_bar() as progress:
        task = progress.add_task("ingest turns", total=total)
        for conversation in conversations:
            services.long_term.delete_user(conversation.user_id)
            began = time.perf_counter()
            for session_id, lines in conversation.sessions:
                await ingest_session(
                    services,
                    user_id=conversation.user_id,
                    session_id=session_id,
                    text="\n".join(json.dumps(line) for line in lines),
                    source=f"{conversation.sample_id} {session_id}",
                )
                counts["submissions"] += 1
            result = await process_queued(services, detector_factory=lambda: detector)
            seconds += time.perf_counter() - began
            counts["ingested"] += result.ingested
            counts["associated"] += result.processed
            counts["dead"] += result.dead
            map_memories(services.long_term, conversation)
            progress.advance(task, conversation.turns)
    memories = sum(len(c.memories) for c in conversations)
    return {
        "turns": total,
        "memories": memories,
        **counts,
        "seconds": round(seconds, 3),
        "turns_per_s": round(total / max(seconds, 1e-9), 1),
    }


def map_memories(long_term: LongTermStore, conversation: Conversation) -> None:
    """Read back every memory of the conversation's user and map each to the dialogue turn it came from.

    A turn's memory carries its ``dia_id`` as ``source_ref`` (the transcript line's ``ref``); a memory association
    derived from a turn (same text, kind semantic, id ``derived_memory_id(turn memory id)``) maps to that turn too.
    A turn ingestion left out as a copy of an earlier one is mapped to that one (``_copies``), in the evidence too.
    """
    records = [record for record, _ in long_term.with_embeddings(conversation.user_id)]
    conversation.memories = records
    conversation.dia_of = {r.id: r.source_ref for r in records if r.source_ref}
    derived = {derived_memory_id(memory): dia for memory, dia in conversation.dia_of.items()}
    conversation.dia_of.update({r.id: derived[r.id] for r in records if r.id in derived})
    missing = set(conversation.dia_ids) - set(conversation.dia_of.values())
    # Ingestion keeps one memory per content (``companion.runtime.ingest.without_copies``): a turn that repeats an
    # earlier one word for word ("Bye Joanna!") is that memory, so evidence naming the repeat counts the kept turn.
    alias = _copies(conversation, missing)
    if alias:
        conversation.questions = [
            replace(q, evidence=tuple(dict.fromkeys(alias.get(dia, dia) for dia in q.evidence)))
            for q in conversation.questions
        ]
        missing -= set(alias)
    if missing:
        raise SystemExit(
            f"error: {len(missing)} turns of {conversation.sample_id} were not stored (e.g. {min(missing)})"
        )


def _copies(conversation: Conversation, missing: set[str]) -> dict[str, str]:
    """For each turn not stored as its own memory, the turn whose memory holds the same content (normalised text)."""
    if not missing:
        return {}
    kept: dict[str, str] = {}
    for record in conversation.memories:
        if record.id in conversation.dia_of:
            kept.setdefault(normalised_content(record.text), conversation.dia_of[record.id])
    texts = {line["ref"]: line["content"] for _, lines in conversation.sessions for line in lines}
    alias: dict[str, str] = {}
    for dia in sorted(missing):
        content = normalised_content(texts.get(dia, ""))
        match = kept.get(content) or next(
            (
                d
                for text, d in kept.items()
                if (content in text or text in content)
                and min(len(text), len(content)) >= 0.5 * max(len(text), len(content))
            ),
            "",
        )
        if match:
            alias[dia] = match
    return alias


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def retrieve_all(long_term: LongTermStore, embedder: Embedder, conversations: Sequence[Conversation]) -> list[Ranked]:
    """Run the three retrievers on every question, over every memory of the conversation's user."""
    ranked: list[Ranked] = []
    total = sum(len(c.questions) for c in conversations)
    with progress_bar() as progress:
        task = progress.add_task("questions", total=total)
        for conversation in conversations:
            bm25 = BM25Okapi([tokens(r.text) for r in conversation.memories])
            user = conversation.user_id

            def dia_id_of(memory_id: str, conversation: Conversation = conversation) -> str:
                return conversation.dia_of.get(memory_id, "-")

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
                # ours with a wide pool (COMPANION_RETRIEVAL_CANDIDATES): the pool no longer depends on k, and
                # greedy MMR over one pool picks the same first k whatever the k asked, so one call serves all
                began = time.perf_counter()
                found = recall(long_term, embedder, user, question.question, MAX_K, candidates=WIDE_CANDIDATES)
                item.latency_ms["ours-wide"] = (time.perf_counter() - began) * 1000.0
                wide = [dia_id_of(s.candidate.id) for s in found.selected]
                item.lists["ours-wide"] = {k: wide[:k] for k in KS}
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
                lexical = [dia_id_of(conversation.memories[i].id) for i in best]
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


def session_of(dia_id: str) -> str:
    """The session a turn belongs to: ``"D3:5"`` -> ``"D3"`` (a memory with no turn, ``"-"``, stays ``"-"``)."""
    return dia_id.split(":", 1)[0]


def ranked_sessions(retrieved: Sequence[str]) -> list[str]:
    """Sessions in the order their first turn appears in ``retrieved`` (a session ranks by its best turn)."""
    return list(dict.fromkeys(session_of(dia) for dia in retrieved if dia != "-"))


def session_hit_at_1(retrieved: Sequence[str], evidence: Sequence[str]) -> float:
    """1.0 when the best-ranked session holds some of the evidence."""
    sessions = ranked_sessions(retrieved)
    return float(bool(sessions) and sessions[0] in {session_of(dia) for dia in evidence})


def session_ndcg_at_5(retrieved: Sequence[str], evidence: Sequence[str]) -> float:
    """NDCG@5 over the ranked sessions, a session relevant (gain 1) when it holds some of the evidence."""
    relevant = {session_of(dia) for dia in evidence}
    gained = sum(
        1.0 / np.log2(rank + 1) for rank, session in enumerate(ranked_sessions(retrieved)[:5], 1) if session in relevant
    )
    ideal = sum(1.0 / np.log2(rank + 1) for rank in range(1, min(len(relevant), 5) + 1))
    return float(gained / ideal)


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
            split = "dev" if item.question.conversation in DEV_CONVERSATIONS else "test"
            groups[f"overall (1-4) {split} split"].append(item)
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
            entry["session_hit@1"] = round(
                statistics.fmean(session_hit_at_1(i.lists[retriever][MAX_K], i.question.evidence) for i in items), 4
            )
            entry["session_ndcg@5"] = round(
                statistics.fmean(session_ndcg_at_5(i.lists[retriever][MAX_K], i.question.evidence) for i in items), 4
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
    chat_model: BaseChatModel, long_term: LongTermStore, embedder: Embedder, conversations: Sequence[Conversation]
) -> dict[str, Any]:
    """Answer each question (categories 1-4) from our 10 memories, then judge it against the gold answer."""
    verdicts: list[tuple[str, bool]] = []
    questions = [(c, q) for c in conversations for q in c.questions if q.category != 5]
    with progress_bar() as progress:
        task = progress.add_task("answer + judge", total=len(questions))
        for conversation, question in questions:
            found = recall(long_term, embedder, conversation.user_id, question.question, MAX_K)
            memories = []
            for selected in found.selected:
                created = float(selected.candidate.metadata.get("created_at", 0.0))
                when = dt.datetime.fromtimestamp(created, dt.UTC).strftime("%d %B %Y")
                memories.append(f"({when}) {selected.candidate.text}")
            judged = await answer_and_judge(
                chat_model, question=question.question, gold_answer=question.answer, memories=memories
            )
            verdicts.append((f"{question.category} {CATEGORY_NAMES[question.category]}", judged.correct))
            progress.advance(task)
    return j_scores(verdicts, overall="overall (1-4)")


# -- report --------------------------------------------------------------------------------------------------
def print_table(metrics: dict[str, Any]) -> None:
    table = Table(title="LoCoMo evidence retrieval (recall@k, MRR within 10; session Hit@1 and NDCG@5)")
    for column in ("category", "n", "retriever", "R@1", "R@5", "R@10", "MRR", "S-Hit@1", "S-NDCG@5"):
        table.add_column(column, justify="left" if column in ("category", "retriever") else "right")
    groups = metrics["ours"]["by_category"]
    for name in groups:
        for index, retriever in enumerate(RETRIEVERS):
            entry = metrics[retriever]["by_category"][name]
            table.add_row(
                name if index == 0 else "",
                str(groups[name]["questions"]) if index == 0 else "",
                retriever,
                *(
                    f"{entry[key]:.3f}"
                    for key in ("recall@1", "recall@5", "recall@10", "mrr", "session_hit@1", "session_ndcg@5")
                ),
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


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (its threads included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 1)


def versions() -> dict[str, str]:
    return package_versions("chromadb", "onnxruntime", "numpy", "rank-bm25", "langchain-core")


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


async def run(
    services: Services, conversations: Sequence[Conversation], args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | str]:
    """Ingest (or reuse), retrieve, score, and judge when a chat model is configured; closes the services."""
    try:
        return await _run(services, conversations, args)
    finally:
        await services.aclose()


async def _run(
    services: Services, conversations: Sequence[Conversation], args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | str]:
    long_term, embedder = services.long_term, services.embedder
    complete = all(long_term.count(c.user_id) >= c.turns for c in conversations)
    if args.reuse and args.data_dir is not None and complete:
        for conversation in conversations:
            map_memories(long_term, conversation)
        ingest_stats: dict[str, Any] = {"memories": sum(len(c.memories) for c in conversations), "reused": True}
    else:
        ingest_stats = await ingest(services, conversations)
    ranked = retrieve_all(long_term, embedder, conversations)
    metrics = score(ranked)
    judged: dict[str, Any] | str
    if args.no_judge:
        judged = "not run: --no-judge"
    elif services.chat_model is None:
        judged = "not run: no chat model configured (set COMPANION_CHAT_MODEL)"
    else:
        judged = await judge_answers(services.chat_model, long_term, embedder, conversations)
    return metrics, ingest_stats, judged


def main() -> None:
    parser = argparse.ArgumentParser(description="LoCoMo evidence-retrieval benchmark (see bench/README.md)")
    parser.add_argument("data", type=Path, help="path to locomo10.json")
    parser.add_argument("--conversations", type=int, default=None, help="only the first N conversations")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="the data dir (Redis, Chroma) of the run (default: a temp dir)"
    )
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
    questions = sum(len(c.questions) for c in conversations)
    console.print(
        f"LoCoMo: {len(conversations)} conversations, {sum(c.turns for c in conversations):,} turns, "
        f"{questions:,} questions with evidence ({sum(c.skipped_questions for c in conversations)} without, skipped)"
    )
    with data_dir(args.data_dir) as root:
        try:
            # its own embedded Redis and Chroma under the run's data dir, whatever the environment points at:
            # process_queued drains every queued submission, so a shared Redis must never be used here
            services = build_services(load_settings(data_dir=root, redis_url=None, chroma_url=None, chroma_path=None))
        except CompanionError as exc:
            raise SystemExit(f"error: {exc}") from None
        try:
            metrics, ingest_stats, judged = asyncio.run(run(services, conversations, args))
        finally:
            if "redis" in services.started:
                EmbeddedRedis(root).stop()
    print_table(metrics)
    overall = {r: metrics[r]["by_category"]["overall (1-4)"]["recall@10"] for r in RETRIEVERS}
    baseline = max(overall["cosine"], overall["bm25"])
    met = {r: overall[r] >= TARGET_RECALL_AT_10 and overall[r] > baseline for r in ("ours", "ours-wide")}
    j_overall = judged if isinstance(judged, str) else judged["overall (1-4)"]
    ingest_line = (
        "reused store"
        if ingest_stats.get("reused")
        else f"{ingest_stats['turns']:,} turns in {ingest_stats['seconds']:.1f} s ({ingest_stats['turns_per_s']:.0f}/s)"
    )
    console.print(f"ingest: {ingest_stats['memories']:,} memories, {ingest_line}   J: {j_overall}")
    console.print(
        f"target recall@10 >= {TARGET_RECALL_AT_10} overall and above both baselines: "
        + ("[green]met[/]" if any(met.values()) else "[red]not met[/]")
        + " ("
        + ", ".join(f"{r} {overall[r]:.3f}" for r in RETRIEVERS)
        + ")"
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
        "configuration": {
            "mmr_lambda": retrieval.MMR_LAMBDA,
            "lexical_weight": retrieval.LEXICAL_WEIGHT,
            "similarity_threshold": retrieval.SIMILARITY_THRESHOLD,
            "ours_candidates": {str(k): retrieval.candidate_count(k) for k in KS},
            "ours_wide_candidates": WIDE_CANDIDATES,
            "dev_split": list(DEV_CONVERSATIONS),
        },
        "elapsed_s": round(time.perf_counter() - started, 1),
        # the machine is shared: CPU time and the load average say how much of the wall time was ours
        "cpu_s": cpu_seconds(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "versions": versions(),
    }
    json_out = args.json_out or ROOT / "bench" / "results" / f"locomo-{dt.date.today().isoformat()}.json"
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    console.print(
        f"results written to {json_out} ({report['elapsed_s']:.0f} s wall, {report['cpu_s']:.0f} s CPU, "
        f"load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
