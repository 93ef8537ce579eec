"""Command-line interface: ``ibp-evolve COMMAND ...``.

Every command accepts a built-in family name or a path to a family TOML file.  Errors in the
user's input are printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys


def user_errors() -> tuple:
    """Exceptions that mean bad input or a job refused by a cap: one line on stderr, exit 2.
    Imported only once a command has failed, so that starting the CLI stays cheap."""
    from ibp_evolve.cli.dask_options import DaskOptionError
    from ibp_evolve.cli.limits import LimitOptionError
    from ibp_evolve.judge.bounds import CapError
    from ibp_evolve.judge.rule_plan import EmptySelectionError
    from ibp_evolve.judge.selection import SelectionError
    from ibp_evolve.judge.suites import SuiteError
    from ibp_evolve.language.parse import RuleError
    from ibp_evolve.language.sandbox import RuleSandboxError
    from ibp_evolve.reducer.exact import DegeneratePointError
    from ibp_evolve.reducer.family import FamilyError
    from ibp_evolve.reducer.modular import PointParseError, PoleError
    from ibp_evolve.reducer.ordering import OrderingError
    from ibp_evolve.reducer.plans import SeedCapError, SeedSpecError
    from ibp_evolve.reducer.system import PointError
    from ibp_evolve.reducer.cache import CacheDirError
    return (FamilyError, PointParseError, PoleError, PointError, SeedSpecError, SeedCapError,
            DegeneratePointError, OrderingError, SuiteError, FileNotFoundError, RuleError,
            RuleSandboxError, SelectionError, EmptySelectionError, CapError, LimitOptionError,
            CacheDirError, DaskOptionError)


COMMAND_MODULES = ("ibp_evolve.cli.evolve", "ibp_evolve.cli.symbolic", "ibp_evolve.cli.reports",
                   "ibp_evolve.cli.llm", "ibp_evolve.cli.suites")


def caused_by_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C in disguise: a SIGINT that lands while numba's dispatcher
    is in C code surfaces as ``SystemError: ... returned a result with an exception set``,
    caused by the KeyboardInterrupt."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _parse_target(text: str, label: str = "--target") -> list[str]:
    """The index texts of '--target 1,1,0' or of 'I(1,1,0)', as the output writes integrals;
    Family.check_integral converts and bounds them."""
    from ibp_evolve.reducer.family import FamilyError
    body = text.strip()
    if body[:1] in "Ij" and "(" in body:
        body = body[body.index("("):]
    parts = [p.strip() for p in body.strip("()[]").split(",")]
    if not all(re.fullmatch(r"[+-]?\d+", p) for p in parts):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise FamilyError(f"{label} '{shown}': expected comma-separated integers such as "
                          f"1,1,0 or I(1,1,0)")
    return parts


def _join_negative_values(argv: list[str]) -> list[str]:
    """Let '--target -1,1,0' work: argparse would take '-1,1,0' for an option."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--target" and i + 1 < len(argv) and re.match(r"-\d", argv[i + 1]):
            out.append(f"--target={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def cmd_families(args) -> int:
    from ibp_evolve.reducer.family import builtin_names, load_family
    action = getattr(args, "families_action", None)
    if action == "show":
        return _families_show(args)
    if action == "import-kira":
        return _families_import_kira(args)
    rows = [("name", "loops", "indices", "ISPs", "kinematic symbols", "unique sectors",
             "masters sym/off", "description")]
    for name in builtin_names():
        fam = load_family(name)
        rows.append((name, str(fam.n_loops), str(fam.n), ",".join(str(i + 1) for i in fam.isps)
                     or "-", ", ".join(fam.parameters), *_known_counts(fam), fam.description))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    print("? = not derived yet (the listing reads caches only; `ibp-evolve families show NAME` "
          "derives them)")
    return 0


def _known_counts(family) -> tuple[str, str]:
    """(unique sectors of the non-zero ones, masters with / without sector symmetries) as far
    as the caches know them: a listing never starts a discovery."""
    from ibp_evolve.reducer.masters import cached_family_masters
    from ibp_evolve.reducer.symmetries import cached_symmetries
    sym = cached_symmetries(family)
    # every non-zero sector is unique or mapped onto one
    sectors = "?" if sym is None else \
        f"{len(sym.unique_sectors)} of {len(sym.unique_sectors) + len(sym.mappings)}"
    counts = [cached_family_masters(family, symmetries=on) for on in (True, False)]
    return sectors, "/".join("?" if m is None else str(len(m)) for m in counts)


def _read_targets(path: str, family) -> list[tuple[int, ...]]:
    """Targets from a file: one integral per line (``1,1,2,1`` or ``I(1,1,2,1)``, ``#``
    comments), or a suite file (.toml) of the same family."""
    from pathlib import Path
    from ibp_evolve.reducer.family import FamilyError
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--targets file '{path}' does not exist")
    if file.suffix == ".toml":
        from ibp_evolve.judge.suites import load_suite
        suite = load_suite(file)
        if suite.family.name != family.name:
            raise FamilyError(f"--targets '{path}': a suite of family '{suite.family.name}', "
                              f"not '{family.name}'")
        return [tuple(t) for t in suite.targets]
    targets = []
    for number, line in enumerate(file.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        where = f"--targets '{path}' line {number}"
        targets.append(family.check_integral(_parse_target(text, where), where))
    if not targets:
        raise FamilyError(f"--targets '{path}': no integrals in the file")
    return targets


def _resolve_rule(text: str):
    """(rule, sandboxed?) for a library name, a rule file or a run folder (its best rule).
    Library rules ship with the package and run in process; any other file goes through the
    sandbox, since someone else may have written it."""
    from pathlib import Path
    from ibp_evolve.language.library import is_shipped, resolve_rule
    path = Path(text)
    best = sorted((path / "best").glob("rank*.py")) if path.is_dir() else []
    if path.is_dir() and (best or (path / "config.json").is_file()):
        if not best:
            raise FileNotFoundError(f"run folder '{text}' has no best rule (no best/rank01.py)")
        path, text = best[0], str(best[0])
    rule = resolve_rule(text)
    return rule, not is_shipped(rule.path)


def _shell_notice(message: str) -> None:
    print(f"ibp-evolve reduce: {message}", file=sys.stderr)


def _name(integral) -> str:
    return "I(" + ",".join(map(str, integral)) + ")"


def _families_show(args) -> int:
    """Sectors, sector symmetries and masters of one family, with and without symmetries."""
    from ibp_evolve.reducer.family import load_family
    from ibp_evolve.reducer.masters import family_masters
    from ibp_evolve.reducer.ordering import Ordering
    from ibp_evolve.reducer.sectors import nonzero_subsectors, top_sector
    from ibp_evolve.reducer.symmetries import family_symmetries
    family = load_family(args.family)
    ordering = Ordering.parse(args.ordering)
    symmetric = args.symmetries == "on"
    nonzero = nonzero_subsectors(family, top_sector(family))
    bits = lambda s: "".join("1" if s >> i & 1 else "0" for i in range(family.n))  # noqa: E731
    with_sym = family_masters(family, ordering, symmetries=True)
    without = family_masters(family, ordering, symmetries=False)
    sym = family_symmetries(family)
    if args.json:
        print(json.dumps({
            "family": family.name, "nonzero_sectors": nonzero,
            "unique_sectors": list(sym.unique_sectors),
            "mappings": {str(m.source): m.target for m in sym.mappings},
            "masters": {"symmetries": [list(m) for m in with_sym],
                        "no_symmetries": [list(m) for m in without]}}))
        return 0
    print(f"family {family.name}: {family.n} indices, {len(nonzero)} non-zero sectors, "
          f"{len(sym.unique_sectors)} unique under sector symmetries")
    for m in sym.mappings:
        pairs = " ".join(f"{a + 1}->{b + 1}" for a, b in m.line_map)
        print(f"  sector {m.source} ({bits(m.source)}) = sector {m.target} "
              f"({bits(m.target)})  lines {pairs}")
    print(f"masters: {len(with_sym)} with symmetries, {len(without)} without "
          f"(ordering {ordering.name})")
    shown = with_sym if symmetric else without
    print(f"masters ({'with' if symmetric else 'without'} symmetries): "
          + " ".join(_name(m) for m in shown))
    return 0


def _families_import_kira(args) -> int:
    from pathlib import Path

    from ibp_evolve.reducer.kira import read_kira
    from ibp_evolve.reducer.templates import atomic_write_text
    text = read_kira(args.directory, args.name)
    if args.output in (None, "-"):
        print(text, end="")
    else:
        atomic_write_text(Path(args.output), text)
        print(f"wrote {args.output}")
    return 0


def _reduce(args, family, targets, point, plan, limits) -> dict:
    from ibp_evolve.reducer.exact import reduce_exact
    from ibp_evolve.reducer.ordering import Ordering
    from ibp_evolve.cli.reduce_output import symmetries_on
    return reduce_exact(family, targets, point, plan, Ordering.parse(args.ordering),
                        rng_seed=args.seed, max_memory=limits["max_memory"],
                        keep_model=bool(args.export_system), symmetries=symmetries_on(args))


def cmd_reduce(args) -> int:
    if (args.dask or args.dask_local) and not (args.analytic or args.replace_by_one):
        from ibp_evolve.cli.dask_options import DaskOptionError
        raise DaskOptionError("--dask and --dask-local need --analytic: a reduction at a point "
                              "is a few samples, an analytic one thousands")
    from ibp_evolve.reducer.family import FamilyError, load_family
    from ibp_evolve.reducer.modular import parse_point
    from ibp_evolve.reducer.plans import LaportaBox
    family = load_family(args.family)
    targets = [family.check_integral(_parse_target(t), "--target") for t in args.target or []]
    if args.targets:
        targets += _read_targets(args.targets, family)
    if not targets:
        raise FamilyError("give the integrals to reduce with --target or --targets FILE")
    # With --analytic, --at holds only the symbols kept numeric (reduce_output.partial_point).
    point = parse_point(args.at, family.parameters) if args.at and not args.analytic else None
    from ibp_evolve.cli.limits import judge_limits
    from ibp_evolve.judge.bounds import default_max_memory
    limits = {"max_memory": default_max_memory()} | judge_limits(args)
    limits.pop("symmetries", None)  # reduce reads --symmetries itself (default on)
    if args.seeds:
        plan = LaportaBox.parse(args.seeds)
        for line in plan.out_of_reach(targets):
            print(f"ibp-evolve reduce: note: {line}", file=sys.stderr)
    else:
        from ibp_evolve.judge.rule_plan import DEFAULT_RULE, rule_plan
        rule, sandbox = _resolve_rule(args.rule or DEFAULT_RULE)
        plan = rule_plan(rule, family, delta_r=args.delta_r, delta_s=args.delta_s,
                         sandbox=sandbox, time_limit=args.time_limit,
                         max_shells=args.max_shells, max_seeds=args.max_seeds,
                         notify=_shell_notice, **({"max_candidates": limits["max_candidates"]}
                                                  if "max_candidates" in limits else {}))
    if args.analytic or args.replace_by_one:
        from ibp_evolve.cli.reduce_output import run_analytic
        return run_analytic(args, family, targets, plan, limits["max_memory"])
    from ibp_evolve.reducer.exact import ReconstructionError
    try:
        result = _reduce(args, family, targets, point, plan, limits)
    except ReconstructionError as exc:  # ran, but the exact values stayed out of reach
        print(f"ibp-evolve reduce: not reconstructed: {exc}", file=sys.stderr)
        return 1
    result.pop("timing")
    from ibp_evolve.cli.reduce_output import emit
    return emit(args, result, _print_point_result)


def _print_point_result(result: dict, seeds_used: str) -> None:
    """A reduction at a rational point as text."""
    from ibp_evolve.cli.reduce_output import print_reductions
    print(f"family {result['family']} at " + ", ".join(f"{k}={v}" for k, v in
                                                      result["point"].items()))
    print_reductions(result)
    s = result["stats"]
    relations = (f", symmetry relations {s['symmetry_equations']} (trimmed "
                 f"{s['trimmed_symmetry_equations']})" if "symmetry_equations" in s else "")
    print(f"seeds {s['seeds']} ({seeds_used}), equations {s['equations']}, trimmed "
          f"{s['trimmed_equations']}{relations}, multiply-adds {s['multiply_adds']}, "
          f"{s['seconds']} s")


def cmd_score(args) -> int:
    from ibp_evolve.cli.limits import judge_limits
    from ibp_evolve.judge.score import Judge
    from ibp_evolve.judge.suites import load_suite
    from ibp_evolve.reducer.ordering import Ordering
    suite = load_suite(args.suite)
    rule, _ = _resolve_rule(args.rule)
    report = Judge(suite, Ordering.parse(args.ordering), **judge_limits(args)).score(
        rule, args.objective, sandbox=True, time_limit=args.time_limit)
    status = 0 if report.complete else 1   # ran, but the rule leaves a target unreduced
    if args.json:
        print(json.dumps(report.to_json()))
        return status
    from ibp_evolve.reports.inspect import rule_label
    print(f"rule {rule_label(rule)} on suite {report.suite} (objective {report.objective}"
          + (", sector symmetries on)" if report.symmetries else ")"))
    # with symmetries "seeds" are those solved (mirror-sector seeds replaced by their images),
    # "selected" the rule's own choice; without them the two are equal and one column says it
    selected = report.symmetries
    header = ("target", "seeds") + (("selected",) if selected else ()) + (
        "equations", "trimmed", "mult-adds", "seconds", "reduced")
    rows = [header] + [(_name(t.target), str(t.seeds))
                       + ((str(t.seeds_selected),) if selected else ())
                       + (str(t.equations), str(t.trimmed_equations), str(t.multiply_adds),
                          f"{t.seconds:.4f}", "yes" if t.reduced else
                          f"NO ({t.reason or f'{t.n_survivors} survivors'})")
                       for t in report.targets]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(c.rjust(w) if k else c.ljust(w)
                        for k, (c, w) in enumerate(zip(row, widths))))
    from ibp_evolve.runs.progress import verdict
    print(verdict(report.fitness, report.complete, report.targets)
          + (f"  fitness ({report.objective}) {report.fitness}" if report.complete else ""))
    if report.joint_seeds is not None:
        t = report.targets[0]
        print(f"joint system (one solve for every target): {report.joint_seeds} seeds, "
              f"{t.equations} equations, {t.trimmed_equations} trimmed, {t.multiply_adds} "
              "mult-adds; a target's seeds are its own choice")
    elif selected:
        print("seeds: solved, with mirror-sector seeds replaced by their images in unique "
              "sectors (each once); selected: the rule's own")
    return status


def cmd_rules(args) -> int:
    from ibp_evolve.language.library import description, library_dirs, library_rules, rule_name
    paths = library_rules()
    if not paths:
        print(f"no rules in {', '.join(map(str, library_dirs())) or 'the rule library'}")
        return 0
    width = max(len(rule_name(p)) for p in paths)
    for p in paths:
        print(f"{rule_name(p).ljust(width)}  {description(p)}")
    return 0


# Kept here (not imported from the judge and the reducer) so that building the parser imports
# nothing heavy; tests/test_cli.py checks they match.
OBJECTIVES = ("seeds", "equations", "trimmed", "multiply_adds", "seconds",
              "relative_trimmed")
DEFAULT_ORDERING = "t,sector,r,s,indices"


OWN_COMMANDS = ("families", "reduce", "score", "rules")

DESCRIPTION = """\
Evolve and judge seeding rules for the IBP reduction of Feynman integrals.

A rule chooses the seed integrals of a Laporta reduction; the judge scores it by solving the
system over a prime field (seeds, trimmed equations, multiply-adds, targets reduced).

  ibp-evolve evolve                     evolve rules on the paper's triangle-box suite
  ibp-evolve report runs/RUN            an HTML report of a run
  ibp-evolve score improved_seeding     a rule's scores (a library rule, a file or a run)
  ibp-evolve reduce triangle_box --target 1,1,1,1,1,1,-3

Exit status: 0 done; 1 ran but incomplete; 2 bad input or a job refused by a cap; 3 a missing
optional dependency or an unreachable service; 130 interrupted."""


class _Parser(argparse.ArgumentParser):
    """argparse with the house's bad-input line: a mistyped option or value ends in one line
    naming it (exit 2), not in argparse's usage block of up to thirty lines above it.  The
    sub-command parsers are of this class too (``add_subparsers`` makes its own type)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (options: {self.prog} --help)\n")


def build_parser(only_own: bool = False) -> argparse.ArgumentParser:
    """The full parser; ``only_own`` skips the other command modules (whose parsers import
    the judge and the engines), which ``reduce`` and friends do not need to start."""
    from ibp_evolve.cli.dask_options import add_dask_options
    from ibp_evolve.cli.limits import add_judge_limits, seconds as limit_seconds
    parser = _Parser(prog="ibp-evolve", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("families", help="list the built-in integral families; show one "
                       "(sectors, symmetries, masters); import a Kira family")
    p.set_defaults(func=cmd_families, families_action=None)
    fam_sub = p.add_subparsers(dest="families_action")
    q = fam_sub.add_parser("show", help="sectors, sector symmetries and masters of a family")
    q.add_argument("family", help="built-in family name or path to a family .toml file")
    q.add_argument("--symmetries", choices=("on", "off"), default="on",
                   help="list the masters with or without sector symmetries (default on)")
    q.add_argument("--ordering", default=DEFAULT_ORDERING, help="integral ordering criteria")
    q.add_argument("--json", action="store_true", help="print JSON")
    q = fam_sub.add_parser("import-kira", help="write our family file for a Kira config "
                           "(config/integralfamilies.yaml and config/kinematics.yaml)")
    q.add_argument("directory", help="Kira project folder (or its config/ folder)")
    q.add_argument("--name", help="which family, when the file defines several")
    q.add_argument("-o", "--output", help="family .toml to write (default: print it)")

    p = sub.add_parser(
        "reduce", help="reduce target integrals exactly at a rational point",
        description="Reduce target integrals exactly at a rational point (learn the trimmed "
                    "system once, then several primes, CRT and rational reconstruction). "
                    "Seeds: the library rule tube_seeding by default (complete on the "
                    "shipped suites' targets), any rule with --rule, or a Laporta box "
                    "with --seeds; a target a rule leaves unreduced gets shells k = 1, 2, ... "
                    "(d <= d_target + k, s <= s_target + k), announced on stderr.  Sector "
                    "symmetries are on by default (--symmetries off: the redundant basis): "
                    "seeds in unique sectors, relation rows in the system, results in terms "
                    "of the masters of unique sectors.")
    p.add_argument("family", help="built-in family name or path to a family .toml file")
    p.add_argument("--target", action="append",
                   help="target indices, e.g. 2,1 (repeatable)")
    p.add_argument("--targets", metavar="FILE",
                   help="file of targets, one integral per line (1,1,2 or I(1,1,2)), or a suite "
                        ".toml; all targets are reduced in one joint system")
    p.add_argument("--at", help="rational point, e.g. d=17/3,s=5/7 (random when absent)")
    seeding = p.add_mutually_exclusive_group()
    seeding.add_argument("--rule", help="seeding rule: library name, rule file or run folder "
                                        "(its best rule) (default: tube_seeding)")
    seeding.add_argument("--seeds", help="a fixed Laporta seed box laporta:r=R,s=S")
    p.add_argument("--delta-r", type=int, default=1,
                   help="a rule chooses from r <= r_target + delta_r (default 1)")
    p.add_argument("--delta-s", type=int, default=1,
                   help="a rule chooses from s <= s_target + delta_s (default 1)")
    p.add_argument("--max-shells", type=int, default=4,
                   help="shells a rule may get per unreduced target (default 4)")
    p.add_argument("--max-seeds", type=int, default=400_000,
                   help="cap on the seeds of the reduction (default 400000)")
    add_judge_limits(p)
    p.add_argument("--time-limit", type=limit_seconds, default=10.0,
                   help="seconds a rule from a file may take per chunk of candidates")
    p.add_argument("--export-system", metavar="FILE",
                   help="write the trimmed IBP system (exact polynomial coefficients)")
    p.add_argument("--export-format", choices=("jsonl", "mathematica"), default="jsonl",
                   help="format of --export-system (default jsonl)")
    p.add_argument("--ordering", default=DEFAULT_ORDERING, help="integral ordering criteria")
    p.add_argument("--seed", type=int, default=0, help="random seed for random points")
    p.add_argument("--analytic", metavar="SYMBOLS",
                   help="coefficients as rational functions of these symbols: d, d,s, ... or "
                        "all (the others stay at their --at values, random when absent)")
    p.add_argument("--replace-by-one", metavar="SYMBOL",
                   help="--analytic: sample with this kinematic symbol set to 1 and restore it "
                        "by mass dimension (one variable fewer; every kinematic symbol analytic)")
    p.add_argument("--workers", type=int, default=1,
                   help="--analytic: processes that trace the sample grid's rays (default 1)")
    add_dask_options(p, "trace --analytic's sample rays")
    p.add_argument("--max-primes", type=int, default=12,
                   help="--analytic: primes allowed for the rational numbers (default 12)")
    p.add_argument("--max-samples", type=int, default=50_000,
                   help="--analytic: samples allowed per prime (default 50000)")
    p.add_argument("--format", choices=("text", "json", "mathematica"), default="text",
                   help="output: text, JSON (values are sympy-readable strings) or a "
                        "Mathematica replacement list (default text)")
    p.add_argument("--json", dest="format", action="store_const", const="json",
                   default=argparse.SUPPRESS, help="print JSON (same as --format json)")
    p.set_defaults(func=cmd_reduce)

    p = sub.add_parser("score", help="score a seeding rule on a suite")
    p.add_argument("rule", help="rule file (.py), the name of a library rule, or a run folder "
                                "(its best rule)")
    from ibp_evolve.cli.limits import add_suite_option
    add_suite_option(p)
    p.add_argument("--objective", default="seeds", choices=OBJECTIVES)
    p.add_argument("--ordering", default=DEFAULT_ORDERING, help="integral ordering criteria")
    p.add_argument("--time-limit", type=limit_seconds, default=10.0,
                   help="seconds allowed to evaluate the rule (default 10)")
    add_judge_limits(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("rules", help="list the rule library")
    p.set_defaults(func=cmd_rules)
    # Each family of commands registers itself; imports stay light until a command runs.
    for module in () if only_own else COMMAND_MODULES:
        importlib.import_module(module).add_parser(sub)
    return parser


def stop_on_sigterm() -> None:
    """Let SIGTERM stop a command as Ctrl-C does (``kill PID``, a batch scheduler's time limit,
    ``timeout``): ``evolve`` then keeps its last complete generation and writes ``best/``
    instead of dying mid-generation.  The handler raises SIGINT in this process, so that a
    block that holds Ctrl-C (a generation's commit) holds this too; a process started with
    SIGINT ignored (``cmd &`` from a script) still stops on SIGTERM.  A forked child (an
    evaluation worker) that inherited the handler dies of SIGTERM as before."""
    import os
    import signal
    owner = os.getpid()

    def terminate(signum, frame):
        if os.getpid() != owner:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL, None):
            raise KeyboardInterrupt
        signal.raise_signal(signal.SIGINT)
    signal.signal(signal.SIGTERM, terminate)


def main(argv: list[str] | None = None) -> int:
    if argv is None:   # the console command, not a call from Python that owns its signals
        stop_on_sigterm()
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(only_own=command in OWN_COMMANDS).parse_args(argv)
    try:
        status = args.func(args)
        sys.stdout.flush()   # a closed pipe shows here, not in the interpreter's last flush
        return status
    except KeyboardInterrupt:
        print(f"\nibp-evolve {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as exc:
        if caused_by_ctrl_c(exc):
            print(f"\nibp-evolve {args.command}: interrupted", file=sys.stderr)
            return 130
        if not isinstance(exc, user_errors()):
            raise
        from ibp_evolve.language.parse import RuleError
        from ibp_evolve.language.sandbox import RuleSandboxError
        what = ("rule rejected" if isinstance(exc, RuleError) else "rule stopped"
                if isinstance(exc, RuleSandboxError) else "error")
        print(f"ibp-evolve {args.command}: {what}: {exc}", file=sys.stderr)
        return 2


def _closed_pipe() -> int:
    """The reader went away (``ibp-evolve score ... --json | head``): that is the reader's
    choice, not an error.  Standard output is pointed at /dev/null so that the interpreter's
    final flush does not raise again; the status is the shell's for SIGPIPE."""
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


if __name__ == "__main__":
    sys.exit(main())
