"""Judge benchmark on the triangle-box target I(1,1,1,1,1,1,-3) (issue: the judge).

Prints, on one core after warm-up, the median of several runs, each beside the plain-Python
reference elimination (ibp_evolve.reducer.solver.reference_solve) of the same system:

  1. improved seeding (d = 0, s <= s_target - (T - t); 92 seeds, 828 equations):
     select rows from the cached box + solve + trim                  goal <= 5 ms
  2. Laporta seeds r <= 6, s <= 3                                      goal <= 1 s
  3. the seed box r <= 8, s <= 2 over all non-zero sectors: forward elimination
     goal <= 0.6 s (>= 200,000 equations/s), multiply-adds/s, peak memory < 2 GiB
  4. template generation and row instantiation times.

Run:  python benchmarks/solver.py [--repeats 5] [--no-reference-big]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from ibp_evolve.reducer.family import load_family  # noqa: E402
from ibp_evolve.reducer.templates import derive_templates  # noqa: E402
from ibp_evolve.reducer.masters import family_masters  # noqa: E402
from ibp_evolve.reducer.modular import PRIMES, random_point  # noqa: E402
from ibp_evolve.reducer.reduction import reduce_on_seeds  # noqa: E402
from ibp_evolve.reducer.sectors import measures  # noqa: E402
from ibp_evolve.reducer.seeding import laporta_seeds  # noqa: E402
from ibp_evolve.reducer.solver import forward_eliminate, reference_solve, solve  # noqa: E402
from ibp_evolve.reducer.system import build_system  # noqa: E402

TARGET = (1, 1, 1, 1, 1, 1, -3)


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f} ms" if seconds < 1 else f"{seconds:9.3f} s "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-reference-big", action="store_true",
                        help="skip the (slow) plain-Python reference on the largest box")
    args = parser.parse_args()
    fam = load_family("triangle_box")
    point = random_point(fam.parameters, np.random.default_rng(1))
    prime = PRIMES[0]
    masters = family_masters(fam)

    t_templates, _ = median_time(lambda: derive_templates(fam), 3)
    print(f"template generation (sympy, 8 IBP + 1 LI)      {fmt(t_templates)}")

    box = laporta_seeds(fam, [TARGET], 8, 3)
    t_build, system = median_time(lambda: build_system(fam, box, point, prime), 3)
    print(f"row instantiation, {len(box)} seeds / {system.n_equations} equations "
          f"{fmt(t_build)}  ({system.n_equations / t_build:,.0f} equations/s)")

    # 1. improved seeding, rows selected from the cached box
    m = measures(system.seeds)
    improved = np.flatnonzero((m["d"] == 0) & (m["s"] <= 3 - (6 - m["t"])))
    reduce_on_seeds(system, improved, [TARGET], masters)  # warm-up (numba cache load)
    t_imp, red = median_time(lambda: reduce_on_seeds(system, improved, [TARGET], masters),
                             max(args.repeats, 20))
    col = np.array([system.column_of(TARGET)])
    sel = system.equations_of(improved)
    t_ref, _ = median_time(lambda: reference_solve(system.eq_ptr, system.eq_cols,
                                                   system.eq_vals, sel, system.n_columns,
                                                   col, prime), args.repeats)
    print(f"1. improved seeding: {red.seeds} seeds, {red.equations} equations, trimmed "
          f"{red.trimmed_equations}, complete={red.complete}")
    print(f"   select + solve + trim {fmt(t_imp)}  (goal <= 5 ms)   reference {fmt(t_ref)}"
          f"   ratio {t_ref / t_imp:6.1f}x")

    # 2. Laporta r <= 6, s <= 3
    lap = laporta_seeds(fam, [TARGET], 6, 3)
    sys6 = build_system(fam, lap, point, prime)
    all6 = np.arange(len(lap))
    t_lap, red6 = median_time(lambda: reduce_on_seeds(sys6, all6, [TARGET], masters),
                              args.repeats)
    col6 = np.array([sys6.column_of(TARGET)])
    sel6 = sys6.equations_of(all6)
    t_ref6, _ = median_time(lambda: reference_solve(sys6.eq_ptr, sys6.eq_cols, sys6.eq_vals,
                                                    sel6, sys6.n_columns, col6, prime), 1)
    print(f"2. Laporta r<=6, s<=3: {red6.seeds} seeds, {red6.equations} equations, trimmed "
          f"{red6.trimmed_equations}, multiply-adds {red6.multiply_adds:,}, "
          f"complete={red6.complete}")
    print(f"   solve + trim {fmt(t_lap)}  (goal <= 1 s)   reference {fmt(t_ref6)}"
          f"   ratio {t_ref6 / t_lap:6.1f}x")

    # 3. big box r <= 8, s <= 2: forward elimination only
    big = laporta_seeds(fam, [TARGET], 8, 2)
    sys8 = build_system(fam, big, point, prime, extra_integrals=[TARGET])
    sel8 = sys8.equations_of(np.arange(len(big)))
    t_fw, fw = median_time(lambda: forward_eliminate(sys8.eq_ptr, sys8.eq_cols, sys8.eq_vals,
                                                     sel8, sys8.n_columns, prime),
                           args.repeats)
    madds = fw.multiply_adds
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"3. box r<=8, s<=2: {len(big)} seeds, {len(sel8)} equations, "
          f"{sys8.n_columns} integrals")
    line = (f"   forward elimination {fmt(t_fw)}  (goal <= 0.6 s)  "
            f"{len(sel8) / t_fw:,.0f} equations/s (goal >= 200,000)")
    if madds is not None:
        line += f", {madds:,} multiply-adds = {madds / t_fw / 1e6:,.1f} M/s"
    print(line)
    if not args.no_reference_big:
        t_ref8, _ = median_time(lambda: reference_solve(sys8.eq_ptr, sys8.eq_cols,
                                                        sys8.eq_vals, sel8, sys8.n_columns,
                                                        np.zeros(0, np.int64), prime), 1)
        print(f"   reference (forward + empty back-substitution) {fmt(t_ref8)}   ratio "
              f"{t_ref8 / t_fw:6.1f}x")
    print(f"   peak memory of this process {peak:.2f} GiB (goal < 2 GiB)")
    t_solve8, _ = median_time(lambda: solve(sys8.eq_ptr, sys8.eq_cols, sys8.eq_vals, sel8,
                                            sys8.n_columns, np.array([sys8.column_of(TARGET)]),
                                            prime), 1)
    print(f"   full solve with back-substitution of the target {fmt(t_solve8)}")


if __name__ == "__main__":
    main()
