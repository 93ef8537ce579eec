"""The default main job over many random seeds: is ``ibp-evolve evolve`` reliable? (issue 16)

For each seed: ``ibp-evolve evolve --seed S`` with every other option at its default
(triangle_box_paper, population 300, 65 generations: 60 of breeding with stagnation restarts
with improved seeding among fresh trees and improved seeding's visits every 20 generations,
then 5 of polish), run as the user runs it, in a fresh process, into a temporary run folder.
Reported per seed: the best rule's seeds and completeness, wall time, restarts, whether the
best rule descends from a start rule (improved seeding injected by the GP) or from random
trees alone, and what the breeding alone had reached (the best before the polish); overall:
how many runs end at <= 92 seeds (improved seeding) and the median.
Goal (issue 16): all <= 92, median <= 70.

Run:  python benchmarks/evolve_seeds.py [--seed 0..19 | --seed 0 5 479] [--workers W]
                                        [--extra "--time-limit 600"]
Writes benchmarks/results/evolve_seeds.json (or --json PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPROVED_SEEDING = 92


def seeds_arg(values: list[str]) -> list[int]:
    """``0..19`` ranges and plain integers."""
    out = []
    for v in values:
        if ".." in v:
            a, b = v.split("..")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(v))
    return out


def descends_from_start(db, cid: int) -> bool:
    """Whether a start rule (improved seeding, injected by the GP) is among the
    candidate's ancestors, i.e. whether the run found its rule from a random start or not."""
    todo, seen = [cid], set()
    while todo:
        c = todo.pop()
        if c in seen:
            continue
        seen.add(c)
        operation, parents = db.execute("SELECT operation, parents FROM candidates "
                                        "WHERE id = ?", (c,)).fetchone()
        if operation == "start":
            return True
        todo += json.loads(parents or "[]")
    return False


def run_one(seed: int, workers: int | None, extra: list[str], folder: Path) -> dict:
    out = folder / f"s{seed}"
    cmd = [sys.executable, "-m", "ibp_evolve.cli.main", "evolve", "--seed", str(seed),
           "--out", str(out), "--quiet", "--no-baselines"] + extra
    if workers is not None:
        cmd += ["--workers", str(workers)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        return {"seed": seed, "exit": proc.returncode, "error": proc.stderr[-500:],
                "wall_seconds": round(wall, 1)}
    from ibp_evolve.runs.fitness import parse_fitness
    db = sqlite3.connect(f"file:{out / 'run.sqlite'}?mode=ro", uri=True)
    try:
        # the fitness is exact text (it can pass 2^53): ranked here, not by SQL's string order
        rows = db.execute("SELECT fitness, COALESCE(size, 0), id, seeds, complete, formula, "
                          "size FROM candidates WHERE status = 'ok'").fetchall()
        best_row = min(rows, key=lambda r: (parse_fitness(r[0]), r[1], r[2]))
        best = best_row[3:]
        gens = db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
        from_start = descends_from_start(db, best_row[2])
    finally:
        db.close()
    state = json.loads((out / "checkpoint.json").read_text()).get("state", {})
    settings = json.loads((out / "config.json").read_text()).get("engine_config", {})
    # the run's best before its polish rounds (the logbook's last breeding generation)
    bred = [s.get("best_seeds") for s in state.get("logbook", []) if not s.get("polish")]
    # a plain run restarts its population; a run of islands, each island its own
    restarts = sum(1 for s in state.get("logbook", [])
                   for part in [s] + (s.get("islands") or []) if part.get("restarted"))
    return {"seed": seed, "exit": 0, "best_seeds": best[0], "complete": bool(best[1]),
            "formula": best[2], "size": best[3], "generations": gens, "restarts": restarts,
            "from_start_rule": from_start, "before_polish": bred[-1] if bred else None,
            # what the polish cost: its distinct seed selections scored and its seconds
            "evaluations": sum(s.get("evaluations", 0) for s in state.get("logbook", [])),
            "polish_evaluations": sum(s.get("evaluations", 0) for s in state.get("logbook", [])
                                      if s.get("polish")),
            "polish_seconds": round(sum(s.get("seconds", 0.0) for s in state.get("logbook", [])
                                        if s.get("polish")), 1),
            "settings": {k: settings.get(k) for k in ("population", "generations", "polish",
                                                       "stagnation", "restart_rules",
                                                       "inject_every")},
            "wall_seconds": round(wall, 1)}


def write_summary(results: list, seeds: list, args, final: bool) -> dict:
    """The JSON of the seeds so far (rewritten after every seed, atomically: a benchmark cut
    short keeps what it measured)."""
    ok = [r for r in results if not r["exit"] and r["complete"]]
    counts = [r["best_seeds"] for r in ok]
    summary = {
        "command": "ibp-evolve evolve --seed S " + args.extra
                   + (f" --workers {args.workers}" if args.workers else ""),
        "seeds": seeds, "runs": len(results), "complete": len(ok), "finished": final,
        "at_most_92": sum(1 for c in counts if c <= IMPROVED_SEEDING),
        "median_seeds": statistics.median(counts) if counts else None,
        "max_seeds": max(counts) if counts else None,
        # runs whose best rule descends from improved seeding injected by the GP
        "from_start_rule": sum(1 for r in ok if r.get("from_start_rule")),
        "median_wall_seconds": statistics.median(r["wall_seconds"] for r in results),
        "goal": "all <= 92 seeds, median <= 70", "results": results}
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=1) + "\n")
    os.replace(tmp, path)   # atomic: a killed benchmark leaves the previous figures intact
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", nargs="+", default=["0..19"], help="seeds, e.g. 0..19 479")
    parser.add_argument("--workers", type=int, help="pool size (default: the CLI's)")
    parser.add_argument("--extra", default="", help="more evolve options, e.g. '--time-limit 600'")
    parser.add_argument("--json", default=str(ROOT / "benchmarks/results/evolve_seeds.json"))
    args = parser.parse_args()
    seeds = seeds_arg(args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="evolve-seeds-") as folder:
        for seed in seeds:
            r = run_one(seed, args.workers, shlex.split(args.extra), Path(folder))
            results.append(r)
            if r["exit"]:
                print(f"seed {seed:>4}: exit {r['exit']}: {r['error'].strip()[-200:]}")
            else:
                print(f"seed {seed:>4}: {r['best_seeds']:>5} seeds "
                      f"({'complete' if r['complete'] else 'INCOMPLETE'}), "
                      f"{r['generations']} generations, {r['restarts']} restarts, "
                      f"{'from a start rule' if r['from_start_rule'] else 'from random'}, "
                      f"{r['before_polish']} before the polish, "
                      f"{r['wall_seconds']:.0f} s   {r['formula']}", flush=True)
            write_summary(results, seeds, args, final=False)
    summary = write_summary(results, seeds, args, final=True)
    print(f"{summary['at_most_92']}/{len(results)} runs at <= 92 seeds; median "
          f"{summary['median_seeds']}, max {summary['max_seeds']}; median wall "
          f"{summary['median_wall_seconds']:.0f} s per run")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
