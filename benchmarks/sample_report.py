"""Regenerate the sample run report: a real ``ibp-evolve evolve`` on triangle_box_paper, then
``ibp-evolve report`` on it, with the timings of both and what the report holds.

    python benchmarks/sample_report.py [--out runs/sample-report] [--population 300]
                                       [--generations 20] [--seed 0] [--workers W]
    python benchmarks/sample_report.py --report-only      # redraw the report of the last run

The run folder (under ``runs/``, not committed) ends up with ``report.html`` (one
self-contained file, open it in any browser, offline) and ``inspect/`` (the seed maps of the
best rule as PNG and SVG).  The report is also written halfway through the run, to show that a
report of a run in progress works (and never blocks the writer).  The timings go to
``--json`` (default ``benchmarks/results/sample_report.json``, with the load average), from which
``benchmarks/readme_figures.py`` renders the README's block; ``--report-only`` writes none.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # this checkout's package, whatever is installed

from bench_io import write_result  # noqa: E402  (a script beside this one)
from ibp_evolve.runs.store import RunFolder  # noqa: E402


def ibp(*argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ibp_evolve.cli.main", *argv], cwd=ROOT,
                          check=True, text=True, **kw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/sample-report", help="run folder (replaced)")
    parser.add_argument("--population", type=int, default=300)
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--report-only", action="store_true",
                        help="keep the run folder, only redraw its report")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" /
                                              "sample_report.json"))
    args = parser.parse_args()
    run = ROOT / args.out
    loads = [os.getloadavg()[0]]   # other work on the machine slows every figure

    if not args.report_only:
        if run.exists():
            shutil.rmtree(run)
        print(f"evolve: triangle_box_paper, population {args.population}, generations "
              f"{args.generations}, seed {args.seed}, {args.workers} workers -> {run}")
        start = time.perf_counter()
        evolve = subprocess.Popen(
            [sys.executable, "-m", "ibp_evolve.cli.main", "evolve", "--suite", "triangle_box_paper",
             "--population", str(args.population), "--generations", str(args.generations),
             "--seed", str(args.seed), "--workers", str(args.workers), "--out", str(run),
             "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        # a report of the run while it is being written: read-only, never blocks the writer
        live = None
        while evolve.poll() is None:
            time.sleep(2.0)
            stats = run / "generations.csv"
            if live is None and stats.exists() and \
                    len(stats.read_text().splitlines()) - 1 >= max(1, args.generations // 2):
                t = time.perf_counter()
                ibp("report", str(run), "--out", str(run / "report-in-progress.html"),
                    "--seed-maps", "0", "--no-baselines", "--quiet", capture_output=True)
                live = time.perf_counter() - t
        summary = evolve.stdout.read()
        if evolve.wait() != 0:
            print(summary)
            return 1
        evolve_seconds = time.perf_counter() - start
        loads.append(os.getloadavg()[0])
        print(summary.rstrip())
        print(f"evolve: {evolve_seconds:.1f} s wall")
        if live is not None:
            print(f"report of the run in progress (no seed maps): {live:.1f} s, "
                  f"{run / 'report-in-progress.html'}")

    start = time.perf_counter()
    out = ibp("report", str(run), capture_output=True).stdout.strip()
    report_seconds = time.perf_counter() - start
    start = time.perf_counter()
    ibp("inspect", str(run), "--quiet", capture_output=True)
    inspect_seconds = time.perf_counter() - start
    loads.append(os.getloadavg()[0])

    text = Path(out).read_text()
    pngs = len(re.findall(r"src='data:image/png;base64,", text))
    svgs = text.count("<svg ")
    sections = re.findall(r"<section id='([a-z]+)'>", text)
    print(f"report: {out}")
    print(f"  {len(text) / 1024:.0f} KiB, sections {', '.join(sections)}; {svgs} inline SVG "
          f"charts, {pngs} PNG seed maps; written in {report_seconds:.1f} s (judge build, "
          f"baselines and seed maps included)")
    print(f"inspect of the best rule: {inspect_seconds:.1f} s -> {run / 'inspect'}")
    if args.report_only:
        return 0
    counts = re.search(r"([\d,]+) candidates, ([\d,]+) distinct masks", summary)
    stored = RunFolder.open(run)
    try:
        best = [r for r in stored.db.best(50) if r.complete][:1]
    finally:
        stored.close()
    write_result(Path(args.json), {
        "suite": "triangle_box_paper", "population": args.population,
        "generations": args.generations, "seed": args.seed, "workers": args.workers,
        "cores": os.cpu_count(), "load_avg_1min": [round(x, 2) for x in loads],
        "evolve_seconds": round(evolve_seconds, 1),
        "candidates": int(counts.group(1).replace(",", "")),
        "distinct_masks": int(counts.group(2).replace(",", "")),
        "best_complete_seeds": best[0].seeds if best else None,
        "report_seconds": round(report_seconds, 1), "report_kib": round(len(text) / 1024),
        "report_svgs": svgs, "report_pngs": pngs, "report_sections": sections,
        "inspect_seconds": round(inspect_seconds, 1),
        "live_report_seconds": None if live is None else round(live, 1)}, stamp=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
