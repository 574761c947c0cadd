"""``companion eval``: run a suite against the real services, or compare two results.

    companion eval SUITE [--dataset PATH] [--out DIR] [--json]
    companion eval --compare A.json B.json
    companion eval --list

Exit codes: 0 when the suite ran (``measured`` or ``passed``) or was not run for lack of a chat model (reported as
NOT RUN, never as passed), 1 when it ``failed`` (isolation leaked), 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from companion.core.errors import InvalidInputError

if TYPE_CHECKING:
    from companion.core.settings import Settings
    from evals.registry import Suite

#: Rate limits for the eval's own short-term store: suites send many messages per user per minute on purpose;
#: every message is still counted against them.
EVAL_RATE_LIMIT = 1_000_000


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``companion eval`` (kept here so companion/cli/main.py only wires them in)."""
    parser.add_argument("suite", nargs="?", help="suite to run (see --list)")
    parser.add_argument("--dataset", type=Path, help="JSONL dataset (default: the suite's own in evals/datasets/)")
    parser.add_argument("--out", type=Path, help="directory for the JSON result and PNG (default: DATA_DIR/evals)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="compare two result files")
    parser.add_argument("--list", action="store_true", help="list the suites")
    parser.add_argument("--json", action="store_true", help="print the result (or comparison) as JSON")


async def run_eval_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Dispatch ``companion eval``."""
    from evals.registry import SUITES

    if args.list:
        for suite in SUITES.values():
            source = f"evals/datasets/{suite.dataset}" if suite.dataset else "reads its own data"
            console.print(f"[bold]{suite.name}[/]  {suite.description}  [dim]({source})[/]")
        return 0
    from evals.runner import compare_results, get_suite, load_result, print_comparison, print_result

    if args.compare:
        if args.suite:
            raise InvalidInputError("give either a suite to run or --compare A B, not both")
        a, b = (load_result(path) for path in args.compare)
        diff = compare_results(a, b)
        if args.json:
            print(json.dumps(diff, ensure_ascii=False))
        else:
            print_comparison(diff, (str(args.compare[0]), str(args.compare[1])), console)
        return 0
    if not args.suite:
        raise InvalidInputError(f"name a suite to run ({', '.join(SUITES)}), or use --compare A B or --list")
    suite = get_suite(args.suite)
    if args.dataset is not None and not args.dataset.is_file():
        raise InvalidInputError(f"dataset {args.dataset} does not exist")
    result, json_path = await _run(suite, args, settings, console)
    if args.json:
        print(json.dumps({"result": str(json_path), **{k: v for k, v in result.items() if k != "cases"}}))
    else:
        print_result(result, json_path, console)
    return 1 if result["status"] == "failed" else 0


async def _run(
    suite: Suite, args: argparse.Namespace, settings: Settings, console: Console
) -> tuple[dict[str, Any], Path]:
    from companion.services import open_services
    from evals.core import EvalEnv
    from evals.runner import new_run_id, run_suite
    from memory.short_term import ShortTermStore

    async with open_services(settings) as services:
        env = EvalEnv(
            long_term=services.long_term,
            short_term=ShortTermStore(
                services.redis,
                context_turns=settings.context_turns,
                active_ttl=settings.active_ttl_seconds,
                inactive_ttl=settings.inactive_ttl_seconds,
                per_user_per_minute=EVAL_RATE_LIMIT,
                global_per_minute=EVAL_RATE_LIMIT,
            ),
            embedder=services.embedder,
            chat_model=services.chat_model,
            retrieval_k=settings.retrieval_k,
            run_id=new_run_id(),
            cache_dir=settings.data_dir / "evals" / "cache",
        )
        out_dir = args.out or settings.data_dir / "evals"
        return await run_suite(suite, env, out_dir=out_dir, dataset=args.dataset, console=console)
