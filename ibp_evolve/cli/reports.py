"""``ibp-evolve inspect``, ``report`` and ``compare``: look at rules and runs.

    ibp-evolve inspect RULE [--suite SUITE] [--rank K] [--out DIR] [--formats png,svg]
    ibp-evolve report RUN [--out FILE] [--best N] [--seed-maps K] [--no-baselines]
    ibp-evolve compare RULE... [--suite SUITE ...] [--format html|md|csv] [--out FILE]
                       [--ratio METRIC ...] [--chart FILE] [--no-baselines]

RULE is a library rule name, a rule file, or a run folder (its best rule; ``--rank`` picks
another).  ``inspect`` prints the rule, its formula and its scores, writes the seed maps (PNG
and SVG, one per target) and a JSON summary into ``RUN/inspect/`` for a run's rule or
``--out`` (default: a fresh temporary folder, never the current one), and prints the paths.  ``report`` writes
``RUN/report.html`` (or ``--out``) and prints its path.  ``compare`` prints the table on stdout
or writes it to ``--out``.  Progress goes to stderr (``--quiet`` silences it).  All three read
runs read-only and work while the run is still being written.  Exit status: 0 done; 1 ran, but
the rule (``inspect``) or a rule asked for (``compare``) leaves a target unreduced; 2 bad input
(a rule rejected or stopped included).
"""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    from ibp_evolve.cli.limits import add_judge_limits
    from ibp_evolve.judge.score import OBJECTIVES
    p = subparsers.add_parser(
        "inspect", help="a rule's formula, scores and seed maps (PNG/SVG)",
        description="Show a rule as source and simplified formula with its scores per target, "
                    "and draw its seed maps: per sector (grouped by lines t) the kept seeds "
                    "on a dots x numerator-power grid, beside the candidate universe and the "
                    "seeds that mark and sweep says the reduction needed.")
    p.add_argument("rule", help="library rule name, rule file (.py) or run folder")
    p.add_argument("--suite", help="built-in suite or .toml path (default: the run's suite, "
                                   "else triangle_box_paper)")
    p.add_argument("--rank", type=int, default=1, help="which best rule of a run (default 1)")
    p.add_argument("--objective", default="seeds", choices=OBJECTIVES)
    p.add_argument("--out", help="folder for the seed maps (default RUN/inspect for a run's "
                                 "rule, else a new temporary folder: never the current "
                                 "one)")
    p.add_argument("--formats", default="png,svg", help="image formats (default png,svg)")
    add_judge_limits(p)
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_inspect)

    p = subparsers.add_parser(
        "report", help="a self-contained HTML report of a run",
        description="Write a self-contained HTML report of a run (works offline): "
                    "configuration, fitness against evaluations and wall time, share of valid "
                    "and complete candidates, Pareto front of seeds against rule size, the best "
                    "rules with their seed maps, and the lineage of the best rule.")
    p.add_argument("run", help="run folder (may still be running)")
    p.add_argument("--out", help="HTML file to write (default RUN/report.html)")
    p.add_argument("--best", type=int, default=5, help="best rules to show (default 5)")
    p.add_argument("--seed-maps", type=int, default=3,
                   help="how many of the best rules get seed maps (default 3; 0: none)")
    p.add_argument("--no-baselines", action="store_true",
                   help="do not score laporta and improved_seeding for reference")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_report)

    from ibp_evolve.reports.compare import METRICS
    p = subparsers.add_parser(
        "compare", help="rules x targets against the Laporta and improved-seeding baselines",
        description="Score rules on suites and tabulate seeds, equations, trimmed equations, "
                    "multiply-adds, seconds and completeness per target, with ratios to the "
                    "Laporta and improved-seeding baselines, plus a bar chart (embedded in the "
                    "HTML form, or --chart FILE).")
    p.add_argument("rules", nargs="+", metavar="RULE",
                   help="library rule name, rule file (.py) or run folder")
    p.add_argument("--suite", action="append", help="built-in suite or .toml path "
                                                    "(repeatable; default triangle_box_paper)")
    p.add_argument("--format", default="md", choices=("md", "csv", "html"))
    p.add_argument("--out", help="write here instead of stdout")
    p.add_argument("--objective", default="seeds", choices=OBJECTIVES,
                   help="objective of the fitness column (default seeds)")
    p.add_argument("--ratio", action="append", choices=METRICS, metavar="METRIC",
                   help="metric to divide by the baselines' (repeatable; default seeds and "
                        "multiply_adds)")
    p.add_argument("--chart", help="also save the bar chart (.png or .svg)")
    p.add_argument("--no-baselines", action="store_true",
                   help="no baseline rows and no ratios")
    add_judge_limits(p)
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_compare)


def _progress(args):
    from ibp_evolve.reports.inspect import stderr_progress
    return None if args.quiet else stderr_progress


def _fail(command: str, message: str, status: int = 2) -> int:
    print(f"ibp-evolve {command}: error: {message}", file=sys.stderr)
    return status


