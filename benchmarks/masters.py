"""Cold master discovery per family, with and without sector symmetries (issue 14).

Each measurement runs in a fresh process on an empty cache (templates, zero sectors,
symmetries and masters all derived again), with the numba kernels compiled before the clock
starts: the sector symmetries are found from scratch, then verified discovery runs (per sector,
completeness probe included).  Prints the median wall time of ``--repeats`` runs (a run over
two minutes is not repeated), the master count next to the literature value, and the peak
resident memory of that process; writes everything as JSON.

Baseline, measured in the same run: discovery with the region of the previous default (one dot,
two numerators) instead of one dot and one numerator, on ``--baseline-families``.

Goals (issue 14, 2 cores): planar double box <= 30 s, non-planar double box <= 60 s, pentabox
<= 10 min; memory < 4 GiB.

Run:  python benchmarks/masters.py [--families double_box,nonplanar_double_box,pentabox]
          [--symmetries on,off] [--repeats 3] [--baseline-families double_box,nonplanar_double_box]
          [--json benchmarks/results/masters.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time

LITERATURE = {  # masters with sector symmetries; sources in tests/test_symmetries.py and
    # tests/test_pentabox.py
    "kite": 2, "sunrise": 3, "box": 3, "triangle_box": 15, "double_box": 8,
    "nonplanar_double_box": 12, "pentabox": 61,
}
GOAL_SECONDS = {"double_box": 30, "nonplanar_double_box": 60, "pentabox": 600}
GOAL_MIB = 4096
NO_REPEAT_AFTER_S = 120  # a long run's spread is small next to its length
BASELINE_REGION_NUMERATORS = 2


def _cold_run(name: str, symmetric: bool, region_numerators: int | None) -> dict:
    """One cold discovery in this (fresh) process: seconds, masters, peak memory."""
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    import resource
    os.environ["IBP_EVOLVE_CACHE"] = tempfile.mkdtemp(prefix="ibp-evolve-bench-warm-")
    from ibp_evolve.reducer.family import load_family
    from ibp_evolve.reducer.masters import discover_masters
    from ibp_evolve.reducer.symmetries import family_symmetries
    discover_masters(load_family("bubble"))  # compile (or load) the numba kernels
    os.environ["IBP_EVOLVE_CACHE"] = tempfile.mkdtemp(prefix="ibp-evolve-bench-")
    family = load_family(name)
    options = {} if region_numerators is None else {"region_numerators": region_numerators}
    start = time.perf_counter()
    if symmetric:
        family_symmetries(family)
    middle = time.perf_counter()
    masters = discover_masters(family, symmetries=symmetric, **options)
    end = time.perf_counter()
    return {"seconds": end - start, "symmetry_seconds": middle - start,
            "masters": len(masters),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(name: str, symmetric: bool, repeats: int, region_numerators=None) -> dict:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no memo survives
    runs = []
    for _ in range(repeats):
        with context.Pool(1) as pool:
            runs.append(pool.apply(_cold_run, (name, symmetric, region_numerators)))
        if runs[-1]["seconds"] > NO_REPEAT_AFTER_S:
            break
    seconds = [r["seconds"] for r in runs]
    median = statistics.median(seconds)
    peak = max(r["peak_rss_mib"] for r in runs)
    goal = GOAL_SECONDS.get(name)
    return {"family": name, "symmetries": symmetric,
            "region_numerators": region_numerators, "masters": runs[-1]["masters"],
            "literature": LITERATURE.get(name) if symmetric else None,
            "seconds_median": round(median, 3), "seconds_all": [round(t, 3) for t in seconds],
            "symmetry_search_seconds_median": round(
                statistics.median(r["symmetry_seconds"] for r in runs), 3),
            "peak_rss_mib": round(peak),
            "goal_seconds": goal,
            "goal_met": None if goal is None else bool(median <= goal and peak < GOAL_MIB)}


def _print_row(row: dict) -> None:
    region = "baseline" if row["region_numerators"] is not None else "default"
    print(f"{row['family']:22s} {('on' if row['symmetries'] else 'off'):>4s} {region:>9s} "
          f"{row['masters']:8d} {str(row['literature'] or '-'):>10s} "
          f"{row['seconds_median']:9.2f} {row['symmetry_search_seconds_median']:9.2f} "
          f"{row['peak_rss_mib']:9d} {str(row['goal_seconds'] or '-'):>6s}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="double_box,nonplanar_double_box,pentabox")
    parser.add_argument("--symmetries", default="on,off",
                        help="which settings to time: on, off or on,off")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-families", default="double_box,nonplanar_double_box",
                        help="families also timed with the previous region (empty: none)")
    parser.add_argument("--json", default="benchmarks/results/masters.json")
    args = parser.parse_args()
    settings = [{"on": True, "off": False}[s.strip()] for s in args.symmetries.split(",")]

    rows = []
    print(f"{'family':22s} {'sym':>4s} {'region':>9s} {'masters':>8s} {'literature':>10s} "
          f"{'median s':>9s} {'search s':>9s} {'peak MiB':>9s} {'goal s':>6s}")
    for name in args.families.split(","):
        for symmetric in settings:
            rows.append(measure(name, symmetric, args.repeats))
            _print_row(rows[-1])
            if name in args.baseline_families.split(","):
                rows.append(measure(name, symmetric, args.repeats, BASELINE_REGION_NUMERATORS))
                rows[-1]["speedup_vs_baseline"] = round(
                    rows[-1]["seconds_median"] / rows[-2]["seconds_median"], 2)
                _print_row(rows[-1])
                print(f"{'':22s} speed-up over the baseline: "
                      f"{rows[-1]['speedup_vs_baseline']:.2f}x", flush=True)
    result = {"benchmark": "masters", "python": sys.version.split()[0],
              "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
              "goal_memory_mib": GOAL_MIB, "rows": rows}
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    tmp = args.json + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(result, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, args.json)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
