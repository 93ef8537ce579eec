"""Sector symmetries at work: the judge's scoring time and a double-box reduction, on vs off.

1. The judge scores ``improved_seeding`` on the suite ``triangle_box_symmetric`` with sector
   symmetries on and off (two judges of the same suite, built and warmed by one untimed score:
   the engines score thousands of rules on one judge).  Median and minimum of ``--repeats``
   scores each, interleaved (alternately on first and off first) so that the machine's load
   falls on both alike; goal: on <= 1.2 x off.
2. ``reduce_exact`` of a planar double-box target with the default rule, on vs off: masters,
   seeds, equations (IBP, and relation rows apart), trimmed equations, seconds (median of
   ``--reduce-repeats`` after one untimed run; the masters of both bases are discovered
   first, untimed).

Run:  python benchmarks/symmetries.py [--repeats 60] [--out benchmarks/results/symmetries.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ibp_evolve.judge.rule_plan import rule_plan  # noqa: E402
from ibp_evolve.judge.score import Judge  # noqa: E402
from ibp_evolve.judge.suites import load_suite  # noqa: E402
from ibp_evolve.language.library import resolve_rule  # noqa: E402
from ibp_evolve.reducer.exact import reduce_exact  # noqa: E402
from ibp_evolve.reducer.family import load_family  # noqa: E402
from ibp_evolve.reducer.masters import family_masters  # noqa: E402
from bench_io import write_result  # noqa: E402  (a script beside this one)

SUITE = "triangle_box_symmetric"
RULE = "improved_seeding"
DOUBLE_BOX_TARGET = (1, 1, 1, 1, 1, 1, 1, -1, -1)
DOUBLE_BOX_POINT = {"d": Fraction(17, 3), "s": Fraction(5, 7), "t": Fraction(-3, 11)}


def judge_scoring(repeats: int) -> dict:
    rule = resolve_rule(RULE)
    judges = {}
    for on in (False, True):
        judge = Judge(load_suite(SUITE), symmetries=on)
        first = time.perf_counter()
        report = judge.score(rule)  # warms the row cache (and the relation cache)
        judges[on] = (judge, time.perf_counter() - first, report)
    times = {False: [], True: []}
    for k in range(repeats):
        # alternate which setting goes first: a load that drifts within a pair of scores
        # then falls on both alike
        for on in ((False, True) if k % 2 == 0 else (True, False)):
            start = time.perf_counter()
            judges[on][0].score(rule)
            times[on].append(time.perf_counter() - start)
    out = {}
    for on in (False, True):
        _, first, report = judges[on]
        out["on" if on else "off"] = {
            "complete": report.complete,
            "seeds": sum(t.seeds for t in report.targets),
            "trimmed_equations": sum(t.trimmed_equations for t in report.targets),
            "multiply_adds": sum(t.multiply_adds for t in report.targets),
            "first_score_s": round(first, 4),
            "score_median_s": round(statistics.median(times[on]), 5),
            "score_min_s": round(min(times[on]), 5)}
    out["ratio_on_over_off"] = round(out["on"]["score_median_s"]
                                     / out["off"]["score_median_s"], 3)
    # on a shared, loaded machine the fastest run is the steadiest estimate of the work
    out["ratio_of_fastest"] = round(out["on"]["score_min_s"] / out["off"]["score_min_s"], 3)
    out["goal_ratio"] = 1.2
    return out


def double_box(repeats: int) -> dict:
    family = load_family("double_box")
    out = {"target": list(DOUBLE_BOX_TARGET),
           "point": {k: str(v) for k, v in DOUBLE_BOX_POINT.items()}}
    for on in (False, True):
        start = time.perf_counter()
        family_masters(family, symmetries=on)  # discovery (cached on disk), untimed below
        discovery = time.perf_counter() - start
        seconds, result = [], None
        reduce_exact(family, [DOUBLE_BOX_TARGET], DOUBLE_BOX_POINT,  # untimed: loads the solver
                     rule_plan(resolve_rule("improved_seeding_dots"), family), symmetries=on)
        for _ in range(repeats):
            plan = rule_plan(resolve_rule("improved_seeding_dots"), family)
            start = time.perf_counter()
            result = reduce_exact(family, [DOUBLE_BOX_TARGET], DOUBLE_BOX_POINT, plan,
                                  symmetries=on)
            seconds.append(time.perf_counter() - start)
        stats = result["stats"]
        out["on" if on else "off"] = {
            "reduced": result["targets"][0]["reduced"],
            "masters_of_family": len(family_masters(family, symmetries=on)),
            "masters_in_result": len(result["targets"][0]["coefficients"]),
            "seeds": stats["seeds"], "equations": stats["equations"],
            "trimmed_equations": stats["trimmed_equations"],
            "symmetry_equations": stats.get("symmetry_equations", 0),
            "trimmed_symmetry_equations": stats.get("trimmed_symmetry_equations", 0),
            "multiply_adds": stats["multiply_adds"],
            "reduce_median_s": round(statistics.median(seconds), 3),
            "masters_lookup_s": round(discovery, 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--reduce-repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/symmetries.json")
    args = parser.parse_args()
    load = os.getloadavg()
    judge = judge_scoring(args.repeats)
    print(f"judge: {RULE} on {SUITE}, median of {args.repeats} scores (warm caches; load "
          f"average {load[0]:.1f} on {os.cpu_count()} cores)")
    for key in ("off", "on"):
        r = judge[key]
        print(f"  symmetries {key:3s}: {r['score_median_s'] * 1000:.2f} ms (min "
              f"{r['score_min_s'] * 1000:.2f}, first {r['first_score_s'] * 1000:.1f}), "
              f"complete {r['complete']}, {r['seeds']} seeds, {r['trimmed_equations']} "
              f"trimmed, {r['multiply_adds']:,} mult-adds")
    print(f"  on / off = {judge['ratio_on_over_off']} (medians), {judge['ratio_of_fastest']} "
          f"(fastest runs); goal <= {judge['goal_ratio']}")
    box = double_box(args.reduce_repeats)
    print(f"reduce double_box I{tuple(DOUBLE_BOX_TARGET)}, rule improved_seeding_dots, "
          f"median of {args.reduce_repeats}")
    for key in ("off", "on"):
        r = box[key]
        print(f"  symmetries {key:3s}: reduced {r['reduced']}, {r['masters_of_family']} masters "
              f"({r['masters_in_result']} in the result), {r['seeds']} seeds, "
              f"{r['equations']} equations + {r['symmetry_equations']} relation rows, "
              f"trimmed {r['trimmed_equations']} + {r['trimmed_symmetry_equations']}, "
              f"{r['multiply_adds']:,} mult-adds, {r['reduce_median_s']} s")
    out = ROOT / args.out if not Path(args.out).is_absolute() else Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_result(out, {"benchmark": "symmetries", "judge": judge, "double_box": box,
                       "cpu_count": os.cpu_count(), "load_average_before": load,
                       "load_average_after": os.getloadavg()},
                 remark=f" (load average {os.getloadavg()[0]:.1f}: a loaded machine slows both "
                        "settings alike)")


if __name__ == "__main__":
    main()
