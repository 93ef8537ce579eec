"""Memory and time of ranking a long run's best rules (``RunDatabase.best``, used at the end of
every run, on Ctrl-C and on --resume).

A run database of ``--rows`` scored candidates (random fitness and seed selections, a typical
rule source and per-target scores) is built in a temporary folder; ``best(5)`` is timed and its
peak of Python allocations traced (tracemalloc, which slows both alike), against the former
way — every row loaded as a record, then sorted — measured in the same run.  Both must return
the same rules.

Run:  python benchmarks/best_rules_memory.py [--rows 300000] [--out benchmarks/results/best_rules_memory.json]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench_io import write_result  # a script beside this one

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ("def keep(seed, target):\n"
          "    return seed.r <= target.r + 1 and seed.s <= target.s and seed.d == 0\n")
SCORES = [{"target": [1, 1, 1, 1, 1, 1, -3], "seeds": 80, "equations": 700,
           "trimmed_equations": 300, "multiply_adds": 20000, "reduced": True}]


def every_row_sorted(db, n: int) -> list:
    """The former ``best``: every scored row as a record, sorted, the n best selections."""
    from ibp_evolve.runs.store import distinct_best
    return distinct_best(db.candidates("WHERE status = 'ok'"), n)


def traced(call) -> tuple[list, float, float]:
    tracemalloc.start()
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return [r.id for r in result], seconds, peak


def main(argv=None) -> int:
    from ibp_evolve.runs.store import CandidateRecord, RunFolder
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/best_rules_memory.json"))
    args = ap.parse_args(argv)
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        run = RunFolder.create(Path(tmp) / "run", {"engine": "deap"})
        try:
            batch = []
            for i in range(args.rows):
                batch.append(CandidateRecord(
                    id=i, engine="deap", operation="crossover", source=SOURCE,
                    generation=i // 300, size=rng.randint(5, 40),
                    mask_hash=f"{rng.getrandbits(64):016x}", fitness=rng.randint(60, 2000),
                    scores=SCORES))
                if len(batch) == 10_000 or i == args.rows - 1:
                    run.db.add_candidates(batch)
                    batch = []
            before, before_s, before_peak = traced(lambda: every_row_sorted(run.db, 5))
            now, now_s, now_peak = traced(lambda: run.db.best(5))
        finally:
            run.close()
    if before != now:
        raise SystemExit(f"the two rankings differ: {before} vs {now}")
    doc = {"rows": args.rows, "best": now,
           "every_row_sorted": {"seconds": round(before_s, 2),
                                "peak_mib": round(before_peak / 2 ** 20, 1)},
           "streamed": {"seconds": round(now_s, 2), "peak_mib": round(now_peak / 2 ** 20, 2)}}
    print(f"{args.rows:,} rows: every row sorted {before_s:.1f} s, peak "
          f"{before_peak / 2 ** 20:.0f} MiB; streamed {now_s:.1f} s, peak "
          f"{now_peak / 2 ** 20:.2f} MiB")
    write_result(Path(args.out), doc, stamp=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
