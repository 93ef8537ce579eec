"""Minimal complete seed sets on the paper target (``ibp-evolve minimize``), the README's figures.

Starts from ``improved_seeding``'s seeds on ``triangle_box_paper`` (the 92 of Kira 3's rule) and
runs ``minimize_suite`` once per random seed: the greedy pass alone (``--swaps 0 --restarts 1``)
and the full search (``--swaps 1000 --restarts 4 --seconds 5``, the CLI's defaults).  Reported
per run: the start, the set left by mark and sweep, the greedy and the final minimal size, the
number of solves and the seconds; the judge is built once (not timed), as a second ``minimize``
in one process would find it.

Run:  python benchmarks/minimize_paper.py [--seeds 0 1 2 3 4 5 6 7] [--rule improved_seeding]
                                          [--out benchmarks/results/minimize_paper.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from ibp_evolve.engines.symbolic.distill import rule_masks
from ibp_evolve.judge.minimize import minimize_suite
from ibp_evolve.judge.score import Judge
from ibp_evolve.judge.suites import load_suite
from bench_io import write_result  # a script beside this one

SUITE = "triangle_box_paper"
SEARCHES = {"greedy": dict(swaps=0, restarts=1, seconds=5.0),
            "swaps": dict(swaps=1000, restarts=4, seconds=5.0)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--rule", default="improved_seeding")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results"
                        / "minimize_paper.json")
    args = parser.parse_args(argv)
    judge = Judge(load_suite(SUITE))
    masks = rule_masks(judge, args.rule, 60.0)
    runs = []
    for search, options in SEARCHES.items():
        for seed in args.seeds:
            load = os.getloadavg()[0]
            (result,) = minimize_suite(judge, masks, rng=seed, rule=args.rule, **options).results
            runs.append({"search": search, "seed": seed, "start": result.start_size,
                         "pruned": result.pruned_size, "greedy": result.greedy_size,
                         "minimal": result.size, "complete": result.complete,
                         "solves": result.solves, "seconds": round(result.seconds, 4),
                         "load_avg_1min": round(load, 2)})
            print(f"{search:6s} seed {seed}: {result.start_size} -> pruned {result.pruned_size}"
                  f" -> greedy {result.greedy_size} -> minimal {result.size} "
                  f"({result.solves} solves, {result.seconds:.2f} s, load {load:.1f})")
    for search in SEARCHES:
        sizes = [r["minimal"] for r in runs if r["search"] == search]
        secs = [r["seconds"] for r in runs if r["search"] == search]
        print(f"{search}: minimal {min(sizes)}-{max(sizes)} seeds, median "
              f"{statistics.median(secs):.2f} s")
    write_result(args.out, {"benchmark": "minimize_paper", "suite": SUITE, "rule": args.rule,
                            "searches": SEARCHES, "cores": os.cpu_count(), "runs": runs},
                 stamp=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
