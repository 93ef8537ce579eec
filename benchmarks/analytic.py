"""Analytic reductions (issue 15): coefficients as rational functions, and the price of a rule
in a real reduction.

* Triangle-box I(1,1,1,1,1,1,-3) analytic in d, masses at a point (goal <= 3 s; symbolica's
  hepkit took 33-104 s for a similar set, issue 15).
* Kite I(1,1,1,1,1) and box I(2,1,1,1), I(1,2,1,2) fully analytic (goal <= 2 s each).
* The rule table: the same analytic reduction seeded by the Laporta box r <= 6, s <= 3, by
  improved seeding and by the library's rules.  The coefficients do not depend on the rule, so
  every rule needs the same samples; what a rule changes is the learning solve and the time of
  one sample of the trimmed system it selects.  Total = learn + samples x time per sample.
* The triangle-box target fully analytic in d, m1sq, m2sq, m3sq (goal <= 10 min), once; its
  sample count prices every rule fully analytic in the rule table; and the same with m3sq
  replaced by one and restored by mass dimension (one variable fewer), and on two worker
  processes (the grid's rays in parallel; the load average says what the machine had free).
* The first SAILIR integral I(1,1,2,1,1,1,-4) analytic in d, and fully analytic with m3sq
  replaced by one (context: Kira's published 2.3 s for it, another setting and machine).

Times are wall-clock medians of ``--repeats`` runs in one process (templates cached, interpreter
start excluded), on whatever the machine shares with others; the first two sections run before
the numba kernels are loaded (as a short ``reduce --analytic`` does), the rest after.

Run:  python benchmarks/analytic.py [--repeats 3] [--out benchmarks/results/analytic.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from ibp_evolve.judge.rule_plan import rule_plan  # noqa: E402
from ibp_evolve.language.library import resolve_rule  # noqa: E402
from ibp_evolve.reducer.analytic import reduce_analytic  # noqa: E402
from ibp_evolve.reducer.exact import learn  # noqa: E402
from ibp_evolve.reducer.family import load_family  # noqa: E402
from ibp_evolve.reducer.masters import masters_in_sectors  # noqa: E402
from ibp_evolve.reducer.modular import PRIMES, random_point  # noqa: E402
from ibp_evolve.reducer.ordering import Ordering  # noqa: E402
from ibp_evolve.reducer.plans import LaportaBox  # noqa: E402
from ibp_evolve.reducer.reconstruct.rows import CompiledRows  # noqa: E402
from ibp_evolve.reducer.reconstruct.sampling import ReductionSampler  # noqa: E402
from ibp_evolve.reducer.replay import TrimmedSystem  # noqa: E402
from ibp_evolve.reducer.sectors import sector_of  # noqa: E402
from ibp_evolve.reducer.solver import warmup  # noqa: E402
from bench_io import write_result  # noqa: E402  (a script beside this one)

TRIANGLE_BOX = (1, 1, 1, 1, 1, 1, -3)
SAILIR = (1, 1, 2, 1, 1, 1, -4)  # the first SAILIR integral (Kira: 1,756 equations, 2.3 s)
MASSES = {"m1sq": Fraction(1), "m2sq": Fraction(2), "m3sq": Fraction(5)}
RULES = ("improved_seeding", "improved_seeding_dots", "evolved/gp_triangle_box_paper_67")


def _plan(family, name):
    return LaportaBox(6, 3) if name == "laporta:r=6,s=3" else rule_plan(resolve_rule(name),
                                                                        family)


def timed(repeats, fn):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def analytic_case(label, family_name, targets, symbols, fixed, repeats, goal, one=None,
                  workers=1):
    family = load_family(family_name)
    plan_name = "improved_seeding_dots"
    seconds, result = timed(repeats, lambda: reduce_analytic(
        family, targets, symbols, fixed, _plan(family, plan_name), replace_by_one=one,
        workers=workers))
    s = result["stats"]
    row = {"case": label, "analytic_in": symbols, "replace_by_one": one, "workers": workers,
           "seconds": seconds, "goal_s": goal,
           "samples": s["samples"], "primes": s["primes"], "seeds": s["seeds"],
           "trimmed_equations": s["trimmed_equations"], "rule": plan_name}
    goal_text = f"(goal <= {goal:g} s)" if goal else "(no goal set)"
    print(f"{label:58s} {seconds:7.2f} s {goal_text:17s} {s['samples']} samples, "
          f"{s['primes']} primes, {s['seeds']} seeds, {s['trimmed_equations']} trimmed eqs")
    return row


def per_sample_seconds(model, layout, symbols, fixed, n=30):
    """Median time of one sample (rows instantiated and solved) at random points."""
    rows = CompiledRows(model)
    sampler = ReductionSampler(model, layout, symbols, fixed, PRIMES[1], rows)
    rng = np.random.default_rng(0)
    sampler([int(rng.integers(1, PRIMES[1])) for _ in symbols])
    times = []
    for _ in range(n):
        x = [int(rng.integers(1, PRIMES[1])) for _ in symbols]
        t0 = time.perf_counter()
        sampler(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def rule_table(repeats, samples_all):
    """Per rule: learning, one sample's time and the total, analytic in d (measured end to
    end too) and fully analytic (``samples_all`` samples, measured once with one rule)."""
    family = load_family("triangle_box")
    ordering = Ordering.parse()
    masters = masters_in_sectors(family, {sector_of(TRIANGLE_BOX)}, ordering)
    symbols = ["d"]
    rows = []
    print(f"\nrule table: {_name(TRIANGLE_BOX)}, analytic in d at m1sq=1, m2sq=2, m3sq=5, and "
          f"fully analytic ({samples_all} samples); numba solver loaded")
    print(f"{'seeds from':34s} {'seeds':>6s} {'eqs':>6s} {'trim':>5s} {'learn s':>8s} "
          f"{'samples':>7s} {'ms/sample':>9s} {'total s':>8s} {'measured s':>10s} "
          f"{'all: ms/sample':>14s} {'all: total s':>12s}")
    for name in ("laporta:r=6,s=3",) + RULES:
        learn_point = random_point(family.parameters, np.random.default_rng(1))

        def learn_once(name=name):
            seeds, label, system, learned = learn(family, [TRIANGLE_BOX], _plan(family, name),
                                                  ordering, masters, learn_point)
            return seeds, learned, TrimmedSystem.learn(system, learned, learn_point)
        t_learn, (seeds, learned, model) = timed(repeats, learn_once)
        layout = [(0, m) for m in sorted(learned.targets[0].coefficients)]
        t_sample = per_sample_seconds(model, layout, symbols, MASSES)
        measured, result = timed(repeats, lambda: reduce_analytic(
            family, [TRIANGLE_BOX], symbols, MASSES,
            model=(model, learned, name, seeds)))
        samples = result["stats"]["samples"]
        t_sample_all = per_sample_seconds(model, layout, list(family.parameters), {})
        row = {"seeds_from": name, "seeds": int(len(seeds)), "equations": learned.equations,
               "trimmed_equations": learned.trimmed_equations, "learn_s": t_learn,
               "samples": samples, "sample_s": t_sample,
               "total_s": t_learn + samples * t_sample,
               "measured_s": t_learn + measured,
               "all_samples": samples_all, "all_sample_s": t_sample_all,
               "all_total_s": t_learn + samples_all * t_sample_all}
        rows.append(row)
        print(f"{name:34s} {row['seeds']:6d} {row['equations']:6d} "
              f"{row['trimmed_equations']:5d} {t_learn:8.3f} {samples:7d} "
              f"{t_sample * 1e3:9.2f} {row['total_s']:8.3f} {row['measured_s']:10.3f} "
              f"{t_sample_all * 1e3:14.2f} {row['all_total_s']:12.2f}")
    return rows


def _name(integral) -> str:
    return "I(" + ",".join(map(str, integral)) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/analytic.json")
    args = parser.parse_args()

    cases = [
        analytic_case("triangle_box I(1,1,1,1,1,1,-3) in d (m1sq=1,m2sq=2,m3sq=5)",
                      "triangle_box", [TRIANGLE_BOX], ["d"], MASSES, args.repeats, 3),
        analytic_case("kite I(1,1,1,1,1) in d, s", "kite", [(1, 1, 1, 1, 1)], ["d", "s"], {},
                      args.repeats, 2),
        analytic_case("box I(2,1,1,1), I(1,2,1,2) in d, s, t", "box",
                      [(2, 1, 1, 1), (1, 2, 1, 2)], ["d", "s", "t"], {}, args.repeats, 2),
    ]
    warmup()
    full = analytic_case("triangle_box I(1,1,1,1,1,1,-3) in d, m1sq, m2sq, m3sq",
                         "triangle_box", [TRIANGLE_BOX], ["d", "m1sq", "m2sq", "m3sq"], {}, 1,
                         600)
    full_scaled = analytic_case("  the same with m3sq replaced by one (restored)",
                                "triangle_box", [TRIANGLE_BOX],
                                ["d", "m1sq", "m2sq", "m3sq"], {}, 1, 600, one="m3sq")
    full_pooled = analytic_case("  the same on 2 worker processes (load average "
                                f"{os.getloadavg()[0]:.1f})", "triangle_box", [TRIANGLE_BOX],
                                ["d", "m1sq", "m2sq", "m3sq"], {}, 1, 600, workers=2)
    sailir = [
        analytic_case(f"SAILIR {_name(SAILIR)} in d (m1sq=1,m2sq=2,m3sq=5)", "triangle_box",
                      [SAILIR], ["d"], MASSES, 1, None),
        analytic_case(f"SAILIR {_name(SAILIR)} in d, m1sq, m2sq, m3sq (m3sq by one)",
                      "triangle_box", [SAILIR], ["d", "m1sq", "m2sq", "m3sq"], {}, 1, None,
                      one="m3sq"),
    ]
    table = rule_table(args.repeats, full["samples"])
    result = {"cases": cases, "full": full, "full_replace_by_one": full_scaled,
              "full_two_workers": full_pooled, "sailir": sailir, "rule_table": table,
              "repeats": args.repeats, "load_average": os.getloadavg()[0]}
    write_result(Path(args.out), result)


if __name__ == "__main__":
    main()