def _is_run(path: str) -> bool:
    return Path(path).is_dir() and (Path(path) / "config.json").is_file()


def _run_of_rule_file(path: str) -> Path | None:
    p = Path(path)
    if p.suffix == ".py" and p.parent.name == "best" \
            and (p.parent.parent / "config.json").is_file():
        return p.parent.parent
    return None


def _load(rule_arg: str, rank: int = 1):
    """(rule, run folder or None, run snapshot or None) of a RULE argument."""
    from ibp_evolve.reports.inspect import as_rule
    from ibp_evolve.reports.html import read_run
    if _is_run(rule_arg):
        run = read_run(rule_arg)
        return run.rule(rank), Path(rule_arg), run
    run_dir = _run_of_rule_file(rule_arg)
    return as_rule(rule_arg), run_dir, (read_run(run_dir) if run_dir else None)


def _rule_errors():
    from ibp_evolve.language.parse import RuleError
    from ibp_evolve.language.sandbox import RuleSandboxError
    from ibp_evolve.runs.store import RunError
    return RuleError, RuleSandboxError, RunError


def cmd_inspect(args) -> int:
    from ibp_evolve.cli.limits import judge_limits
    from ibp_evolve.reports.inspect import inspect_rule
    RuleError, RuleSandboxError, RunError = _rule_errors()
    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad or not formats:
        return _fail("inspect", f"--formats: unknown image format '{bad[0] if bad else ''}' "
                                f"(choose from png, svg, pdf)")
    try:
        rule, run_dir, run = _load(args.rule, args.rank)
        suite = args.suite or ((run.config.get("suite_spec") or {}).get("suite", run.suite)
                               if run else "triangle_box_paper")
        inspection = inspect_rule(rule, suite, args.objective, progress=_progress(args),
                                  limits=judge_limits(args))
    except RunError as exc:
        return _fail("inspect", str(exc))
    except RuleError as exc:
        return _fail("inspect", f"rule rejected: {exc}")
    except RuleSandboxError as exc:
        return _fail("inspect", f"rule stopped: {exc}")
    if args.out:
        out = Path(args.out)
    elif run_dir:
        out = run_dir / "inspect"
    else:
        # a library rule or a loose file: nothing is written where the user stands (a
        # repository checkout, say); the maps go to a fresh temporary folder, named below
        import re
        import tempfile
        safe = re.sub(r"[^\w.-]+", "_", rule.name)
        out = Path(tempfile.mkdtemp(prefix=f"ibp-evolve-inspect-{safe}-"))
    print(inspection.summary())
    print()
    for path in inspection.save(out, formats, progress=_progress(args)):
        print(f"wrote {path}")
    return 0 if inspection.report.complete else 1   # ran, but a target is left unreduced


def cmd_report(args) -> int:
    from ibp_evolve.reports.html import write_report
    RuleError, RuleSandboxError, RunError = _rule_errors()
    if args.best < 1 or args.seed_maps < 0:
        return _fail("report", "--best must be positive and --seed-maps non-negative")
    try:
        path = write_report(args.run, args.out, progress=_progress(args), n_best=args.best,
                            seed_maps=args.seed_maps,
                            baselines=() if args.no_baselines else ("laporta",
                                                                    "improved_seeding"))
    except RunError as exc:
        return _fail("report", str(exc))
    print(path)
    return 0


def cmd_compare(args) -> int:
    from ibp_evolve.cli.limits import judge_limits
    from ibp_evolve.reports.compare import BASELINES, RATIO_METRICS, compare_rules
    RuleError, RuleSandboxError, RunError = _rule_errors()
    from ibp_evolve.judge.suites import load_suite
    for suite in args.suite or ():
        load_suite(suite)   # a typo in a suite name is refused before any judge is built
    try:
        rules = [_load(r)[0] for r in args.rules]
        comparison = compare_rules(rules, args.suite or ["triangle_box_paper"], args.objective,
                                   () if args.no_baselines else BASELINES,
                                   tuple(args.ratio or RATIO_METRICS), _progress(args),
                                   limits=judge_limits(args))
    except RunError as exc:
        return _fail("compare", str(exc))
    except RuleError as exc:
        return _fail("compare", f"rule rejected: {exc}")
    except RuleSandboxError as exc:
        return _fail("compare", f"rule stopped: {exc}")
    text = comparison.render(args.format)
    if args.out:
        from ibp_evolve.runs.store import atomic_write_bytes
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(Path(args.out), text.encode())
        print(args.out)
    else:
        sys.stdout.write(text)
    if args.chart:
        path = comparison.save_chart(args.chart)
        print(f"chart: {path}", file=sys.stderr if not args.out else sys.stdout)
    if comparison.incomplete:   # ran, but a rule asked about leaves a target unreduced
        print(f"incomplete: {', '.join(comparison.incomplete)}", file=sys.stderr)
        return 1
    return 0
