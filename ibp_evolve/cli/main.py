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

from ibp_evolve.reducer.exact import DegeneratePointError, LaportaBox, SeedSpecError, reduce_exact
from ibp_evolve.reducer.family import FamilyError, builtin_names, load_family
from ibp_evolve.reducer.modular import PointParseError, PoleError, parse_point
from ibp_evolve.reducer.ordering import DEFAULT_ORDERING, Ordering, OrderingError
from ibp_evolve.reducer.system import PointError
from ibp_evolve.judge.suites import SuiteError

USER_ERRORS = (FamilyError, PointParseError, PoleError, PointError, SeedSpecError,
               DegeneratePointError, OrderingError, SuiteError, FileNotFoundError)


COMMAND_MODULES = ("ibp_evolve.cli.evolve", "ibp_evolve.cli.symbolic", "ibp_evolve.cli.reports",
                   "ibp_evolve.cli.llm")


def _parse_target(text: str) -> list[int]:
    parts = [p.strip() for p in text.strip().strip("()[]").split(",")]
    if not all(re.fullmatch(r"[+-]?\d+", p) for p in parts):
        raise FamilyError(f"--target '{text}': expected comma-separated integers such as 1,1,0")
    return [int(p) for p in parts]


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
    action = getattr(args, "families_action", None)
    if action == "show":
        return _families_show(args)
    if action == "import-kira":
        return _families_import_kira(args)
    rows = [("name", "loops", "indices", "ISPs", "kinematic symbols", "description")]
    for name in builtin_names():
        fam = load_family(name)
        rows.append((name, str(fam.n_loops), str(fam.n), ",".join(str(i + 1) for i in fam.isps)
                     or "-", ", ".join(fam.parameters), fam.description))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    return 0


def _integral_text(indices) -> str:
    return "I(" + ",".join(map(str, indices)) + ")"


def _families_show(args) -> int:
    """Sectors, sector symmetries and masters of one family, with and without symmetries."""
    from ibp_evolve.reducer.masters import family_masters
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
          + " ".join(_integral_text(m) for m in shown))
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


def cmd_reduce(args) -> int:
    family = load_family(args.family)
    targets = [family.check_integral(_parse_target(t), "--target") for t in args.target]
    point = parse_point(args.at, family.parameters) if args.at else None
    box = LaportaBox.parse(args.seeds) if args.seeds else None
    result = reduce_exact(family, targets, point, box, Ordering.parse(args.ordering),
                          rng_seed=args.seed)
    seeds_used = result.pop("seeds_used")
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"family {result['family']} at " + ", ".join(f"{k}={v}" for k, v in
                                                      result["point"].items()))
    print(f"masters ({len(result['masters'])}): "
          + " ".join("I(" + ",".join(map(str, m)) + ")" for m in result["masters"]))
    for t in result["targets"]:
        name = "I(" + ",".join(map(str, t["target"])) + ")"
        terms = [f"({c['value']}) I(" + ",".join(map(str, c["master"])) + ")"
                 for c in t["coefficients"]]
        status = "" if t["reduced"] else "   [NOT REDUCED, survivors: " + " ".join(
            "I(" + ",".join(map(str, s)) + ")" for s in t["survivors"]) + "]"
        print(f"{name} = " + (" + ".join(terms) if terms else "0") + status)
    s = result["stats"]
    print(f"seeds {s['seeds']} ({seeds_used}), equations {s['equations']}, trimmed "
          f"{s['trimmed_equations']}, multiply-adds {s['multiply_adds']}, {s['seconds']} s")
    return 0 if all(t["reduced"] for t in result["targets"]) else 1


def cmd_score(args) -> int:
    from ibp_evolve.language.library import resolve_rule
    from ibp_evolve.language.parse import RuleError
    from ibp_evolve.language.sandbox import RuleSandboxError
    from ibp_evolve.judge.score import Judge
    from ibp_evolve.judge.suites import load_suite
    suite = load_suite(args.suite)
    try:
        rule = resolve_rule(args.rule)
        report = Judge(suite, Ordering.parse(args.ordering)).score(
            rule, args.objective, sandbox=True, time_limit=args.time_limit)
    except RuleError as exc:
        print(f"ibp-evolve score: rule rejected: {exc}", file=sys.stderr)
        return 3
    except RuleSandboxError as exc:
        print(f"ibp-evolve score: rule stopped: {exc}", file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    print(f"rule {report.rule} on suite {report.suite} (objective {report.objective})")
    header = ("target", "seeds", "equations", "trimmed", "mult-adds", "seconds", "reduced")
    rows = [header] + [("I(" + ",".join(map(str, t.target)) + ")", str(t.seeds),
                        str(t.equations), str(t.trimmed_equations), str(t.multiply_adds),
                        f"{t.seconds:.4f}", "yes" if t.reduced else
                        f"NO ({t.reason or f'{t.n_survivors} survivors'})")
                       for t in report.targets]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(c.rjust(w) if k else c.ljust(w)
                        for k, (c, w) in enumerate(zip(row, widths))))
    print(f"fitness {report.fitness}  complete {'yes' if report.complete else 'no'}")
    return 0


def cmd_rules(args) -> int:
    from ibp_evolve.language.library import description, library_dir, library_rules
    paths = library_rules()
    if not paths:
        print(f"no rules in {library_dir()}")
        return 0
    width = max(len(str(p.relative_to(library_dir()))[:-3]) for p in paths)
    for p in paths:
        print(f"{str(p.relative_to(library_dir()))[:-3].ljust(width)}  {description(p)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ibp-evolve", description=__doc__.splitlines()[0])
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

    p = sub.add_parser("reduce", help="reduce target integrals exactly at a rational point")
    p.add_argument("family", help="built-in family name or path to a family .toml file")
    p.add_argument("--target", action="append", required=True,
                   help="target indices, e.g. 2,1 (repeatable)")
    p.add_argument("--at", help="rational point, e.g. d=17/3,s=5/7 (random when absent)")
    p.add_argument("--seeds", help="seed box laporta:r=R,s=S (default: widened until reduced)")
    p.add_argument("--ordering", default=DEFAULT_ORDERING, help="integral ordering criteria")
    p.add_argument("--seed", type=int, default=0, help="random seed for random points")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_reduce)

    from ibp_evolve.judge.score import OBJECTIVES
    p = sub.add_parser("score", help="score a seeding rule on a suite")
    p.add_argument("rule", help="rule file (.py) or the name of a library rule")
    p.add_argument("--suite", default="triangle_box_paper", help="built-in suite or .toml path")
    p.add_argument("--objective", default="seeds", choices=OBJECTIVES)
    p.add_argument("--ordering", default=DEFAULT_ORDERING, help="integral ordering criteria")
    p.add_argument("--time-limit", type=float, default=10.0,
                   help="seconds allowed to evaluate the rule (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("rules", help="list the rule library")
    p.set_defaults(func=cmd_rules)
    # Each family of commands registers itself; imports stay light until a command runs.
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        print(f"ibp-evolve {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
