"""Everyday targets with few numerators: `reduce` with the default rule against improved seeding.

For each target of the built-in suite ``triangle_box_low`` (the triangle-box top sector with 0,
1, 2 numerators and with a dot, a five-line subsector), ``ibp-evolve reduce`` runs with the
default rule (tube seeding) and with ``improved_seeding_dots``, which leaves the undotted
top-sector targets unreduced so that ``reduce`` adds shell 1 (every integral of the target's
subsectors with one more dot and numerator).  Reported per target and rule: seeds, trimmed
equations, multiply-adds, shells added, wall time of the command (median of ``--repeats``), and
whether both rules give the same exact coefficients (they must: one point, symmetries on).

Run:  python benchmarks/few_numerators.py [--repeats 3] [--out benchmarks/results/few_numerators.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_io import write_result  # a script beside this one

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "ibp_evolve.cli.main"]
POINT = "d=17/3,m1sq=3/7,m2sq=5/11,m3sq=-2/13"
RULES = ("tube_seeding", "improved_seeding_dots")


def reduce_once(target: list[int], rule: str) -> tuple[dict, float, int]:
    """(the command's JSON, its wall time, the shells it added) for one target and rule."""
    argv = CLI + ["reduce", "triangle_box", f"--target={','.join(map(str, target))}",
                  "--rule", rule, "--at", POINT, "--json"]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return json.loads(proc.stdout), seconds, proc.stderr.count("adding shell")


def main(argv=None) -> int:
    from ibp_evolve.judge.suites import load_suite
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/few_numerators.json"))
    args = ap.parse_args(argv)
    cases = []
    for target in load_suite("triangle_box_low").targets:
        case = {"target": [int(x) for x in target]}
        coefficients = {}
        for rule in RULES:
            runs = [reduce_once(case["target"], rule) for _ in range(args.repeats)]
            doc, _, shells = runs[0]
            coefficients[rule] = doc["targets"]
            stats = doc["stats"]
            case[rule] = {"seeds": stats["seeds"], "trimmed_equations": stats["trimmed_equations"],
                          "multiply_adds": stats["multiply_adds"], "shells": shells,
                          "wall_median_s": round(statistics.median(s for _, s, _ in runs), 3)}
        case["same_coefficients"] = coefficients[RULES[0]] == coefficients[RULES[1]]
        cases.append(case)
        a, b = case[RULES[0]], case[RULES[1]]
        print(f"I({','.join(map(str, target))}): {RULES[0]} {a['seeds']:,} seeds "
              f"{a['multiply_adds']:,} mult-adds {a['shells']} shells {a['wall_median_s']} s | "
              f"{RULES[1]} {b['seeds']:,} seeds {b['multiply_adds']:,} mult-adds "
              f"{b['shells']} shells {b['wall_median_s']} s | same coefficients "
              f"{case['same_coefficients']}")
    write_result(Path(args.out), {"point": POINT, "rules": list(RULES), "repeats": args.repeats,
                                  "cpu_load": list(os.getloadavg()), "cases": cases},
                 stamp=True)
    return 0 if all(c["same_coefficients"] for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
