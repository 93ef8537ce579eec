"""Rules that generalise (issue 13): evolve on triangle_box_train, validate on
triangle_box_validation, and score the exported rule on the validation suite against
improved_seeding, improved_seeding_dots and Laporta.

For each seed: ``ibp-evolve evolve --suite triangle_box_train --validate
triangle_box_validation`` (the deap engine, the per-target normalised objective
``relative_trimmed``, relative to tube_seeding, extra GP features ``offset,removed,tube,distance``,
started from --start, by default tube_seeding (the best complete library rule measured) in the
one-expression form the GP holds, seeds/tube_seeding_start.py) for
--minutes on --workers cores.  The rule the run exports (best/rank01,
chosen by validation) is then scored by the judge on the validation suite: complete or not,
seeds and trimmed equations, beside the baselines (tube_seeding, improved_seeding(_dots),
Laporta).  Goal of the issue: complete on every
validation target with fewer seeds *and* fewer trimmed equations than improved_seeding_dots.

Run:  python benchmarks/generalise.py [--minutes 30] [--seeds 0 1 2] [--workers 2]
                                      [--start tube_seeding_start] [--keep-runs DIR]
Writes benchmarks/results/generalise.json (figures printed as well).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ibp_evolve.judge.score import Judge  # noqa: E402
from ibp_evolve.judge.suites import load_suite  # noqa: E402
from ibp_evolve.language.library import resolve_rule  # noqa: E402
from bench_io import write_result  # noqa: E402  (a script beside this one)

TRAIN, VALIDATION = "triangle_box_train", "triangle_box_validation"
BASELINES = ("tube_seeding", "improved_seeding", "improved_seeding_dots", "laporta")
FEATURES = "offset,removed,tube,distance"


def evolve(seed: int, minutes: float, workers: int, objective: str, start: str,
           out: Path) -> dict:
    command = [sys.executable, "-m", "ibp_evolve.cli.main", "evolve", "--suite", TRAIN,
               "--validate", VALIDATION, "--objective", objective, "--features", FEATURES,
               "--start", start, "--generations", "1000",
               "--time-limit", str(60 * minutes), "--workers", str(workers),
               "--seed", str(seed), "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"evolve (seed {seed}) failed with status {done.returncode}:\n"
                         f"{done.stderr[-2000:]}")
    return {"seed": seed, "wall_seconds": round(wall, 1), "command": " ".join(command[1:]),
            "rule_file": str(out / "best" / "rank01.py")}


def measure(judge: Judge, rule) -> dict:
    report = judge.score(rule, "trimmed")
    return {"complete": report.complete,
            "unreduced": sum(not t.reduced for t in report.targets),
            "seeds": sum(t.seeds for t in report.targets),
            "trimmed_equations": sum(t.trimmed_equations for t in report.targets),
            "per_target": [{"target": t.target, "seeds": t.seeds, "reduced": t.reduced,
                            "trimmed_equations": t.trimmed_equations, "reason": t.reason}
                           for t in report.targets]}


def beating(runs: list[dict], reference: dict) -> list[int]:
    """The seeds whose exported rule is complete with fewer seeds and fewer trimmed equations
    than the reference rule on the validation suite (the issue's goal)."""
    return [r["seed"] for r in runs if r["validation"]["complete"]
            and r["validation"]["seeds"] < reference["seeds"]
            and r["validation"]["trimmed_equations"] < reference["trimmed_equations"]]


def row(name: str, m: dict) -> str:
    state = "complete" if m["complete"] else f"{m['unreduced']} unreduced"
    return (f"{name:<34} {state:>13} {m['seeds']:>9,} {m['trimmed_equations']:>10,}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--objective", default="relative_trimmed")
    parser.add_argument("--start", default="tube_seeding_start",
                        help="rule injected into the first generation (default: "
                             "seeds/tube_seeding_start.py, tube_seeding as one expression the "
                             "GP can hold; tube_seeding is the best complete library rule)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" /
                                              "generalise.json"))
    parser.add_argument("--keep-runs", help="folder for the run folders (default: temporary)")
    args = parser.parse_args()

    runs_dir = Path(args.keep_runs or tempfile.mkdtemp(prefix="generalise-"))
    judge = Judge(load_suite(VALIDATION))
    baselines = {name: measure(judge, resolve_rule(name)) for name in BASELINES}
    runs = []
    for seed in args.seeds:
        run = evolve(seed, args.minutes, args.workers, args.objective, args.start,
                     runs_dir / f"seed{seed}")
        source = Path(run["rule_file"]).read_text()
        run["rule"] = source
        run["validation"] = measure(judge, resolve_rule(run["rule_file"]))
        runs.append(run)

    print(f"validation suite {VALIDATION} ({len(judge.suite.targets)} targets); evolved on "
          f"{TRAIN}, {args.minutes:g} min x {len(args.seeds)} seeds, {args.workers} workers, "
          f"objective {args.objective}, started from {args.start}")
    print(f"{'rule':<34} {'state':>13} {'seeds':>9} {'trimmed':>10}")
    for name, m in baselines.items():
        print(row(name, m))
    for run in runs:
        print(row(f"evolved (seed {run['seed']})", run["validation"]))
    beats = {name: beating(runs, baselines[name])
             for name in ("improved_seeding_dots", "tube_seeding")}
    for name, seeds in beats.items():
        print(f"beats {name} on seeds and trimmed equations (complete): "
              + (", ".join(f"seed {s}" for s in seeds) if seeds else "no run"))
    document = {"benchmark": "generalise", "train": TRAIN, "validation": VALIDATION,
                "minutes": args.minutes, "seeds": args.seeds, "workers": args.workers,
                "objective": args.objective, "features": FEATURES, "baselines": baselines,
                "start": args.start, "runs": runs,
                "beats_improved_seeding_dots": beats["improved_seeding_dots"],
                "beats_tube_seeding": beats["tube_seeding"]}
    write_result(Path(args.out), document, stamp=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
