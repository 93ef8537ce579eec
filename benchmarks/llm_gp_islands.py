"""LLM + GP islands against GP alone, at equal candidates (issue 17, item 3).

    python benchmarks/llm_gp_islands.py [--workdir runs/bench-islands] [--model DIR | --minutes 4]
                                        [--population 32] [--generations 10] [--seed 0 1 2]
                                        [--at 2000 8000] [--jobs 1] [--reuse]
                                        [--temperature 1.2] [--functions-per-prompt 2]
                                        [--start RULE ...] [--features NAMES] [--json FILE]
                                        [--stop-after N] [--report]
                                        [--island-budget adaptive] [--island-floor F]

1. The model: ``--model DIR`` (any model the transformers backend reads, e.g. the one
   ``benchmarks/llm_engine.py`` trains), or a small one trained here by ``train-mutator`` for
   ``--minutes`` on the CPU (no scored rule of the suite is in its corpus).
2. Per seed, two runs of ``ibp-evolve evolve`` on triangle_box_paper with the same population
   per island, generations, migration (every 2 generations, 3 programs) and worker count:
   ``--engine gp:1,llm:1`` (one GP island, one LLM island) and ``--engine gp:2`` (two GP
   islands): the only difference is what the second island is.  ``--jobs`` runs that many at
   a time, each in its own process; ``--start RULE`` gives every island of both mixes the same
   start rules; ``--island-budget adaptive`` lets both mixes share their candidates by the
   islands' recent contributions (a weak island rests, down to ``--island-floor``).
3. Reported: the best fitness after k candidates (candidate ids in order, so "k" counts every
   candidate of both islands; the GP islands' polish rounds at the end of the budget count
   too), per seed and engine mix, at each ``--at`` count both runs of the seed reached and at
   the smaller run's size; how many migrants each island took.

Writes WORKDIR/results.json and ``--json`` (benchmarks/results/llm_gp_islands.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

MIXES = {"llm+gp": "gp:1,llm:1", "gp": "gp:2"}


def migrants_taken(run_dir: Path) -> dict:
    """Per island: migrants it took and skipped over the run."""
    from ibp_evolve.runs.islands import migration_totals
    from ibp_evolve.runs.store import RunFolder
    run = RunFolder.open(run_dir)
    try:
        totals = migration_totals(run.db.generations())
    finally:
        run.close()
    return {f"{k}:{t['engine']}": {"taken": t["taken"], "skipped": t["skipped"]}
            for k, t in totals.items()}


def candidates_by_island(run_dir: Path) -> dict:
    """Per island: the candidates it made over the run (its share of the budget)."""
    db = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return {str(k): n for k, n in db.execute(
            "SELECT island, COUNT(*) FROM candidates GROUP BY island ORDER BY island")}
    finally:
        db.close()


def island_argv(args, mix: str, seed: int, out: Path, model: Path) -> list:
    """The ``evolve`` arguments of one run: the same for both mixes but the engine list."""
    argv = ["evolve", "--engine", mix, "--population", str(args.population),
            "--generations", str(args.generations), "--seed", str(seed),
            "--migrate-every", "2", "--migrants", "3", "--workers", str(args.workers),
            "--out", str(out), "--quiet", "--no-baselines"]
    argv += [x for start in args.start for x in ("--start", start)]
    argv += ["--features", args.features] if args.features else []
    argv += ["--island-budget", args.island_budget] if args.island_budget else []
    argv += ["--island-floor", str(args.island_floor)] if args.island_floor else []
    if "llm" in mix:
        argv += ["--backend", "transformers", "--model", str(model),
                 "--max-new-tokens", str(args.max_new_tokens),
                 "--temperature", str(args.temperature), "--top-p", str(args.top_p),
                 "--functions-per-prompt", str(args.functions_per_prompt)]
    return argv


def _candidates(out: Path) -> int:
    """Candidates the run at ``out`` holds so far (0 before its database exists)."""
    from ibp_evolve.runs.store import RunError
    from llm_engine import run_size
    try:
        return run_size(out)
    except (RunError, sqlite3.Error):
        return 0


def run_all(args, work: Path, model: Path) -> list:
    """Every (seed, mix) run, ``--jobs`` of them at a time (each its own process, so runs that
    share the machine see the same load); a finished run is kept with ``--reuse``, every
    existing run with ``--report``.  ``--stop-after N`` stops a run (SIGTERM: it keeps its
    last generation) once it holds N candidates, so that an LLM run whose comparison point
    is reached does not sample on for hours; the budget in generations stays the same for
    both mixes (the GP's polish rounds come at its end)."""
    from llm_engine import run_elapsed, run_status
    todo, runs = [], []
    for seed in args.seed:
        for name, mix in MIXES.items():
            out = work / f"run-{name}-s{seed}"
            runs.append({"seed": seed, "mix": name, "out": str(out)})
            if args.report or (args.reuse and run_status(out) in ("finished", "stopped")):
                runs[-1]["reused"] = True
                continue
            if out.exists():
                shutil.rmtree(out)
            todo.append((out, [sys.executable, "-m", "ibp_evolve.cli.main"]
                         + island_argv(args, mix, seed, out, model)))
    running, stopped = [], set()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    while todo or running:
        while todo and len(running) < args.jobs:
            out, argv = todo.pop(0)
            running.append((out, subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)))
        time.sleep(1)   # whichever run ends first frees its place
        for out, job in running:
            if (args.stop_after and job.poll() is None and out not in stopped
                    and _candidates(out) >= args.stop_after):
                job.terminate()   # once: a second SIGTERM would cut its clean stop short
                stopped.add(out)
        for out, job in [r for r in running if r[1].poll() is not None]:
            running.remove((out, job))
            if job.returncode != 0 and not (out in stopped and job.returncode == 130):
                raise SystemExit(f"the run {out} exited {job.returncode}")
    for r in runs:
        out = Path(r["out"])
        r["candidates"] = _candidates(out)
        r["status"] = run_status(out)
        r["seconds"] = run_elapsed(out)   # the run's own wall time
        r["migrants"] = migrants_taken(out)
        r["candidates_by_island"] = candidates_by_island(out)
    return runs


