"""The SAILIR triangle-box integrals (arXiv:2604.05034), reduced exactly at one rational point.

For each integral and each seeding -- the best complete library rule and the classic Laporta
box around the target -- one exact
reduction (learn once, then primes, CRT, rational reconstruction) runs in its own process:
seeds, equations, trimmed equations, peak resident memory, wall time (learning and evaluation
apart).  Kira's published equation counts stand beside them as context only: its kinematic
setting and its measure (equations generated) differ from ours.

The rule is chosen by measurement, not by name: every library rule is scored by the judge on the
built-in suite triangle_box_sailir (these four targets, under its max_seeds cap), and the complete
one with the fewest trimmed equations (then seeds) is reduced (``--rule`` names one instead).

Goals (issue 12): all four reduced exactly; peak < 4 GiB; I(1,1,2,1,1,1,-4) <= 2 s and each
of the others <= 120 s for the whole exact reduction.

Run:  python benchmarks/sailir.py [--cases 0,1] [--seedings rule,laporta] [--timeout 900]
                                  [--rule NAME]
                                  [--out benchmarks/results/sailir.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

from bench_io import write_result  # a script beside this one

CASES = [  # (integral, Kira equations, Kira seconds, Kira GB) from SAILIR's benchmark CSV
    ((1, 1, 2, 1, 1, 1, -4), 1_756, 2.3, 0.041),
    ((2, 3, 1, 1, 2, 1, -7), 35_814, 1_040, 4.6),
    ((3, 1, 1, 1, 1, 5, -7), 86_843, 2_086, 7.0),
    ((2, 2, 3, 3, 1, 2, -7), 67_363, 3_087, 8.7),
]
SUITE = "triangle_box_sailir"
POINT = {"d": Fraction(-851, 637), "m1sq": Fraction(135, 154), "m2sq": Fraction(76, 17),
         "m3sq": Fraction(-407, 325)}


def best_library_rule() -> tuple[str, list[dict]]:
    """The library rule that is complete on SUITE with the fewest trimmed equations (then seeds),
    and every rule's figures there (a rule over the suite's max_seeds cap counts incomplete)."""
    from ibp_evolve.judge.measured import measurement_of
    from ibp_evolve.judge.score import Judge
    from ibp_evolve.judge.suites import load_suite
    from ibp_evolve.language.library import library_rules, rule_name
    from ibp_evolve.language.parse import load_rule
    judge = Judge(load_suite(SUITE))
    scores = []
    for path in library_rules():
        m = measurement_of(judge.score(load_rule(path), "trimmed"))
        scores.append({"rule": rule_name(path), "complete": m.complete, "seeds": m.seeds,
                       "trimmed_equations": m.trimmed_equations})
        print(f"  {scores[-1]['rule']:40s} {'complete' if m.complete else 'incomplete':10s} "
              f"{m.seeds:>9,} seeds {m.trimmed_equations:>8,} trimmed", file=sys.stderr)
    complete = [s for s in scores if s["complete"]]
    if not complete:
        sys.exit(f"no library rule is complete on {SUITE}; name one with --rule")
    best = min(complete, key=lambda s: (s["trimmed_equations"], s["seeds"]))
    return best["rule"], scores


def run_case(index: int, seeding: str, rule_name: str) -> dict:
    """One exact reduction in this process; returns its figures (called in a child)."""
    from ibp_evolve.judge.rule_plan import rule_plan
    from ibp_evolve.language.library import resolve_rule
    from ibp_evolve.reducer.exact import reduce_exact
    from ibp_evolve.reducer.family import load_family
    from ibp_evolve.reducer.plans import WideningBox
    family = load_family("triangle_box")
    target = CASES[index][0]
    if seeding == "rule":
        plan = rule_plan(resolve_rule(rule_name), family, max_seeds=2_000_000,
                         notify=lambda m: print(m, file=sys.stderr))
    else:
        plan = WideningBox()
    start = time.perf_counter()
    result = reduce_exact(family, [target], POINT, plan)
    seconds = time.perf_counter() - start
    return {"target": list(target), "seeding": result["seeds_used"],
            "reduced": result["targets"][0]["reduced"], **result["stats"],
            "seconds": seconds, "seconds_learn": result["timing"]["learn"],
            "seconds_evaluate": result["timing"]["evaluate"],
            "samples": result["timing"]["samples"],
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20}


def _row_key(row: dict) -> tuple:
    kind = row["seeding_kind"]
    return (tuple(row["target"]), kind, row.get("seeding", "") if kind == "rule" else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="0,1,2,3", help="indices into the four integrals")
    parser.add_argument("--seedings", default="rule,laporta")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per reduction")
    parser.add_argument("--out", default="benchmarks/results/sailir.json")
    parser.add_argument("--rule", help="library rule to reduce with (default: the best "
                                       f"complete one on {SUITE}, measured)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--choose", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(int(args.child[0]), args.child[1], args.child[2])))
        return
    if args.choose:
        print(json.dumps(best_library_rule()))
        return
    choice = []
    if args.rule:
        rule = args.rule
    elif "rule" in args.seedings.split(","):
        # in a child of its own: Linux carries a process's peak memory across exec, so scoring
        # here would inflate every reduction's peak measured below
        print(f"choosing the rule: every library rule scored on {SUITE}", file=sys.stderr)
        proc = subprocess.run([sys.executable, __file__, "--choose"], stdout=subprocess.PIPE,
                              text=True)
        if proc.returncode:
            sys.exit(proc.returncode)
        rule, choice = json.loads(proc.stdout.strip().splitlines()[-1])
    else:
        rule = "-"
    print(f"rule: {rule}")

    rows = []
    for index in map(int, args.cases.split(",")):
        target, kira_eqs, kira_s, kira_gb = CASES[index]
        for seeding in args.seedings.split(","):
            name = "I(" + ",".join(map(str, target)) + ")"
            load = os.getloadavg()[0]   # other work on the machine slows every figure
            try:
                proc = subprocess.run([sys.executable, __file__, "--child", str(index), seeding,
                                       rule],
                                      capture_output=True, text=True, timeout=args.timeout)
                row = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 \
                    else {"target": list(target), "error": proc.stderr.strip()[-300:]}
            except subprocess.TimeoutExpired:
                row = {"target": list(target), "error": f"not finished in {args.timeout:.0f} s"}
            row.setdefault("seeding", f"rule {rule}" if seeding == "rule" else seeding)
            row.update(seeding_kind=seeding, load_avg_1min=round(load, 2),
                       kira_equations=kira_eqs, kira_seconds=kira_s,
                       kira_gb=kira_gb)
            rows.append(row)
            if "error" in row:
                print(f"{name:22s} {seeding:8s} {row['error']}")
            else:
                print(f"{name:22s} {seeding:8s} seeds {row['seeds']:>9,}  equations "
                      f"{row['equations']:>10,}  trimmed {row['trimmed_equations']:>7,}  "
                      f"peak {row['peak_rss_gib']:.2f} GiB  {row['seconds']:8.2f} s (learn "
                      f"{row['seconds_learn']:.2f}, {row['samples']} samples "
                      f"{row['seconds_evaluate']:.2f})  reduced {row['reduced']}  | Kira "
                      f"{kira_eqs:,} eqs, {kira_s:,} s, {kira_gb} GB  (load {load:.1f})")
            sys.stdout.flush()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():  # keep the rows of cases not run this time
        previous = json.loads(out.read_text())
        if rule == "-":
            rule, choice = previous.get("rule", "-"), previous.get("rule_choice", [])
        # a row per integral and seeding (each rule its own, the Laporta box one)
        fresh = {_row_key(r) for r in rows}
        rows = [r for r in previous.get("rows", []) if _row_key(r) not in fresh] + rows
        rows.sort(key=lambda r: ([c[0] for c in CASES].index(tuple(r["target"])),
                                 r["seeding_kind"] != "rule", r.get("seeding", "")))
    write_result(out, {"point": {k: str(v) for k, v in POINT.items()}, "rule": rule,
                       "rule_choice": choice, "cores": os.cpu_count(), "rows": rows})


if __name__ == "__main__":
    main()
