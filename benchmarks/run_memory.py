"""Memory of a long evolution run: the mask cache held in memory against read back from the
run database (``MaskCache(db)``), in the same process, on the main job's settings.

Each mode runs GP on triangle_box_paper (population ``--population``, ``--generations``, no
polish, one process, a run folder in a temporary directory) under tracemalloc; reported: the
Python memory the mask cache's evaluations hold at the end (allocations traced to
``runs/evaluation.py`` and the judge's results kept there), per generation, and the run's wall
time (tracemalloc slows both alike).  Both modes must record the same candidates.

Run:  python benchmarks/run_memory.py [--generations 40] [--population 300]
                                      [--out benchmarks/results/run_memory.json]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench_io import write_result  # a script beside this one

ROOT = Path(__file__).resolve().parents[1]


def one_run(folder: Path, generations: int, population: int, held: bool) -> dict:
    import ibp_evolve.runs.loop as loop
    from ibp_evolve.engines.gp import DeapEngine, GPConfig
    from ibp_evolve.runs.evaluation import MaskCache, SuiteSpec
    from ibp_evolve.runs.store import RunFolder
    real = loop.MaskCache
    if held:   # the former cache: every evaluation kept in memory for the whole run
        loop.MaskCache = lambda db=None: MaskCache(None)
    run = RunFolder.create(folder, {"engine": "deap"})
    try:
        engine = DeapEngine(GPConfig(population=population, generations=generations, seed=1,
                                     polish=0))
        tracemalloc.start()
        start = time.perf_counter()
        engine.evolve(SuiteSpec("triangle_box_paper", max_seeds=2000), run=run)
        seconds = time.perf_counter() - start
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
    finally:
        loop.MaskCache = real
        run.close()
    cache_bytes = sum(s.size for s in snapshot.statistics("filename")
                      if s.traceback[0].filename.endswith(("runs/evaluation.py",
                                                            "runs/store.py")))
    db = sqlite3.connect(folder / "run.sqlite")
    rows = db.execute("SELECT id, mask_hash, fitness, cached FROM candidates ORDER BY id")\
        .fetchall()
    db.close()
    return {"seconds": round(seconds, 1), "cache_kib": round(cache_bytes / 1024, 1),
            "kib_per_generation": round(cache_bytes / 1024 / (generations + 1), 2),
            "candidates": engine.n_candidates_, "rows": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generations", type=int, default=40)
    ap.add_argument("--population", type=int, default=300)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/run_memory.json"))
    args = ap.parse_args(argv)
    doc = {"generations": args.generations, "population": args.population}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, held in (("held_in_memory", True), ("read_back", False)):
            doc[mode] = one_run(Path(tmp) / mode, args.generations, args.population, held)
            r = doc[mode]
            print(f"{mode}: {r['candidates']:,} candidates, {r['seconds']} s, mask cache "
                  f"{r['cache_kib']:,} KiB ({r['kib_per_generation']} KiB per generation)")
    if doc["held_in_memory"].pop("rows") != doc["read_back"].pop("rows"):
        raise SystemExit("the two modes recorded different candidates")
    write_result(Path(args.out), doc, stamp=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
