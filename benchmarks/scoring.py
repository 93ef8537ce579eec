"""Scoring throughput of the judge (issue: rules, suites and scoring).

On one core, every result cache off (each rule is distinct, so no mask is scored twice):
  (a) variants of improved seeding on triangle_box_paper, rule compilation + evaluation over
      the whole candidate universe + solve included             goal >= 200 rules/s
  (b) a population of random rules as GP would generate them: distribution of time per rule,
      and how the max_seeds cap bounds it
  (c) the multi-target suite triangle_box_train, per target and joint.

Run:  python benchmarks/scoring.py [--rules 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from ibp_evolve.language.library import resolve_rule  # noqa: E402
from ibp_evolve.judge.score import Judge  # noqa: E402
from ibp_evolve.judge.suites import load_suite, parse_suite  # noqa: E402

FEATURES = ["seed.r", "seed.s", "seed.t", "seed.d", "seed.missing", "target.r", "target.s",
            "target.t", "target.d"] + [f"seed.a[{i}]" for i in range(7)]


def improved_variants(count: int) -> list[str]:
    """Distinct rules of the improved-seeding shape with shifted budgets."""
    out = []
    for k in range(count):
        dots, extra, weight = k % 3, (k // 3) % 4 - 1, 1 + (k // 12) % 3
        out.append(f"def keep(seed, target):\n    return seed.d <= target.d + {dots} - {dots} "
                   f"and seed.s <= target.s + {extra} - {weight} * seed.missing + {k} * 0\n")
    return out


def random_expression(rng, depth: int) -> str:
    if depth == 0 or rng.random() < 0.3:
        return FEATURES[rng.integers(len(FEATURES))] if rng.random() < 0.8 else str(
            int(rng.integers(-3, 4)))
    op = rng.choice(["+", "-", "min", "max"])
    a, b = random_expression(rng, depth - 1), random_expression(rng, depth - 1)
    return f"{op}({a}, {b})" if op in ("min", "max") else f"({a} {op} {b})"


def random_condition(rng, depth: int) -> str:
    if depth == 0 or rng.random() < 0.4:
        cmp = rng.choice(["<=", "<", ">=", "=="])
        return f"{random_expression(rng, 2)} {cmp} {random_expression(rng, 2)}"
    op = rng.choice(["and", "or"])
    return f"({random_condition(rng, depth - 1)} {op} {random_condition(rng, depth - 1)})"


def random_rules(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"def keep(seed, target):\n    return {random_condition(rng, 3)}\n"
            for _ in range(count)]


def time_rules(judge: Judge, sources: list[str]) -> tuple[list[float], list]:
    times, reports = [], []
    for src in sources:
        start = time.perf_counter()
        reports.append(judge.score(src))
        times.append(time.perf_counter() - start)
    return times, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=300)
    args = parser.parse_args()
    paper = Judge(load_suite("triangle_box_paper"))
    paper.score(resolve_rule("improved_seeding"))  # warm-up

    times, reports = time_rules(paper, improved_variants(args.rules))
    complete = sum(r.complete for r in reports)
    print(f"(a) {len(times)} improved-seeding variants on triangle_box_paper "
          f"({paper.universe_sizes[0]} candidate seeds): {len(times) / sum(times):.0f} rules/s "
          f"(goal >= 200), median {statistics.median(times) * 1e3:.2f} ms/rule, "
          f"{complete} complete")

    times, reports = time_rules(paper, random_rules(args.rules))
    t = np.array(times) * 1e3
    capped = np.array([any("max_seeds" in x.reason for x in r.targets) for r in reports])
    seeds = np.array([r.targets[0].seeds for r in reports])
    print(f"(b) {len(t)} random GP-like rules: {len(t) / t.sum() * 1e3:.0f} rules/s; ms/rule "
          f"p10 {np.percentile(t, 10):.2f}, median {np.median(t):.2f}, p90 "
          f"{np.percentile(t, 90):.2f}, max {t.max():.2f}")
    solved = ~capped
    print(f"    {capped.sum()} rules exceeded max_seeds={paper.suite.max_seeds} and were not "
          f"solved (median {np.median(t[capped]) if capped.any() else 0:.2f} ms); solved ones "
          f"had median {np.median(seeds[solved]) if solved.any() else 0:.0f} seeds, slowest "
          f"{t[solved].max() if solved.any() else 0:.1f} ms; "
          f"{sum(r.complete for r in reports)} complete")

    train = load_suite("triangle_box_train")
    for joint in (False, True):
        suite = train if not joint else parse_suite(
            'family = "triangle_box"\njoint = true\nmax_seeds = 8000\ntargets = '
            + str([list(x) for x in train.targets]) + "\n", origin="triangle_box_train (joint)")
        judge = Judge(suite)
        rule = resolve_rule("improved_seeding_dots")
        judge.score(rule)
        reps = [judge.score(rule) for _ in range(5)]
        per_target = np.median([[x.seconds for x in r.targets] for r in reps], axis=0) * 1e3
        wall = []
        for _ in range(5):
            start = time.perf_counter()
            judge.score(rule)
            wall.append(time.perf_counter() - start)
        label = "joint" if joint else "per target"
        print(f"(c) triangle_box_train {label}: {statistics.median(wall) * 1e3:.1f} ms per rule "
              f"(solve ms per target: {', '.join(f'{x:.1f}' for x in per_target)}), complete "
              f"{reps[0].complete}, seeds {[x.seeds for x in reps[0].targets]}")


if __name__ == "__main__":
    main()
