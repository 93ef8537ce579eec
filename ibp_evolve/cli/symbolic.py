"""``ibp-evolve minimize`` and ``ibp-evolve distill``: labels from the solver, formulas from them.

    ibp-evolve minimize RULE [--suite SUITE] [--swaps N] [--seconds S] [--seed K]
                             [--out FILE] [--json]
    ibp-evolve distill [--suite SUITE] [--engine operon|deap|pysr] [--from RULE_OR_RUN]
                       [--runs N] [--seconds S] [--seed K] [--out DIR] [--json]

``minimize`` prints the minimal complete seed set found per target (and stores it as JSON);
``distill`` prints the engine's Pareto front as calibrated rules, scored by the solver, and
writes them as rule files.  A rule read from a file, the library or a run folder selects its
seeds in the rule sandbox (``--time-limit``), never in this process.  Exit status: 0 done;
1 ran, but incomplete: ``minimize``'s rule does not reduce every target, or no rule that
``distill`` wrote reduces every target; 2 bad input (a rule refused by
the validator or stopped by the sandbox included); 3 the chosen engine cannot run here (e.g.
PySR without Julia).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ibp_evolve.runs.store import atomic_write_bytes

DEFAULT_RUNS_DIR = "runs"


def add_parser(subparsers) -> None:
    from ibp_evolve.cli.limits import add_judge_limits, seconds as limit_seconds
    from ibp_evolve.engines.symbolic.backends import ENGINES
    p = subparsers.add_parser(
        "minimize", help="shrink a rule's seeds to a minimal complete set per target",
        description="Start from RULE's seeds, drop every seed whose equations mark and sweep "
                    "did not need, remove seeds greedily (blocks, then bisection) while every "
                    "target stays reduced, then try random swaps under a budget.")
    p.add_argument("rule", help="rule file (.py), library rule name (e.g. improved_seeding) "
                                "or run folder (its best complete rule)")
    from ibp_evolve.cli.limits import add_suite_option
    add_suite_option(p)
    p.add_argument("--swaps", type=int, default=1000,
                   help="swap attempts per target (default 1000)")
    p.add_argument("--restarts", type=int, default=4,
                   help="greedy passes in random orders, the best kept (default 4)")
    p.add_argument("--seconds", type=float, default=5.0,
                   help="time budget of the swap phase per target (default 5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", help="JSON file for the minimal sets (default "
                                 "runs/minimize/SUITE-RULE-sSEED.json)")
    p.add_argument("--time-limit", type=limit_seconds, default=10.0,
                   help="seconds the rule may take to select its seeds, per target, in the "
                        "rule sandbox (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_judge_limits(p)
    p.set_defaults(func=cmd_minimize)

    p = subparsers.add_parser(
        "distill", help="distil minimal seed sets into closed-form rules (symbolic regression)",
        description="Label candidate seeds by how often randomised minimisations keep them, "
                    "fit a priority formula with a symbolic-regression engine, and turn every "
                    "formula of its Pareto front into a rule whose threshold is calibrated "
                    "against the solver; every rule is scored and written as a rule file.")
    from ibp_evolve.cli.limits import add_suite_option
    add_suite_option(p)
    p.add_argument("--engine", default="operon", choices=ENGINES,
                   help="symbolic-regression engine (default operon; pysr needs Julia)")
    p.add_argument("--from", dest="start", default="improved_seeding_dots",
                   metavar="RULE_OR_RUN",
                   help="start seeds: a rule file or library rule, or a run folder (its best "
                        "complete rule); default improved_seeding_dots")
    p.add_argument("--runs", type=int, default=8,
                   help="randomised minimisations that label the seeds (default 8)")
    p.add_argument("--seconds", type=float, default=30.0,
                   help="time budget of the symbolic regression (default 30)")
    p.add_argument("--fits", type=int, default=1,
                   help="independent fits (seeds SEED, SEED+1, ...) whose fronts are pooled; "
                        "each gets --seconds (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", help="folder for the rule files (default runs/distill/SUITE-ENGINE-"
                                 "TIME)")
    p.add_argument("--time-limit", type=limit_seconds, default=10.0,
                   help="seconds the start rule may take to select its seeds, per target, in "
                        "the rule sandbox (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_distill)


def _fail(command: str, message: str, status: int = 2) -> int:
    print(f"ibp-evolve {command}: error: {message}", file=sys.stderr)
    return status


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(text).stem)


def cmd_minimize(args) -> int:
    from ibp_evolve.cli.limits import judge_limits
    from ibp_evolve.judge.minimize import minimize_suite
    from ibp_evolve.language.parse import RuleError
    from ibp_evolve.language.sandbox import RuleSandboxError
    from ibp_evolve.judge.score import Judge
    from ibp_evolve.judge.suites import load_suite
    from ibp_evolve.engines.symbolic.distill import rule_masks
    from ibp_evolve.runs.store import RunError

    if args.swaps < 0 or args.seconds < 0:
        return _fail("minimize", "--swaps and --seconds must be non-negative")
    suite = load_suite(args.suite)
    judge = Judge(suite, **judge_limits(args))
    try:
        rule_file, name = _rule_or_run(args.rule, judge, args.time_limit)
        masks = rule_masks(judge, rule_file, args.time_limit)
    except RuleError as exc:
        return _fail("minimize", f"rule rejected: {exc}")
    except RuleSandboxError as exc:
        return _fail("minimize", f"rule {args.rule} stopped by the sandbox: {exc}")
    except RunError as exc:
        return _fail("minimize", str(exc))
    report = minimize_suite(judge, masks, rng=args.seed, swaps=args.swaps,
                            seconds=args.seconds, restarts=max(args.restarts, 1),
                            rule=name)
    data = report.to_json()
    data["minimal_sets"] = [judge.universes[i][m].tolist() for i, m in enumerate(report.masks)]
    data["targets"] = [list(t) for t in suite.targets]
    out = Path(args.out or os.path.join(DEFAULT_RUNS_DIR, "minimize",
                                        f"{suite.name}-{_slug(name.replace('/', '-'))}-s{args.seed}.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps(data, indent=1) + "\n").encode())
    data["file"] = str(out)
    if args.json:
        print(json.dumps(data))
        return 0 if report.complete else 1
    if not report.complete:
        print(f"rule {name} does not reduce every target of {suite.name}: nothing to "
              f"minimise (start from a complete rule, e.g. improved_seeding_dots or laporta)")
        return 1
    print(f"rule {name} on suite {suite.name}: minimal complete seed sets")
    rows = [("targets", "start", "pruned", "greedy", "minimal", "solves", "swaps", "seconds")]
    for r in report.results:
        name_ = " ".join("I(" + ",".join(map(str, t)) + ")" for t in r.targets)
        rows.append((name_, str(r.start_size), str(r.pruned_size), str(r.greedy_size),
                     str(r.size), str(r.solves), f"{r.swaps_accepted}/{r.swaps_tried}",
                     f"{r.seconds:.2f}"))
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) if k == 0 else c.rjust(w)
                        for k, (c, w) in enumerate(zip(row, widths))))
    if suite.joint:
        print("seeds per target: " + ", ".join(str(int(m.sum())) for m in report.masks))
    print(f"minimal sets written to {out}")
    return 0


def _rule_or_run(start: str, judge, time_limit: float):
    """(rule file or library name, display name) for a rule, or for a run folder its best
    complete rule.  Nothing from a run folder runs outside the rule sandbox."""
    from ibp_evolve.language.library import resolve_rule
    from ibp_evolve.language.sandbox import RuleSandboxError
    from ibp_evolve.engines.symbolic.distill import rule_masks
    path = Path(start)
    if path.is_dir():
        from ibp_evolve.runs.store import RunError, RunFolder
        run = RunFolder.open(path)
        try:
            for candidate in run.best_files():
                try:
                    if judge.score_masks(rule_masks(judge, str(candidate),
                                                    time_limit)).complete:
                        return str(candidate), f"{run.name}/{candidate.stem}"   # as compare names it
                except RuleSandboxError:
                    continue
        finally:
            run.close()
        raise RunError(f"run {path} has no best rule that reduces suite {judge.suite.name}")
    rule = resolve_rule(start)  # a readable error now rather than deep inside
    return start, rule.name


def _start_rule(start: str, judge, time_limit: float = 10.0):
    """The start rule: a rule (file or library name), or the best complete rule of a run."""
    return _rule_or_run(start, judge, time_limit)[0]


def cmd_distill(args) -> int:
    from ibp_evolve.language.parse import RuleError
    from ibp_evolve.language.sandbox import RuleSandboxError
    from ibp_evolve.judge.score import Judge
    from ibp_evolve.judge.suites import load_suite
    from ibp_evolve.engines.symbolic.backends import BackendUnavailable, make_backend
    from ibp_evolve.engines.symbolic.distill import Distiller
    from ibp_evolve.runs.store import RunError

    if args.runs < 1 or args.seconds <= 0 or args.fits < 1:
        return _fail("distill", "--runs, --fits and --seconds must be positive")
    try:
        make_backend(args.engine, seconds=args.seconds, seed=args.seed)  # fail fast
    except BackendUnavailable as exc:
        return _fail("distill", str(exc), 3)
    suite = load_suite(args.suite)
    judge = Judge(suite)
    try:
        start = _start_rule(args.start, judge, args.time_limit)
    except RuleError as exc:
        return _fail("distill", f"--from: rule rejected: {exc}")
    except RunError as exc:
        return _fail("distill", f"--from: {exc}")
    distiller = Distiller(suite, args.engine, start=start, runs=args.runs, seed=args.seed,
                          seconds=args.seconds, fits=args.fits, judge=judge,
                          rule_time_limit=args.time_limit)
    try:
        distiller.fit()
    except BackendUnavailable as exc:
        return _fail("distill", str(exc), 3)
    except RuleSandboxError as exc:
        return _fail("distill", f"--from {args.start}: stopped by the sandbox: {exc}")
    except (RuleError, ValueError) as exc:
        return _fail("distill", str(exc))
    out = Path(args.out or os.path.join(DEFAULT_RUNS_DIR, "distill",
                                        f"{suite.name}-{args.engine}-s{args.seed}-"
                                        f"{time.strftime('%Y%m%d-%H%M%S')}"))
    paths = distiller.write_rules(out)
    summary = {"suite": suite.name, "engine": args.engine, "start": start,
               "labels": distiller.labels_.summary(), "timings": distiller.timings_,
               "rules": [dict(r.to_json(), file=str(p))
                         for r, p in zip(distiller.rules_, paths)]}
    atomic_write_bytes(out / "summary.json", (json.dumps(summary, indent=1) + "\n").encode())
    # ran, but incomplete when no distilled rule reduces every target (the files are written)
    status = 0 if distiller.best_ is not None and distiller.best_.complete else 1
    if args.json:
        print(json.dumps(summary))
        return status
    lab = distiller.labels_
    print(f"suite {suite.name}, engine {args.engine}, start {start}: minimal sets of sizes "
          + ", ".join("/".join(map(str, s)) for s in lab.minimal_sizes)
          + f"; {int(lab.positive.sum())} seeds ever kept; fit {distiller.timings_['fit']:.1f} s")
    rows = [("rank", "size", "seeds", "complete", "formula (kept when > 0)")]
    for k, r in enumerate(distiller.rules_):
        rows.append((str(k + 1), str(r.complexity), str(r.seeds),
                     "yes" if r.complete else "no", r.expression))
    widths = [max(len(row[k]) for row in rows) for k in range(4)]
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    print(f"rules written to {out}/ (rule_00.py is rank 1)")
    if distiller.best_ is not None:
        print(distiller.best_.source.rstrip())
    if status:
        print("incomplete: no distilled rule reduces every target")
    return status
