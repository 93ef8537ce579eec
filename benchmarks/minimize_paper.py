"""Minimal complete seed sets on the paper target (``ibp-evolve minimize``), the README's figures.

Starts from ``improved_seeding``'s seeds on ``triangle_box_paper`` (the 92 of Kira 3's rule) and
runs ``minimize_suite`` once per random seed: the greedy pass alone (``--swaps 0 --restarts 1``)
and the full search (``--swaps 1000 --restarts 4 --seconds 5``, the CLI's defaults).  Reported
per run: the start, the set left by mark and sweep, the greedy and the final minimal size, the
number of solves and the seconds; the judge is built once (not timed), as a second ``minimize``
in one process would find it.

``per_trial``: the seconds per trial solve (a search's seconds over its solves) of the same
search (greedy pass and 30 swaps) on the paper target and on I(1,1,1,1,1,1,-5), without sector
symmetries, with them, and with them solved as before (every trial instantiating, closing and
solving a system of its own through ``Judge.reduce_solved``), in this run; the last two must
keep identical sets.

Run:  python benchmarks/minimize_paper.py [--seeds 0 1 2 3 4 5 6 7] [--rule improved_seeding]
                                          [--out benchmarks/results/minimize_paper.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

import numpy as np

from ibp_evolve.engines.symbolic.distill import rule_masks
from ibp_evolve.judge.minimize import (_judge_solve, _Minimizer, _search, minimize_suite,
                                       neighbour_pool)
from ibp_evolve.judge.score import Judge
from ibp_evolve.judge.suites import load_suite, parse_suite
from ibp_evolve.reducer.symmetry_rows import columns_of_rows, seed_images
from bench_io import write_result  # a script beside this one

SUITE = "triangle_box_paper"
SEARCHES = {"greedy": dict(swaps=0, restarts=1, seconds=5.0),
            "swaps": dict(swaps=1000, restarts=4, seconds=5.0)}
PER_TRIAL = dict(swaps=30, restarts=1, seconds=600.0)
RANK5 = """
name = "rank5"
family = "triangle_box"
targets = [[1, 1, 1, 1, 1, 1, -5]]
"""


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
    trials = [per_trial(suite, args.rule, seed) for suite in (load_suite(SUITE),
                                                              parse_suite(RANK5))
              for seed in args.seeds[:3]]
    write_result(args.out, {"benchmark": "minimize_paper", "suite": SUITE, "rule": args.rule,
                            "searches": SEARCHES, "cores": os.cpu_count(), "runs": runs,
                            "per_trial_search": PER_TRIAL, "per_trial": trials},
                 stamp=True)
    return 0


def _rebuilt_solve(judge, seeds, targets):
    """The symmetric trial solve as it was: each trial's images instantiated, closed under
    the relations and solved through ``Judge.reduce_solved`` (the row cache's path)."""
    images, owner = seed_images(judge.sector_symmetries, judge.family, seeds, judge.point,
                                judge.prime, targets)

    def solve(seed_ids):
        mine = np.isin(owner, seed_ids)
        solved = judge.solved_seeds(seeds[seed_ids], targets)
        red = judge.reduce_solved(solved, targets)
        if not red.complete:
            return None
        used = solved[np.unique(red.trimmed_seed_equations // judge.rows.n_templates)]
        return np.unique(owner[mine][columns_of_rows(used, images[mine]) >= 0])
    return solve


def per_trial(suite, rule: str, seed: int) -> dict:
    """Seconds per trial solve of one search, three ways (see the module docstring)."""
    out = {"target": list(suite.targets[0]), "seed": seed}
    for name, symmetries in (("without_symmetries", False), ("with_symmetries", True)):
        judge = Judge(suite, symmetries=symmetries)
        masks = rule_masks(judge, rule, 60.0)
        minimize_suite(judge, masks, rng=seed, swaps=0, restarts=1)  # rows cached, as warm
        load = os.getloadavg()[0]
        (result,) = minimize_suite(judge, masks, rng=seed, **PER_TRIAL).results
        out[name] = {"minimal": result.size, "solves": result.solves,
                     "ms_per_trial": round(1e3 * result.seconds / result.solves, 3),
                     "load_avg_1min": round(load, 2)}
    # the same search with each trial rebuilt (judge: the symmetric one, rows still cached)
    start = np.flatnonzero(masks[0])
    local = np.union1d(start, neighbour_pool(judge.universes[0], start))
    seeds, targets = judge.universes[0][local], suite.targets
    load = os.getloadavg()[0]
    rebuilt = _search(_Minimizer(_rebuilt_solve(judge, seeds, targets), targets), seeds,
                      np.searchsorted(local, start), rng=np.random.default_rng(seed), pool=None,
                      randomise=True, **PER_TRIAL)
    out["with_symmetries_rebuilt"] = {
        "minimal": rebuilt.size, "solves": rebuilt.solves,
        "ms_per_trial": round(1e3 * rebuilt.seconds / rebuilt.solves, 3),
        "load_avg_1min": round(load, 2)}
    fast = _search(_Minimizer(_judge_solve(judge, seeds, targets), targets), seeds,
                   np.searchsorted(local, start), rng=np.random.default_rng(seed), pool=None,
                   randomise=True, **PER_TRIAL)
    out["identical_sets"] = bool(np.array_equal(fast.seed_ids, rebuilt.seed_ids))
    row = {k: out[k]["ms_per_trial"] for k in ("without_symmetries", "with_symmetries",
                                               "with_symmetries_rebuilt")}
    print(f"per trial, I{tuple(out['target'])} seed {seed}: {row} ms, identical sets "
          f"{out['identical_sets']}")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