def main() -> None:
    from llm_engine import best_curves, fmt, run_cli   # the LLM benchmark's helpers
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="runs/bench-islands")
    ap.add_argument("--model", help="a trained model directory (default: train one here)")
    ap.add_argument("--minutes", type=float, default=4.0, help="training time of the model")
    ap.add_argument("--population", type=int, default=32, help="per island")
    ap.add_argument("--generations", type=int, default=10)
    ap.add_argument("--seed", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="runs at the same time")
    ap.add_argument("--at", type=int, nargs="+", default=[2000, 8000],
                    help="candidate counts at which the mixes are compared")
    ap.add_argument("--max-new-tokens", type=int, default=256,
                    help="tokens per completion (a copy of a tube-sized rule is ~170)")
    ap.add_argument("--temperature", type=float, default=1.2)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--functions-per-prompt", type=int, default=2)
    ap.add_argument("--reuse", action="store_true", help="keep runs that finished")
    ap.add_argument("--stop-after", type=int, metavar="N",
                    help="stop a run once it holds N candidates (default: its whole budget)")
    ap.add_argument("--report", action="store_true",
                    help="figures of the run folders already in --workdir; run nothing")
    ap.add_argument("--start", action="append", default=[], metavar="RULE",
                    help="start rule of every island of both mixes (repeatable)")
    ap.add_argument("--features", metavar="NAMES",
                    help="evolve --features for the GP islands of both mixes (e.g. tube: "
                         "the LLM's rules that read seed.tube can then migrate to GP)")
    ap.add_argument("--island-budget", choices=("equal", "adaptive"),
                    help="evolve --island-budget of both mixes (default: equal)")
    ap.add_argument("--island-floor", type=float, metavar="SHARE",
                    help="evolve --island-floor of both mixes (adaptive budget)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks/results/llm_gp_islands.json"))
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = {"machine": f"{os.cpu_count()} CPU cores, load average "
                          f"{os.getloadavg()[0]:.1f} at the start, no GPU, one torch thread",
               "suite": "triangle_box_paper", "population_per_island": args.population,
               "generations": args.generations, "seeds": args.seed, "mixes": MIXES,
               "runs_at_a_time": args.jobs, "compared_at": args.at,
               "start_rules": args.start, "gp_features": args.features,
               "stop_after": args.stop_after,
               "island_budget": args.island_budget or "equal",
               "island_floor": args.island_floor,
               "sampling": {"max_new_tokens": args.max_new_tokens,
                            "temperature": args.temperature, "top_p": args.top_p,
                            "functions_per_prompt": args.functions_per_prompt}}
    model = Path(args.model) if args.model else work / "model"
    if not args.model:
        results["train_seconds"] = round(run_cli(
            ["train-mutator", "--out", str(model), "--minutes", str(args.minutes),
             "--random-rules", "2000", "--variations", "2000", "--documents", "1500",
             "--max-length", "128"]), 1)
    info = json.loads((model / "train_info.json").read_text())
    results["model"] = {k: info.get(k) for k in ("parameters", "programs", "steps",
                                                  "final_loss", "seconds", "run_examples")}
    results["model_dir"] = str(model)
    if args.report:   # the runs were made earlier, under a load this process cannot know
        results["machine"] = (f"{os.cpu_count()} CPU cores, no GPU, one torch thread; "
                              "figures read back from the run folders (--report)")
    results["runs"] = run_all(args, work, model)
    # equal candidates: compare at k up to the smaller run of each seed
    for seed in args.seed:
        runs = [r for r in results["runs"] if r["seed"] == seed]
        total = min(r["candidates"] for r in runs)
        points = sorted({p for p in (64, 256, 1024, *args.at, total) if p <= total})
        for r in runs:
            curve = dict(zip(points, best_curves(Path(r["out"]), points)["fitness"]))
            r["best_vs_candidates"] = {str(p): curve[p] for p in points}
            r["best_at"] = {str(p): curve[p] for p in args.at if p <= total}
            r["best_at_equal_candidates"] = curve[total]
            r["equal_candidates"] = total
    results["total_seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(results, indent=1, default=str) + "\n"
    (work / "results.json").write_text(text)
    path = Path(args.json)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)

    print(f"model: {results['model']}")
    print("best fitness after k candidates (seeds; >1e15 incomplete), "
          f"population {args.population} per island, {args.generations} generations:")
    for seed in args.seed:
        runs = [r for r in results["runs"] if r["seed"] == seed]
        points = list(runs[0]["best_vs_candidates"])
        print(f"seed {seed}:  k " + " ".join(f"{p:>8}" for p in points))
        for r in runs:
            print(f"  {r['mix']:>8}:   " + " ".join(
                f"{fmt(r['best_vs_candidates'][p]):>8}" for p in points)
                + f"   ({r['seconds']} s, migrants {r['migrants']}, candidates by island "
                  f"{r['candidates_by_island']})")
    print(f"wrote {path}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_NUM_THREADS", "1")   # see benchmarks/llm_engine.py
    start = time.monotonic()
    main()
    print(f"({time.monotonic() - start:.0f} s in all)")
