"""Every library rule on every suite its header names: the figures behind the "Measured" lines.

Scores each rule under ``rules/`` (sandboxed, as ``ibp-evolve score`` does) on the suites its
header already states (for a rule with no Measured line yet: the suites of ``--suites``, by
default the two built-in triangle-box suites),
prints one line per rule and suite, and writes ``benchmarks/results/rule_scores.json``.
With ``--write`` it also rewrites each rule file's Measured lines from these scores (the only way
figures enter a rule header; ``tests/test_rule_headers.py`` checks them against a fresh score).

Run:  python benchmarks/rule_scores.py [--write] [--rules RULE ...] [--suites SUITE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ibp_evolve.judge.measured import measurement_of, parse_measured, replace_measured
from ibp_evolve.judge.score import Judge
from ibp_evolve.judge.suites import load_suite
from ibp_evolve.language.library import library_rules, rule_name
from ibp_evolve.language.parse import load_rule
from ibp_evolve.reducer.cache import atomic_write_text

DEFAULT_SUITES = ("triangle_box_paper", "triangle_box_train")
RESULTS = Path(__file__).resolve().parent / "results" / "rule_scores.json"


def kept_rows(scored: list[Path]) -> list[dict]:
    """Rows of the previous results for rules not scored now: ``--rules X`` updates X's rows
    and keeps the rest of the library's."""
    if not RESULTS.exists():
        return []
    names = {path.name for path in scored}
    return [row for row in json.loads(RESULTS.read_text()) if row["rule"] not in names]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the rule headers")
    parser.add_argument("--rules", nargs="*", help="rule files (default: the whole library)")
    parser.add_argument("--suites", nargs="+", default=list(DEFAULT_SUITES),
                        help="suites of a rule whose header names none yet (default: "
                             + ", ".join(DEFAULT_SUITES) + ")")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.rules] if args.rules else library_rules()
    judges, results = {}, (kept_rows(paths) if args.rules else [])
    for path in paths:
        source = path.read_text()
        suites = list(parse_measured(source)) or args.suites
        rule = load_rule(path)
        reports = []
        for suite in suites:
            if suite not in judges:
                judges[suite] = Judge(load_suite(suite))
            report = judges[suite].score(rule, sandbox=True, time_limit=60.0)
            reports.append(report)
            m = measurement_of(report)
            print(f"{rule_name(path)}"
                  f" on {suite}: {'complete' if m.complete else 'incomplete'}, {m.seeds:,} seeds, "
                  f"{m.trimmed_equations:,} trimmed, {m.multiply_adds:,} mult-adds")
            results.append({"rule": str(path.name), "suite": suite, **m.__dict__})
        if args.write:
            per_target = "# Measured on" in source and "#   I(" in source
            atomic_write_text(path, replace_measured(source, reports, per_target=per_target))
    RESULTS.parent.mkdir(exist_ok=True)
    atomic_write_text(RESULTS, json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
