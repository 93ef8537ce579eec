"""Rank scan (issue 13): seeds and trimmed equations on I(1,1,1,1,1,1,-s) of the triangle-box as
the numerator power s grows, for the library's rules, a rule under test and the floor.

For each s: the judge (candidate universe r <= r_target + 1, s <= s + 1) scores
``improved_seeding``, ``improved_seeding_dots``, ``tube_seeding``, the evolved
``gp_triangle_box_rank_scan`` and the rule under test
(``--rule``; default: the rule exported by the best run of benchmarks/results/generalise.json,
else improved_seeding_dots); the floor is the smallest complete seed set ``minimize`` finds
starting from the complete rule (library or under test) with the fewest selected seeds at that
s (--minimize-seconds per restart, 4 restarts, seed 0), and its trimmed equations.  Improved seeding grows like a quartic
in s; the issue's goal is a rule that grows at most linearly (<= 30 s seeds at s = 6 and 8).
``--dots K`` scans the dotted variant I(1+K,1,1,1,1,1,-s) instead.

Two seed counts per cell: ``seeds`` as the judge solves them and ``seeds_selected``, the rule's
own choice.  With sector symmetries (the default, as ``reduce``) a seed of a mirror sector is
solved as its images in the unique sector, and a numerator there maps to several integrals, so
the solved count grows faster with s than the selected one; ``--no-symmetries`` scans with IBP
and LI equations alone, where the two are equal.

Run:  python benchmarks/rank_scan.py [--s 3 4 5 6 7 8] [--dots 0] [--rule FILE]
                                     [--no-symmetries] [--minimize-seconds 5] [--no-floor]
                                     [--out FILE]
Writes benchmarks/results/rank_scan.json (rank_scan_dots1.json for --dots 1, a ``_nosym``
suffix for --no-symmetries); the figures are printed as well, with the machine's load average
beside each s.
"""

from __future__ import annotations

import argparse
import json
import os
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
from bench_io import write_result  # noqa: E402  (a script beside this one)

RESULTS = ROOT / "benchmarks" / "results"
LIBRARY = ("improved_seeding", "improved_seeding_dots", "tube_seeding",
           "gp_triangle_box_rank_scan")


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


def target_for(s: int, dots: int) -> list[int]:
    return [1 + dots, 1, 1, 1, 1, 1, -s]


def judge_for(s: int, dots: int = 0, symmetries: bool | None = None) -> Judge:
    """The judge of one rank-scan target (sector symmetries as ``reduce`` by default)."""
    return Judge(parse_suite(f'name = "rank_s{s}_d{dots}"\nfamily = "triangle_box"\n'
                             f"targets = [{target_for(s, dots)}]\nmax_seeds = 60000\n"),
                 symmetries=symmetries)


def scored(judge: Judge, rule) -> dict:
    t = judge.score(rule, "trimmed").targets[0]
    return {"seeds": t.seeds, "seeds_selected": t.seeds_selected,
            "trimmed_equations": t.trimmed_equations, "reduced": t.reduced}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--s", type=int, nargs="+", default=[3, 4, 5, 6, 7, 8])
    parser.add_argument("--dots", type=int, default=0,
                        help="dots on the first line of the target (default 0)")
    parser.add_argument("--rule", help="rule file or library name (default: see above)")
    parser.add_argument("--no-symmetries", action="store_true",
                        help="IBP and LI equations alone (default: with sector symmetries, as "
                             "reduce)")
    parser.add_argument("--minimize-seconds", type=float, default=5.0)
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.out is None:
        args.out = str(RESULTS / ("rank_scan" + (f"_dots{args.dots}" if args.dots else "")
                                  + ("_nosym" if args.no_symmetries else "") + ".json"))
    symmetries = False if args.no_symmetries else None
    label, rule = (args.rule, resolve_rule(args.rule)) if args.rule else default_rule()

    rows = []
    pattern = "I(" + ",".join(map(str, target_for(0, args.dots)[:-1])) + ",-s)"
    print(f"{pattern} of triangle_box: solved seeds [selected] / trimmed equations "
          f"(rule: {label}, symmetries {'off' if args.no_symmetries else 'on'})")
    print(f"{'s':>3} " + " ".join(f"{name:>22}" for name in LIBRARY)
          + f" {'rule':>18} {'floor (minimize)':>18}  load")
    for s in args.s:
        start = time.perf_counter()
        load = os.getloadavg()[0]    # other work on the machine slows the minimize budget
        judge = judge_for(s, args.dots, symmetries)
        row = {"s": s, "target": target_for(s, args.dots),
               **{name: scored(judge, resolve_rule(name)) for name in LIBRARY},
               "rule": scored(judge, rule)}
        if not args.no_floor:
            rules = {name: resolve_rule(name) for name in LIBRARY} | {"rule": rule}
            complete = [name for name in rules if row[name]["reduced"]]
            start_rule = min(complete, key=lambda name: row[name]["seeds_selected"])
            masks = judge.masks(rules[start_rule])
            report = minimize_suite(judge, masks, rng=0, seconds=args.minimize_seconds,
                                    rule=start_rule)
            start_rule = label if start_rule == "rule" else start_rule
            floor = judge.score_masks(report.masks, "trimmed").targets[0]
            row["floor"] = {"seeds": floor.seeds, "seeds_selected": floor.seeds_selected,
                            "trimmed_equations": floor.trimmed_equations,
                            "reduced": floor.reduced, "from": start_rule,
                            "minimize_seconds": args.minimize_seconds}
        row["load_avg_1min"] = round(load, 2)
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)

        def cell(m):
            if m is None:
                return f"{'-':>18}"
            mark = "" if m["reduced"] else " (incomplete)"
            selected = ("" if m["seeds_selected"] == m["seeds"]
                        else f" [{m['seeds_selected']:,} sel]")
            return f"{m['seeds']:>7,}{selected} / {m['trimmed_equations']:>6,}{mark}".rjust(18)
        print(f"{s:>3} " + " ".join(f"{cell(row[name]):>22}" for name in LIBRARY)
              + f" {cell(row['rule'])} {cell(row.get('floor'))}  {load:.1f}")
    document = {"benchmark": "rank_scan", "family": "triangle_box", "target": pattern,
                "rule": label, "symmetries": judge.symmetries,
                "columns": [*LIBRARY, "rule"],
                "rule_source": rule.source, "rows": rows}
    write_result(Path(args.out), document, stamp=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
