"""Benchmark of the GF(p) Laporta solver kernels (ibp_evolve.reducer.solver).

Builds a random banded sparse system (default: 100k equations of 8 terms, leading columns
spread along the diagonal, the other terms within a band below the leading column) and
prints the median over several runs of the forward-elimination time, equations/s and
multiply-adds/s; then compares the numba solver with the plain-Python reference solver on
a smaller system of the same shape (speed ratio).

    python benchmarks/solver_kernel.py [--n-eq 100000] [--terms 8] [--band 24] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from ibp_evolve.reducer.solver import forward_eliminate, reference_solve, solve, warmup


def banded_system(n_eq, terms, band, col_ratio, dep_frac, prime, seed):
    """Random banded CSR system with local linear dependencies.

    ``n_base = (1 - dep_frac) * n_eq`` base equations of ``terms`` terms: equation i leads
    near column ``i * col_ratio`` (plus jitter), its other terms lie within ``band``
    columns below.  ``col_ratio > 1`` leaves some columns without a pivot (masters).  The
    remaining equations are random combinations of two base equations with nearby leading
    columns: dependent by construction, as the many redundant IBP relations of a real
    Laporta system (they typically have more terms than the base equations).
    """
    rng = np.random.default_rng(seed)
    n_base = n_eq - int(round(dep_frac * n_eq))
    n_cols = int(n_base * col_ratio) + band + 3
    lead = (np.arange(n_base) * col_ratio).astype(np.int64) + band
    lead += rng.integers(0, 3, size=n_base)  # jitter: neighbouring equations share columns
    offsets = rng.random((n_base, band)).argsort(axis=1)[:, : terms - 1] + 1  # distinct, >= 1
    base_cols = np.concatenate([lead[:, None], lead[:, None] - offsets], axis=1)
    base_vals = rng.integers(1, prime, size=base_cols.shape)
    eq_cols = [base_cols]
    eq_vals = [base_vals]
    lens = [np.full(n_base, terms, np.int64)]
    n_dep = n_eq - n_base
    if n_dep:
        i = rng.integers(0, n_base - 4, size=n_dep)
        j = i + rng.integers(1, 4, size=n_dep)
        fa = rng.integers(1, prime, size=n_dep)
        fb = rng.integers(1, prime, size=n_dep)
        dc, dv, dl = [], [], []
        for k in range(n_dep):
            comb = {}
            for row, f in ((i[k], fa[k]), (j[k], fb[k])):
                for c, v in zip(base_cols[row].tolist(), base_vals[row].tolist()):
                    comb[c] = (comb.get(c, 0) + int(f) * v) % prime
            items = [(c, v) for c, v in comb.items() if v]
            dc.extend(c for c, _ in items)
            dv.extend(v for _, v in items)
            dl.append(len(items))
        eq_cols.append(np.array(dc, np.int64))
        eq_vals.append(np.array(dv, np.int64))
        lens.append(np.array(dl, np.int64))
    cols = np.concatenate([a.reshape(-1) for a in eq_cols]).astype(np.int64)
    vals = np.concatenate([a.reshape(-1) for a in eq_vals]).astype(np.int64)
    ptr = np.concatenate([[0], np.cumsum(np.concatenate(lens))]).astype(np.int64)
    return ptr, cols, vals, n_cols


def time_forward(ptr, cols, vals, sel, n_cols, prime, runs):
    times, res = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        res = forward_eliminate(ptr, cols, vals, sel, n_cols, prime)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-eq", type=int, default=100_000)
    ap.add_argument("--terms", type=int, default=8)
    ap.add_argument("--band", type=int, default=24)
    ap.add_argument("--col-ratio", type=float, default=1.05,
                    help="columns per base equation (> 1 leaves master columns)")
    ap.add_argument("--dep-frac", type=float, default=0.25,
                    help="fraction of dependent equations (combinations of two base equations)")
    ap.add_argument("--prime", type=int, default=2147483647)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ref-n-eq", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    warmup()
    print(f"numba warm-up (compile or cache load): {time.perf_counter() - t0:.2f} s")

    ptr, cols, vals, n_cols = banded_system(args.n_eq, args.terms, args.band, args.col_ratio,
                                            args.dep_frac, args.prime, args.seed)
    sel = np.arange(args.n_eq, dtype=np.int64)
    med, fr = time_forward(ptr, cols, vals, sel, n_cols, args.prime, args.runs)
    print(f"system: {args.n_eq} equations, {len(cols) / args.n_eq:.1f} terms/equation, "
          f"{n_cols} columns, band {args.band}, dependent fraction {args.dep_frac}")
    print(f"  independent rows {fr.n_rows}, fill-in {int(fr.row_ptr[-1])} "
          f"({fr.row_ptr[-1] / max(fr.n_rows, 1):.1f}/row), multiply-adds {fr.multiply_adds}")
    print(f"forward elimination (numba), median of {args.runs}: {med * 1e3:.1f} ms  "
          f"{args.n_eq / med:,.0f} equations/s  {fr.multiply_adds / med:,.3e} multiply-adds/s")

    # a full solve with a few targets at the top (back-substitution + mark-and-sweep)
    targets = np.arange(n_cols - 10, n_cols, dtype=np.int64)
    times = []
    for _ in range(args.runs):
        s = solve(ptr, cols, vals, sel, n_cols, targets, args.prime)
        times.append(s.seconds)
    print(f"full solve with {len(targets)} targets, median: {statistics.median(times) * 1e3:.1f} ms "
          f"(back multiply-adds {s.multiply_adds_back}, trimmed equations {s.n_trimmed})")

    # numba vs reference on a smaller system of the same shape
    n = args.ref_n_eq
    ptr_s, cols_s, vals_s, n_cols_s = banded_system(n, args.terms, args.band, args.col_ratio,
                                                    args.dep_frac, args.prime, args.seed)
    sel_s = np.arange(n, dtype=np.int64)
    tg = np.arange(n_cols_s - 10, n_cols_s, dtype=np.int64)
    med_n, _ = time_forward(ptr_s, cols_s, vals_s, sel_s, n_cols_s, args.prime, args.runs)
    t_ref = []
    for _ in range(max(1, min(args.runs, 3))):
        r = reference_solve(ptr_s, cols_s, vals_s, sel_s, n_cols_s, tg, args.prime)
        t_ref.append(r.seconds_forward)
    med_r = statistics.median(t_ref)
    s_small = solve(ptr_s, cols_s, vals_s, sel_s, n_cols_s, tg, args.prime)
    same = all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
               for a, b in zip(r.target_rows, s_small.target_rows))
    print(f"reference (pure Python) on {n} equations: forward {med_r * 1e3:.1f} ms "
          f"({n / med_r:,.0f} equations/s); numba {med_n * 1e3:.2f} ms "
          f"({n / med_n:,.0f} equations/s); speed ratio {med_r / med_n:,.0f}x; "
          f"results identical: {same and r.multiply_adds == s_small.multiply_adds}")


if __name__ == "__main__":
    main()
