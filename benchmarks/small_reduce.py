"""Start-up bound: `ibp-evolve reduce` of a small family, whole command, warm caches (issue 12).

Each case runs the command line in a fresh process (the validated family, templates, zero
sectors, masters and sector symmetries already cached on disk by a first, untimed run): wall
time from process start to exit, median of several runs, and the in-process time after the
interpreter started, with whether that run imported sympy (a warm run should not, with or
without symmetries).  Each case runs with sector symmetries on (the default) and off
(``symmetries_off``).  Goal: <= 0.5 s wall.  Python's
bytecode cache is on for the children, as in any installation (PYTHONDONTWRITEBYTECODE, which
some shells set, would add the compilation of every module to each run).

``--baseline DIR`` times another source checkout (say the main branch) the same way, its runs
interleaved with this tree's so that both see the same machine load, and reports the ratio.

Run:  python benchmarks/small_reduce.py [--repeats 5] [--baseline /path/to/checkout]
                                        [--out benchmarks/results/small_reduce.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_io import write_result  # a script beside this one

CASES = [("bubble", "3,2"), ("box", "2,1,1,1"), ("kite", "1,1,1,1,1")]
ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "ibp_evolve.cli.main"]


def _env(root: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def wall(argv: list[str], root: Path = ROOT) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(root), cwd=root)
    return time.perf_counter() - start, proc.returncode


def in_process(argv: list[str], root: Path = ROOT) -> tuple[float, bool]:
    """(seconds from the first import of the CLI to the end of the command, whether sympy was
    imported), measured inside a fresh process."""
    code = ("import sys, time; t = time.perf_counter(); from ibp_evolve.cli.main import main; "
            f"main({argv!r}); print('SECONDS', time.perf_counter() - t, 'sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(root), cwd=root).stdout
    seconds, sympy = out.rsplit("SECONDS", 1)[1].split()
    return float(seconds), sympy == "True"


def measure(argv: list[str], roots: list[Path], repeats: int) -> list[dict]:
    """Per root: exit code, wall times and in-process figures, runs interleaved across roots."""
    codes = [wall(argv, root)[1] for root in roots]  # warm each tree's caches first
    walls = [[] for _ in roots]
    insides = [[] for _ in roots]
    for _ in range(repeats):
        for k, root in enumerate(roots):
            walls[k].append(wall(argv, root)[0])
            insides[k].append(in_process(argv[len(CLI):], root))
    return [{"exit_code": code, "wall_median_s": statistics.median(times),
             "wall_min_s": min(times),
             "after_interpreter_start_median_s": statistics.median(s for s, _ in inside),
             "imports_sympy": any(imported for _, imported in inside)}
            for code, times, inside in zip(codes, walls, insides)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another checkout to time alongside")
    parser.add_argument("--out", default="benchmarks/results/small_reduce.json")
    args = parser.parse_args()
    roots = [ROOT] + ([args.baseline.resolve()] if args.baseline else [])
    bare, _ = zip(*(wall([sys.executable, "-c", "pass"]) for _ in range(args.repeats)))
    imports, _ = zip(*(wall([sys.executable, "-c", "import ibp_evolve.cli.main"])
                       for _ in range(args.repeats)))
    rows = []
    load_before = os.getloadavg()
    print(f"python start-up alone {statistics.median(bare):.3f} s; + import of the CLI "
          f"{statistics.median(imports):.3f} s (medians of {args.repeats}; load average "
          f"{load_before[0]:.1f} on {os.cpu_count()} cores)")
    for family, target in CASES:
        argv = CLI + ["reduce", family, "--target", target, "--at", _point(family)]
        mine, *base = measure(argv, roots, args.repeats)
        off, *_ = measure(argv + ["--symmetries", "off"], roots[:1], args.repeats)
        row = {"family": family, "target": target, "symmetries": "on", **mine,
               "symmetries_off": off, "goal_s": 0.5}
        if base:
            row["baseline"] = base[0]
            row["ratio_to_baseline"] = mine["wall_median_s"] / base[0]["wall_median_s"]
        rows.append(row)
        print(f"reduce {family:7s} --target {target:10s} wall {row['wall_median_s']:.3f} s "
              f"(min {row['wall_min_s']:.3f}; goal <= 0.5 s), imports + work after the "
              f"interpreter started {row['after_interpreter_start_median_s']:.3f} s, sympy "
              f"{'imported' if row['imports_sympy'] else 'not imported'}, exit "
              f"{row['exit_code']}; --symmetries off {off['wall_median_s']:.3f} s (sympy "
              f"{'imported' if off['imports_sympy'] else 'not imported'})"
              + (f"; baseline {base[0]['wall_median_s']:.3f} s "
                 f"({row['ratio_to_baseline']:.2f}x)" if base else ""))
    out = ROOT / args.out if not Path(args.out).is_absolute() else Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_result(out, {"python_startup_s": statistics.median(bare),
                       "import_cli_s": statistics.median(imports),
                       "baseline": str(args.baseline) if args.baseline else None,
                       "cases": rows, "cpu_load_before": load_before,
                       "cpu_load": os.getloadavg(), "cores": os.cpu_count()},
                 remark=f" (load average {os.getloadavg()[0]:.1f})")


def _point(family: str) -> str:
    return {"bubble": "d=17/3,s=5/7", "box": "d=17/3,s=5/7,t=-3/11",
            "kite": "d=17/3,s=5/7"}[family]


if __name__ == "__main__":
    main()
