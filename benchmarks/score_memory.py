"""Memory of the judge at realistic sizes (issue 12, item 1): `score` of a rule on the four
SAILIR triangle-box integrals (suite triangle_box_sailir).

Each target is scored in a fresh process so that its peak resident memory (getrusage
ru_maxrss) is its own.  Per target: the candidate universe, the seeds the rule keeps, equations,
trimmed equations, multiply-adds, wall time of the score (median over --repeats runs for targets
that take under --repeat-below seconds, else one run), the peak RSS, the RSS after the judge is
built (before scoring), the bytes of the kept seeds' equation rows ("what the rule keeps")
and, for context, the estimated rows of the whole universe that the previous judge instantiated
up front (it was killed by the kernel at 21 GB on this suite).  Goal: peak <= 2 GiB + kept rows.

A target whose rule keeps more than --max-seeds seeds is failed without solving (as the judge
does for any candidate): the printout gives the count, i.e. the bound that stopped it.

Run:  python benchmarks/score_memory.py [--rule improved_seeding_dots] [--max-seeds 400000]
                                         [--repeats 3] [--out benchmarks/score_memory.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

GOAL_BASE_BYTES = 2 << 30
SUITE = "triangle_box_sailir"


def _rss_bytes() -> int:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def child(index: int, rule_name: str, max_seeds: int, objective: str) -> dict:
    """Score one target of the suite in this process; return the measurements."""
    from ibp_evolve.judge.bounds import rows_bytes
    from ibp_evolve.judge.score import Judge
    from ibp_evolve.judge.suites import load_suite
    from ibp_evolve.language.library import resolve_rule

    suite = load_suite(SUITE)
    suite = dataclasses.replace(suite, targets=(suite.targets[index],), max_seeds=max_seeds)
    rule = resolve_rule(rule_name)
    start = time.perf_counter()
    judge = Judge(suite)
    judge_seconds = time.perf_counter() - start
    rss_judge = _rss_bytes()
    start = time.perf_counter()
    report = judge.score(rule, objective)
    seconds = time.perf_counter() - start
    (t,) = report.targets
    # the rows of the kept seeds, at the cache's measured bytes per seed (the cache itself may
    # have evicted some: it is bounded)
    stats = judge.rows.stats
    kept_rows_bytes = int(stats.bytes / stats.seeds * t.seeds) if t.equations and stats.seeds \
        else 0
    return {"target": t.target, "universe": judge.universe_sizes[0], "seeds": t.seeds,
            "equations": t.equations, "trimmed_equations": t.trimmed_equations,
            "multiply_adds": t.multiply_adds, "reduced": t.reduced, "reason": t.reason,
            "seconds": seconds, "solve_seconds": t.seconds, "judge_seconds": judge_seconds,
            "peak_rss_bytes": _rss_bytes(), "rss_after_judge_bytes": rss_judge,
            "kept_rows_bytes": kept_rows_bytes,
            "whole_universe_rows_bytes": rows_bytes(judge.universe_sizes[0], judge.n_terms)}


def run_child(index: int, args) -> dict:
    command = [sys.executable, __file__, "--child", str(index), "--rule", args.rule,
               "--max-seeds", str(args.max_seeds), "--objective", args.objective]
    out = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    if out.returncode != 0:
        return {"index": index, "error": (out.stderr.strip().splitlines() or ["?"])[-1],
                "returncode": out.returncode}
    return json.loads(out.stdout.strip().splitlines()[-1])


def gib(n: float) -> str:
    return f"{n / (1 << 30):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", default="improved_seeding_dots")
    parser.add_argument("--max-seeds", type=int, default=400_000)
    parser.add_argument("--objective", default="trimmed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repeat-below", type=float, default=30.0,
                        help="repeat only targets whose first run took less (seconds)")
    parser.add_argument("--targets", default="0,1,2,3", help="suite target positions")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--out", default=str(Path(__file__).with_suffix(".json")))
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.rule, args.max_seeds, args.objective)))
        return 0

    rows = []
    print(f"score {args.rule} on {SUITE} (objective {args.objective}, max_seeds "
          f"{args.max_seeds:,}; one fresh process per target)")
    header = ("target", "universe", "seeds", "equations", "trimmed", "mult-adds", "reduced",
              "s (median)", "runs", "peak GiB", "kept rows GiB", "goal GiB", "old rows GiB")
    print("  ".join(header))
    for index in (int(x) for x in args.targets.split(",")):
        runs = [run_child(index, args)]
        if "error" not in runs[0] and runs[0]["seconds"] < args.repeat_below:
            runs += [run_child(index, args) for _ in range(args.repeats - 1)]
        if any("error" in r for r in runs):
            bad = next(r for r in runs if "error" in r)
            print(f"target #{index}: failed: {bad['error']}")
            rows.append(bad)
            continue
        row = dict(runs[0])
        row["seconds"] = statistics.median(r["seconds"] for r in runs)
        row["peak_rss_bytes"] = statistics.median(r["peak_rss_bytes"] for r in runs)
        row["runs"] = len(runs)
        row["goal_bytes"] = GOAL_BASE_BYTES + row["kept_rows_bytes"]
        row["within_goal"] = row["peak_rss_bytes"] <= row["goal_bytes"]
        rows.append(row)
        name = "I(" + ",".join(map(str, row["target"])) + ")"
        print("  ".join([name, f"{row['universe']:,}", f"{row['seeds']:,}",
                         f"{row['equations']:,}", f"{row['trimmed_equations']:,}",
                         f"{row['multiply_adds']:,}",
                         "yes" if row["reduced"] else f"NO ({row['reason']})",
                         f"{row['seconds']:.2f}", str(row["runs"]),
                         gib(row["peak_rss_bytes"]), gib(row["kept_rows_bytes"]),
                         gib(row["goal_bytes"]), gib(row["whole_universe_rows_bytes"])]),
              flush=True)
    result = {"benchmark": "score_memory", "suite": SUITE, "rule": args.rule,
              "objective": args.objective, "max_seeds": args.max_seeds,
              "goal": "peak RSS <= 2 GiB + kept rows", "targets": rows,
              "machine": {"cpus": os.cpu_count()}}
    from ibp_evolve.reducer.templates import atomic_write_text
    atomic_write_text(Path(args.out), json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
