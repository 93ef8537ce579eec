"""Rank scan (issue 13): seeds and trimmed equations on I(1,1,1,1,1,1,-s) of the triangle-box as
the numerator power s grows, for a rule against improved seeding and the floor.

For each s: the judge (candidate universe r <= 6 + 1, s <= s + 1) scores ``improved_seeding``,
``improved_seeding_dots`` and the rule under test (``--rule``; default: the rule exported by the
best run of benchmarks/results/generalise.json, else improved_seeding_dots); the floor is the
smallest complete seed set ``minimize`` finds starting from improved seeding (--minimize-seconds
per restart, 4 restarts, seed 0), and its trimmed equations.  Improved seeding grows like a
quartic in s (92, 205, 396, 693, 1,128, 1,737 seeds for s = 3..8); the issue's goal is a rule
that grows at most linearly (<= 30 s seeds at s = 6 and 8).

Run:  python benchmarks/rank_scan.py [--s 3 4 5 6 7 8] [--rule FILE] [--minimize-seconds 5]
                                     [--no-floor]
Writes benchmarks/results/rank_scan.json (figures printed as well).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ibp_evolve.judge.minimize import minimize_suite  # noqa: E402
from ibp_evolve.judge.score import Judge  # noqa: E402
from ibp_evolve.judge.suites import parse_suite  # noqa: E402
from ibp_evolve.language.library import resolve_rule  # noqa: E402
from ibp_evolve.language.parse import load_rule  # noqa: E402
from ibp_evolve.runs.store import atomic_write_bytes  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
BASELINES = ("improved_seeding", "improved_seeding_dots")


def default_rule():
    """(label, rule): the best exported rule of generalise.json, else improved_seeding_dots."""
    path = RESULTS / "generalise.json"
    if path.is_file():
        runs = [r for r in json.loads(path.read_text()).get("runs", [])
                if r["validation"]["complete"]]
        if runs:
            best = min(runs, key=lambda r: (r["validation"]["trimmed_equations"],
                                            r["validation"]["seeds"]))
            label = f"evolved (generalise seed {best['seed']})"
            return label, load_rule(best["rule"], name=f"generalise_seed{best['seed']}")
    return "improved_seeding_dots", resolve_rule("improved_seeding_dots")


def judge_for(s: int) -> Judge:
    return Judge(parse_suite(f'name = "rank_s{s}"\nfamily = "triangle_box"\n'
                             f"targets = [[1, 1, 1, 1, 1, 1, {-s}]]\nmax_seeds = 20000\n"))


def scored(judge: Judge, rule) -> dict:
    t = judge.score(rule, "trimmed").targets[0]
    return {"seeds": t.seeds, "trimmed_equations": t.trimmed_equations, "reduced": t.reduced}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--s", type=int, nargs="+", default=[3, 4, 5, 6, 7, 8])
    parser.add_argument("--rule", help="rule file or library name (default: see above)")
    parser.add_argument("--minimize-seconds", type=float, default=5.0)
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / "rank_scan.json"))
    args = parser.parse_args()
    label, rule = (args.rule, resolve_rule(args.rule)) if args.rule else default_rule()

    rows = []
    print(f"I(1,1,1,1,1,1,-s) of triangle_box: seeds / trimmed equations (rule: {label})")
    print(f"{'s':>3} {'improved_seeding':>18} {'improved_seeding_dots':>22} "
          f"{'rule':>18} {'floor (minimize)':>18}")
    for s in args.s:
        start = time.perf_counter()
        judge = judge_for(s)
        row = {"s": s, **{name: scored(judge, resolve_rule(name)) for name in BASELINES},
               "rule": scored(judge, rule)}
        if not args.no_floor:
            masks = judge.masks(resolve_rule("improved_seeding"))
            report = minimize_suite(judge, masks, rng=0, seconds=args.minimize_seconds,
                                    rule="improved_seeding")
            floor = judge.score_masks(report.masks, "trimmed").targets[0]
            row["floor"] = {"seeds": floor.seeds, "trimmed_equations": floor.trimmed_equations,
                            "reduced": floor.reduced,
                            "minimize_seconds": args.minimize_seconds}
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)

        def cell(m):
            if m is None:
                return f"{'-':>18}"
            mark = "" if m["reduced"] else " (incomplete)"
            return f"{m['seeds']:>7,} / {m['trimmed_equations']:>6,}{mark}".rjust(18)
        print(f"{s:>3} {cell(row['improved_seeding'])} "
              f"{cell(row['improved_seeding_dots']):>22} {cell(row['rule'])} "
              f"{cell(row.get('floor'))}")
    document = {"benchmark": "rank_scan", "family": "triangle_box", "rule": label,
                "rule_source": rule.source, "rows": rows,
                "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(args.out), (json.dumps(document, indent=2) + "\n").encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
