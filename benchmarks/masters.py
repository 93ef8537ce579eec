"""Cold master discovery per family, with and without sector symmetries (issue 14).

For each family: sector symmetries found from scratch, then verified master discovery (per
sector, completeness probe included) on an empty cache, numba already compiled.  Prints the
median wall time of ``--repeats`` runs, the master count (with the literature value where one is
known) and the peak resident memory, and writes everything as JSON.

Goals (issue 14, 2 cores): planar double box <= 30 s, non-planar double box <= 60 s;
memory < 4 GiB.

Run:  python benchmarks/masters.py [--families kite,sunrise,triangle_box,double_box]
                                   [--repeats 3] [--json benchmarks/masters.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

LITERATURE = {  # masters with sector symmetries; see tests/test_symmetries.py for sources
    "kite": 2, "sunrise": 3, "box": 3, "triangle_box": 15, "double_box": 8,
    "nonplanar_double_box": 12,
}


def _fresh_cache() -> None:
    """Point every on-disk cache at an empty folder and drop the in-memory memos."""
    os.environ["IBP_EVOLVE_CACHE"] = tempfile.mkdtemp(prefix="ibp-evolve-bench-")
    from ibp_evolve.reducer import masters, sectors, symmetries, symmetry_rows
    masters._MEMORY.clear()
    sectors._ZERO_SECTORS.clear()
    symmetries._MEMORY.clear()
    symmetry_rows._NUMERIC.clear()


def measure(name: str, symmetric: bool, repeats: int) -> dict:
    from ibp_evolve.reducer.family import load_family
    from ibp_evolve.reducer.masters import discover_masters
    from ibp_evolve.reducer.symmetries import family_symmetries
    times, symmetry_times, masters = [], [], []
    for _ in range(repeats):
        _fresh_cache()
        family = load_family(name)
        start = time.perf_counter()
        if symmetric:
            family_symmetries(family)
        middle = time.perf_counter()
        masters = discover_masters(family, symmetries=symmetric)
        times.append(time.perf_counter() - start)
        symmetry_times.append(middle - start)
    return {"family": name, "symmetries": symmetric, "masters": len(masters),
            "literature": LITERATURE.get(name) if symmetric else None,
            "seconds_median": round(statistics.median(times), 3),
            "seconds_all": [round(t, 3) for t in times],
            "symmetry_search_seconds_median": round(statistics.median(symmetry_times), 3),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="kite,sunrise,box,triangle_box,double_box")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default="benchmarks/masters.json")
    args = parser.parse_args()

    from ibp_evolve.reducer.family import load_family
    from ibp_evolve.reducer.masters import discover_masters
    _fresh_cache()
    discover_masters(load_family("bubble"))  # compile the numba kernels outside the timings

    rows = []
    print(f"{'family':22s} {'symmetries':>10s} {'masters':>8s} {'literature':>10s} "
          f"{'median s':>9s} {'search s':>9s} {'peak MiB':>9s}")
    for name in args.families.split(","):
        for symmetric in (True, False):
            row = measure(name, symmetric, args.repeats)
            rows.append(row)
            print(f"{name:22s} {('on' if symmetric else 'off'):>10s} {row['masters']:8d} "
                  f"{str(row['literature'] or '-'):>10s} {row['seconds_median']:9.2f} "
                  f"{row['symmetry_search_seconds_median']:9.2f} {row['peak_rss_mib']:9d}",
                  flush=True)
    result = {"benchmark": "masters", "python": sys.version.split()[0],
              "cpu_count": os.cpu_count(), "load_average": os.getloadavg(), "rows": rows}
    tmp = args.json + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(result, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, args.json)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
