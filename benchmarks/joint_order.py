"""A joint suite's seed order: reduce's (each seed where it first comes) against sorted seeds.

A joint suite is one system for all its targets.  The judge used to sort the union of the
targets' chosen seeds; ``reduce --targets`` merges them target by target, each seed where it
first comes (:func:`~ibp_evolve.reducer.plans.merge_seeds`).  The solver breaks pivot ties by
seed position, so the same seeds trimmed differently and ``score`` reported another system
than the reduction it prices.  The judge now merges as reduce does.  This script measures, on
joint versions of built-in suites, for a few library rules, both orders on the same chosen
seeds with the same judge (same point, prime and warm row cache):

* trimmed equations and multiply-adds of the joint solve in each order,
* the milliseconds of building the union and solving it (median of ``--repeats``, the two
  orders interleaved), and their ratio (merged / sorted),
* the milliseconds of a whole ``Judge.score`` (selection included), as evolution pays it.

Run:  python benchmarks/joint_order.py [--repeats 7] [--out benchmarks/results/joint_order.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ibp_evolve.judge.score import Judge  # noqa: E402
from ibp_evolve.judge.suites import load_suite, parse_suite  # noqa: E402
from ibp_evolve.language.library import resolve_rule  # noqa: E402
from ibp_evolve.reducer.plans import merge_seeds  # noqa: E402
from bench_io import write_result  # noqa: E402  (a script beside this one)

# built-in suite -> rules scored on its joint version (symmetries: the suite's own setting)
CASES = {
    "triangle_box_train": ("tube_seeding", "improved_seeding_dots"),
    "triangle_box_symmetric": ("tube_seeding", "rank_path"),
    "kite_train": ("tube_seeding", "improved_seeding_dots"),
    "box_train": ("tube_seeding", "improved_seeding_dots"),
}


def joint_version(name: str):
    suite = load_suite(name)
    return parse_suite(f'name = "{name}_joint"\nfamily = "{suite.family.name}"\njoint = true\n'
                       f"max_seeds = 8000\nsymmetries = {str(suite.symmetries).lower()}\n"
                       f"targets = {[list(t) for t in suite.targets]}\n",
                       origin=f"{name} (joint)")


def _sorted_union(parts):
    return np.unique(np.vstack(parts), axis=0)


def measure(judge: Judge, rule_name: str, repeats: int) -> dict:
    rule = resolve_rule(rule_name)
    chosen = [c[0] for c in judge.select(rule)]
    parts = [c for c in chosen if len(c)]
    targets = judge.suite.targets
    orders = {"merged": merge_seeds, "sorted": _sorted_union}
    figures, times = {}, {k: [] for k in orders}
    for name, union_of in orders.items():   # warm: rows cached, solver loaded
        red = judge.reduce(union_of(*parts) if name == "merged" else union_of(parts), targets)
        figures[name] = {"seeds": red.seeds, "trimmed_equations": red.trimmed_equations,
                         "multiply_adds": red.multiply_adds, "complete": red.complete}
    for _ in range(repeats):
        for name, union_of in orders.items():
            start = time.perf_counter()
            judge.reduce(union_of(*parts) if name == "merged" else union_of(parts), targets)
            times[name].append(time.perf_counter() - start)
    score_times = []
    judge.score(rule)
    for _ in range(repeats):
        start = time.perf_counter()
        judge.score(rule)
        score_times.append(time.perf_counter() - start)
    ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    return {"rule": rule_name, "merged": figures["merged"], "sorted": figures["sorted"],
            "solve_ms_merged": round(ms["merged"], 2), "solve_ms_sorted": round(ms["sorted"], 2),
            "ratio_merged_over_sorted": round(ms["merged"] / ms["sorted"], 3),
            "score_ms": round(statistics.median(score_times) * 1e3, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                    "joint_order.json")
    args = ap.parse_args()
    rows = []
    for suite_name, rules in CASES.items():
        judge = Judge(joint_version(suite_name))
        for rule_name in rules:
            row = {"suite": f"{suite_name} (joint, symmetries "
                            f"{'on' if judge.symmetries else 'off'})"} | measure(
                judge, rule_name, args.repeats)
            rows.append(row)
            m, s = row["merged"], row["sorted"]
            print(f"{row['suite']:44s} {rule_name:22s} trimmed {m['trimmed_equations']:>5} "
                  f"(sorted {s['trimmed_equations']:>5}), mult-adds {m['multiply_adds']:>9,} "
                  f"(sorted {s['multiply_adds']:>9,}); solve {row['solve_ms_merged']:.1f} ms "
                  f"vs {row['solve_ms_sorted']:.1f} ms sorted (x{row['ratio_merged_over_sorted']})"
                  f", score {row['score_ms']:.1f} ms", flush=True)
    ratios = [r["ratio_merged_over_sorted"] for r in rows]
    write_result(args.out, {"repeats": args.repeats, "cases": rows,
                            "median_ratio_merged_over_sorted": round(statistics.median(ratios), 3),
                            "load_average": round(os.getloadavg()[0], 2)},
                 stamp=True)


if __name__ == "__main__":
    main()
