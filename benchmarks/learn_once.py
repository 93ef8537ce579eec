"""Learn once, evaluate many (issue 12): the cost of each further prime after the first sample.

System: the Laporta box r <= 6, s <= 3 of the triangle-box paper target I(1,1,1,1,1,1,-3)
(about 60,000 equations).  The *first sample* builds the whole system at a point, solves it and
learns the trimmed rows (mark and sweep).  Each *further prime* re-instantiates only those rows
at the requested point and solves them (``TrimmedSystem.sample``).  For comparison, the old way
rebuilt and re-solved the whole system for every prime.

Goals: each further prime <= 5% of the first sample's time; and <= 20% of FiniteFlow's
evaluation time on the same system as measured in the issue (57 ms median, 29 ms min).

Run:  python benchmarks/learn_once.py [--repeats 5] [--out benchmarks/results/learn_once.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from ibp_evolve.reducer.family import load_family  # noqa: E402
from ibp_evolve.reducer.masters import family_masters  # noqa: E402
from ibp_evolve.reducer.modular import PRIMES, random_point  # noqa: E402
from ibp_evolve.reducer.plans import LaportaBox  # noqa: E402
from ibp_evolve.reducer.reduction import reduce_on_seeds  # noqa: E402
from ibp_evolve.reducer.replay import TrimmedSystem  # noqa: E402
from ibp_evolve.reducer.solver import warmup  # noqa: E402
from ibp_evolve.reducer.system import build_system, parameter_residues  # noqa: E402
from bench_io import write_result  # noqa: E402  (a script beside this one)

TARGET = (1, 1, 1, 1, 1, 1, -3)
FINITEFLOW_EVAL_MEDIAN_S = 0.057  # issue 12, measured on the same exported system
FINITEFLOW_EVAL_MIN_S = 0.029


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--primes", type=int, default=8, help="further primes per repeat")
    parser.add_argument("--out", default="benchmarks/results/learn_once.json")
    args = parser.parse_args()

    family = load_family("triangle_box")
    masters = family_masters(family)
    seeds = LaportaBox(6, 3).seeds(family, [TARGET])
    warmup()
    rng = np.random.default_rng(1)
    learn_point, point = (random_point(family.parameters, rng) for _ in range(2))

    first, further, rebuild, sizes = [], [], [], {}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        system = build_system(family, seeds, learn_point, PRIMES[0], extra_integrals=[TARGET])
        reduction = reduce_on_seeds(system, np.arange(len(seeds)), [TARGET], masters)
        model = TrimmedSystem.learn(system, reduction, learn_point)
        first.append(time.perf_counter() - t0)
        sizes = {"seeds": len(seeds), "equations": system.n_equations,
                 "trimmed_equations": model.n_equations, "columns_trimmed": model.n_columns}
        for prime in PRIMES[1:1 + args.primes]:
            params = parameter_residues(family, point, prime)
            t0 = time.perf_counter()
            rows = model.sample(params, prime)
            further.append(time.perf_counter() - t0)
            assert rows is not None
        prime = PRIMES[1]
        t0 = time.perf_counter()
        full = build_system(family, seeds, point, prime, extra_integrals=[TARGET])
        reduce_on_seeds(full, np.arange(len(seeds)), [TARGET], masters)
        rebuild.append(time.perf_counter() - t0)

    med_first, med_further = statistics.median(first), statistics.median(further)
    result = {
        "system": f"triangle_box {TARGET}, laporta:r=6,s=3", **sizes,
        "first_sample_s": med_first, "further_prime_s": med_further,
        "further_prime_min_s": min(further), "rebuild_and_solve_s": statistics.median(rebuild),
        "further_over_first": med_further / med_first,
        "further_over_finiteflow_median": med_further / FINITEFLOW_EVAL_MEDIAN_S,
        "goal_further_over_first": 0.05, "goal_further_over_finiteflow": 0.20,
        "repeats": args.repeats, "primes_per_repeat": args.primes,
    }
    print(f"{result['system']}: {sizes['seeds']} seeds, {sizes['equations']} equations, "
          f"{sizes['trimmed_equations']} trimmed")
    print(f"first sample (build + solve + learn)  {med_first * 1e3:9.2f} ms (median of "
          f"{args.repeats})")
    print(f"each further prime (trimmed rows)     {med_further * 1e3:9.2f} ms (median of "
          f"{len(further)}; min {min(further) * 1e3:.2f} ms)  = "
          f"{100 * result['further_over_first']:.2f}% of the first sample (goal <= 5%)")
    print(f"old way: rebuild + solve per prime    {result['rebuild_and_solve_s'] * 1e3:9.2f} ms")
    print(f"vs FiniteFlow eval (57 ms median)     {100 * result['further_over_finiteflow_median']:.1f}%"
          " (goal <= 20%)")
    write_result(Path(args.out), result)


if __name__ == "__main__":
    main()
