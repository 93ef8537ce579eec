"""Where automorphism rows go: the region `score` and `reduce` share, against rows everywhere.

With sector symmetries a unique sector's self-maps give relation rows.  The judge put them only
in the sectors where the bases with and without symmetries differ
(:func:`~ibp_evolve.reducer.symmetry_rows.family_automorphism_region`); `reduce` used to put
them in every sector with a self-map (``automorphism_region(masters)``, sectors None), so the
two reported different systems for one target.  This script measures both regions on the same
seeds at the judge's point and prime, per target of the built-in suites with symmetries on,
for tube_seeding and rank_path (and the double box's mirror-sector target and the
symmetries benchmark's double-box target, where the family's self-maps do relate masters):

* seeds, IBP equations trimmed and relation rows trimmed (the replayed system holds both),
* multiply-adds of the solve (what `score` and `reduce` report),
* multiply-adds of re-solving the trimmed equations alone (each further prime or sample of an
  exact or analytic reduction),
* whether the coefficients agree (they must: the same masters, the same reduction).

Deterministic counts, no timing: one run suffices.

Run:  python benchmarks/automorphism_region.py [--out benchmarks/results/automorphism_region.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ibp_evolve.judge.rule_plan import rule_plan  # noqa: E402
from ibp_evolve.judge.score import Judge  # noqa: E402
from ibp_evolve.judge.suites import load_suite, parse_suite  # noqa: E402
from ibp_evolve.language.library import resolve_rule  # noqa: E402
from ibp_evolve.reducer.reduction import reduce_on_seeds  # noqa: E402
from ibp_evolve.reducer.solver import solve  # noqa: E402
from ibp_evolve.reducer.symmetry_rows import (automorphism_region,  # noqa: E402
                                             family_automorphism_region, with_symmetry_rows)
from ibp_evolve.reducer.system import build_system  # noqa: E402
from bench_io import write_result  # noqa: E402  (a script beside this one)

SUITES = ("triangle_box_symmetric", "triangle_box_rank_train", "triangle_box_rank_validation")
RULES = ("tube_seeding", "rank_path")
DOUBLE_BOX = (("tube_seeding", (1, 1, -1, 1, 2, 1, 1, 0, -1)),   # a mirror-sector target
              ("improved_seeding_dots", (1, 1, 1, 1, 1, 1, 1, -1, -1)))  # benchmarks/symmetries.py


def _solve(judge: Judge, seeds: np.ndarray, target, region) -> dict:
    system = build_system(judge.family, seeds, judge.point, judge.prime, judge.ordering,
                          extra_integrals=[target])
    system, relations = with_symmetry_rows(system, judge.sector_symmetries, judge.point,
                                           region)
    red = reduce_on_seeds(system, np.arange(len(seeds)), [target], judge.masters,
                          relations=relations)
    again = solve(system.eq_ptr, system.eq_cols, system.eq_vals,
                  np.asarray(red.solution.trimmed_equations), system.n_columns,
                  np.array([system.column_of(target)]), system.prime)
    return {"complete": red.complete, "seeds": red.seeds,
            "trimmed_equations": red.trimmed_equations,
            "symmetry_equations": red.symmetry_equations,
            "trimmed_symmetry_equations": red.trimmed_symmetry_equations,
            "multiply_adds": red.multiply_adds, "replay_multiply_adds": again.multiply_adds,
            "coefficients": sorted((list(m), int(v))
                                   for m, v in red.targets[0].coefficients.items())}


def _reduce_seeds(judge: Judge, rule: str, target) -> np.ndarray:
    """The seeds ``reduce`` ends with (its plan's first choice, then shells while the target
    stays unreduced, as :func:`~ibp_evolve.reducer.exact.learn` grows them)."""
    family, plan = judge.family, rule_plan(resolve_rule(rule), judge.family)
    seeds, _ = plan.first(family, [target])
    for step in range(1, 100):
        if _solve(judge, judge.solved_seeds(seeds, [target]), target,
                  family_automorphism_region(family, judge.ordering))["complete"]:
            break
        grown = plan.grow(family, [target], [tuple(target)], seeds, step)
        if grown is None:
            break
        seeds = grown[0]
    return seeds  # as chosen (_compare moves them to unique sectors, once)


def _compare(judge: Judge, label: str, rule: str, target, seeds) -> dict:
    solved = judge.solved_seeds(seeds, [target])
    shared = _solve(judge, solved, target, family_automorphism_region(judge.family,
                                                                       judge.ordering))
    everywhere = _solve(judge, solved, target, automorphism_region(judge.masters))
    same = shared.pop("coefficients") == everywhere.pop("coefficients")
    row = {"suite": label, "rule": rule, "target": list(target), "shared_region": shared,
           "rows_everywhere": everywhere, "same_coefficients": same,
           "multiply_adds_ratio": round(everywhere["multiply_adds"]
                                        / max(1, shared["multiply_adds"]), 3)}
    print(f"{label:30s} {rule:22s} I{tuple(target)}: mult-adds {shared['multiply_adds']:,} "
          f"vs {everywhere['multiply_adds']:,} (x{row['multiply_adds_ratio']}), trimmed "
          f"{shared['trimmed_equations']}+{shared['trimmed_symmetry_equations']} vs "
          f"{everywhere['trimmed_equations']}+{everywhere['trimmed_symmetry_equations']}, "
          f"replay {shared['replay_multiply_adds']:,} vs {everywhere['replay_multiply_adds']:,}"
          f", same coefficients {same}", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"
                                             / "automorphism_region.json"))
    args = parser.parse_args(argv)
    rows = []
    for name in SUITES:
        judge = Judge(load_suite(name), symmetries=True)
        for rule in RULES:
            for target, (seeds, _, _) in zip(judge.suite.targets,
                                             judge.select(resolve_rule(rule))):
                rows.append(_compare(judge, name, rule, target, seeds))
    for rule, target in DOUBLE_BOX:
        suite = parse_suite(f'name = "double_box_{rule}"\nfamily = "double_box"\n'
                            f"targets = [{list(target)}]\nsymmetries = true\n")
        judge = Judge(suite)
        rows.append(_compare(judge, "double_box (reduce's seeds)", rule, target,
                             _reduce_seeds(judge, rule, target)))
    cheaper = sum(r["shared_region"]["multiply_adds"] < r["rows_everywhere"]["multiply_adds"]
                  for r in rows)
    print(f"the shared region solves with fewer multiply-adds on {cheaper} of {len(rows)} "
          "targets")
    write_result(Path(args.out), {"benchmark": "automorphism_region", "rows": rows,
                                  "shared_region_cheaper": cheaper, "targets": len(rows)},
                 stamp=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
