"""GP from a random start on triangle_box_paper, against random search (issue: ibp-evolve evolve).

For each seed: a GP run with the CLI's defaults (population 300, the evolution's cap of 2000
seeds per target, a pool of --workers processes) for --generations generations or --time-limit
seconds, whichever comes first.  Reported: wall time (pool start-up included) until the best
rule is complete with <= 92 seeds (improved seeding), <= 88 (the GP of arXiv:2502.05121) and
< 80; the best seed count at the end; then random search over the same primitive set (random
trees as the GP's initialisation draws them, heights 1-6) with as many judge evaluations
(distinct seed masks) as the GP used.

Run:  python benchmarks/evolve_paper.py [--seeds 0 1 2 3 4] [--generations 80]
                                        [--time-limit 300] [--workers 2]
                                        [--out benchmarks/results/evolve_paper.json]

The figures go to ``--out`` (JSON, with the machine's load average before and after each run),
from which ``benchmarks/readme_figures.py`` renders the README's block.

Measured: benchmarks/results/evolve_paper.json (rendered in the README's figures:evolve_paper
block).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import time
from pathlib import Path

from deap import gp

from ibp_evolve.engines.gp import DeapEngine, GPConfig, simplify_tree
from ibp_evolve.runs.evaluation import EvalJob, PoolEvaluator, SuiteSpec, mask_hash
from bench_io import write_result  # a script beside this one

THRESHOLDS = (92, 88, 79)


def first_time(logbook, threshold, offset):
    for stats in logbook:
        if stats["best_complete"] and stats["best_seeds"] <= threshold:
            return stats["elapsed"] + offset
    return None


def random_search(engine, evaluator, n_evaluations, seed, batch=256):
    """Best complete seed count of random trees, at ``n_evaluations`` distinct masks."""
    random.seed(10_000 + seed)
    prims, features = engine.primitives, engine.features
    seen, best, best_tree, candidates = set(), None, None, 0
    while len(seen) < n_evaluations:
        jobs, trees = [], {}
        while len(jobs) < min(batch, n_evaluations - len(seen)):
            tree = gp.PrimitiveTree(gp.genHalfAndHalf(prims.pset, 1, 6))
            candidates += 1
            masks = prims.masks(tree, features)
            digest = mask_hash(masks)
            if digest in seen:
                continue
            seen.add(digest)
            trees[len(jobs)] = tree
            jobs.append(EvalJob(len(jobs), masks=masks))
        for ev in evaluator.evaluate(jobs):
            if ev.ok and ev.complete and (best is None or ev.seeds < best):
                best, best_tree = ev.seeds, trees[ev.key]
    formula = simplify_tree(best_tree, prims, features)[0] if best_tree is not None else "-"
    return best, formula, candidates


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def fmt(x, unit="s"):
    return "-" if x is None else f"{x:.0f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--generations", type=int, default=80)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--population", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-random-search", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "evolve_paper.json"))
    args = parser.parse_args()
    spec = SuiteSpec("triangle_box_paper", max_seeds=2000)
    rows, runs = [], []
    for seed in args.seeds:
        load_before = os.getloadavg()[0]   # other work on the machine slows every figure
        start, cpu_start = time.monotonic(), cpu_seconds()
        with PoolEvaluator(spec, workers=args.workers) as pool:
            offset = time.monotonic() - start
            engine = DeapEngine(GPConfig(seed=seed, population=args.population,
                                         generations=args.generations,
                                         time_limit=args.time_limit - offset))
            engine.evolve(spec, evaluator=pool)
            wall = time.monotonic() - start
            times = [first_time(engine.logbook_, t, offset) for t in THRESHOLDS]
            best = engine.best_
            print(f"seed {seed}: GP {wall:.0f}s, {engine.generation_ + 1} generations, "
                  f"{engine.n_candidates_} candidates, {engine.n_evaluations_} evaluations; "
                  f"best {best.seeds} seeds ({'complete' if best.complete else 'incomplete'}); "
                  f"<=92 at {fmt(times[0])}, <=88 at {fmt(times[1])}, <80 at {fmt(times[2])}",
                  flush=True)
            print(f"    GP best: {best.formula}", flush=True)
            rs = (None, "-", 0) if args.no_random_search else random_search(
                engine, pool, engine.n_evaluations_, seed)
            if not args.no_random_search:
                print(f"    random search, {engine.n_evaluations_} evaluations ({rs[2]} trees): "
                      f"best complete {rs[0]} seeds: {rs[1]}", flush=True)
        cpu = cpu_seconds() - cpu_start
        print(f"    CPU time (GP and random search, all processes): {cpu:.0f}s", flush=True)
        rows.append((seed, wall, engine.n_evaluations_, best.seeds if best.complete else None,
                     times, rs[0]))
        runs.append({"seed": seed, "wall_seconds": round(wall, 1),
                     "generations": engine.generation_ + 1,
                     "candidates": engine.n_candidates_, "evaluations": engine.n_evaluations_,
                     "best_seeds": best.seeds, "best_complete": bool(best.complete),
                     "formula": best.formula,
                     "first_seconds": {str(t): None if x is None else round(x, 1)
                                       for t, x in zip(THRESHOLDS, times)},
                     "random_search": None if args.no_random_search else {
                         "evaluations": engine.n_evaluations_, "trees": rs[2],
                         "best_seeds": rs[0], "formula": rs[1]},
                     "cpu_seconds": round(cpu, 1),
                     "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]})

    print("\nseed  GP wall  evals   GP best  <=92    <=88    <80     random best")
    for seed, wall, evals, gp_best, times, rs_best in rows:
        print(f"{seed:>4}  {wall:>6.0f}s  {evals:>6}  {gp_best or '-':>7}  "
              + "  ".join(f"{fmt(t):>6}" for t in times) + f"  {rs_best or '-':>11}")
    n = len(rows)
    for k, t in enumerate(THRESHOLDS):
        hits = [r[4][k] for r in rows if r[4][k] is not None]
        label = f"<= {t}" if t != 79 else "< 80"
        print(f"complete rule with {label} seeds: {len(hits)}/{n} runs"
              + (f", median {statistics.median(hits):.0f}s (max {max(hits):.0f}s)" if hits
                 else ""))
    gp_bests = [r[3] for r in rows if r[3] is not None]
    rs_bests = [r[5] for r in rows if r[5] is not None]
    print(f"best seed count: GP {min(gp_bests) if gp_bests else '-'} (median "
          f"{statistics.median(gp_bests) if gp_bests else '-'}), random search "
          f"{min(rs_bests) if rs_bests else '-'} (median "
          f"{statistics.median(rs_bests) if rs_bests else '-'})")
    write_result(Path(args.out), {
        "suite": spec.suite, "population": args.population, "generations": args.generations,
        "time_limit": args.time_limit, "workers": args.workers, "cores": os.cpu_count(),
        "thresholds": {"92": "improved seeding", "88": "the GP of arXiv:2502.05121",
                       "79": "fewer than 80"},
        "runs": runs}, stamp=True)


if __name__ == "__main__":
    main()
