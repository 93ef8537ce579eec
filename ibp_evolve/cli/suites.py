"""``ibp-evolve suites``: list the built-in suites, or draw a new one.

    ibp-evolve suites
    ibp-evolve suites show SUITE
    ibp-evolve suites generate FAMILY --count N [--r LO..HI] [--s LO..HI] [--d LO..HI]
                      [--min-lines T] [--exclude SUITE ...] [--seed S] [--delta-r 1]
                      [--delta-s 1] [--max-seeds 5000] [--name NAME] --out FILE

A training/validation split is two files: generate the training suite, then the validation
suite with harder ranges and ``--exclude TRAIN.toml`` (never the same target twice).
Exit status: 0 done, 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "suites", help="list the built-in suites, or generate one (suites generate ...)",
        description="Without arguments: list the built-in suites (name, family, targets, "
                    "description). `suites show SUITE` lists one suite's targets and "
                    "settings; `suites generate FAMILY ...` draws a suite of targets.")
    p.set_defaults(func=cmd_list)
    sub = p.add_subparsers(dest="suites_command", metavar="{show,generate}")
    show = sub.add_parser("show", help="one suite's targets and settings",
                          description="The family, settings and targets (with their lines t, "
                                      "r, s and d) of a built-in suite or a suite file.")
    show.add_argument("suite", help="built-in suite name or .toml path")
    show.set_defaults(func=cmd_show)
    g = sub.add_parser(
        "generate", help="draw a reproducible suite of targets of a family",
        description="Draw COUNT distinct targets from the non-zero sectors of FAMILY with at "
                    "least MIN_LINES lines, stratified over (lines, r, s) so the suite spreads "
                    "over dots and numerator powers. The same arguments and --seed give the "
                    "same suite.")
    g.add_argument("family", help="built-in family name or family file")
    g.add_argument("--count", type=int, required=True, help="number of targets")
    g.add_argument("--r", default="0..8", help="range of r, the sum of positive indices "
                                               "(N or LO..HI; default 0..8)")
    g.add_argument("--s", default="0..4", help="range of s, the numerator power (default 0..4)")
    g.add_argument("--d", default="0..1", help="range of d, the dots (default 0..1)")
    g.add_argument("--min-lines", type=int,
                   help="fewest lines of a target's sector (default: the top sector's - 1)")
    g.add_argument("--exclude", action="append", default=[],
                   help="a suite (name or file) whose targets are never drawn; repeatable")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--delta-r", type=int, default=1, help="the suite's delta_r (default 1)")
    g.add_argument("--delta-s", type=int, default=1, help="the suite's delta_s (default 1)")
    g.add_argument("--max-seeds", type=int, default=5000, help="the suite's max_seeds")
    g.add_argument("--name", help="suite name (default: the output file's stem)")
    g.add_argument("--out", required=True, help="suite file to write (.toml)")
    g.set_defaults(func=cmd_generate)


def cmd_list(args) -> int:
    from ibp_evolve.judge.suites import builtin_suites, load_suite
    rows = []
    for name in builtin_suites():
        suite = load_suite(name)
        rows.append((name, suite.family.name, str(len(suite.targets)), suite.description))
    width = [max(len(r[i]) for r in rows + [("suite", "family", "targets", "")])
             for i in range(3)]
    print(f"{'suite':<{width[0]}}  {'family':<{width[1]}}  {'targets':>{width[2]}}  description")
    for name, family, n, text in rows:
        print(f"{name:<{width[0]}}  {family:<{width[1]}}  {n:>{width[2]}}  {text}")
    return 0


def cmd_show(args) -> int:
    from ibp_evolve.judge.suites import load_suite
    from ibp_evolve.reducer.sectors import measures
    import numpy as np
    suite = load_suite(args.suite)
    n = len(suite.targets)
    print(f"suite {suite.name}: family {suite.family.name}, {n} target{'s' * (n != 1)}"
          + (" (reduced jointly)" if suite.joint else "")
          + f"; universe r <= r_target + {suite.delta_r}, s <= s_target + {suite.delta_s}; "
          f"max_seeds {suite.max_seeds}; sector symmetries "
          f"{'on' if suite.symmetries else 'off'}")
    if suite.description:
        print(suite.description)
    m = measures(np.array(suite.targets, dtype=np.int64))
    rows = [("target", "t", "r", "s", "d")] + [
        ("I(" + ",".join(map(str, t)) + ")", *(str(int(m[k][i])) for k in "trsd"))
        for i, t in enumerate(suite.targets)]
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    for row in rows:
        print("  ".join(c.ljust(w) if k == 0 else c.rjust(w)
                        for k, (c, w) in enumerate(zip(row, widths))))
    return 0


def cmd_generate(args) -> int:
    from ibp_evolve.judge.generate import Range, generate_targets, suite_toml, write_suite
    from ibp_evolve.judge.suites import SuiteError, load_suite, parse_suite
    from ibp_evolve.reducer.family import load_family

    out = Path(args.out)
    if out.suffix != ".toml":
        raise SuiteError(f"--out {args.out}: a suite file must end in .toml")
    family = load_family(args.family)
    exclude = []
    for ref in args.exclude:
        suite = load_suite(ref)
        if suite.family.digest != family.digest:
            print(f"ibp-evolve suites generate: note: --exclude {ref} is a suite of family "
                  f"'{suite.family.name}', not '{family.name}': it excludes nothing",
                  file=sys.stderr)
        exclude.extend(suite.targets)
    for key, value, low in (("delta-r", args.delta_r, 0), ("delta-s", args.delta_s, 0),
                            ("max-seeds", args.max_seeds, 1)):
        if value < low:
            raise SuiteError(f"--{key} {value}: must be at least {low}")
    r, s, d = (Range.parse(getattr(args, k), k) for k in ("r", "s", "d"))
    targets = generate_targets(family, args.count, r, s, d, seed=args.seed,
                               min_lines=args.min_lines, exclude=exclude)
    # A user's family file is referenced by its absolute path: the suite may live elsewhere.
    family_ref = family.name if Path(args.family).suffix != ".toml" else \
        str(Path(args.family).resolve())
    text = suite_toml(args.name or out.stem, family_ref, targets, delta_r=args.delta_r,
                      delta_s=args.delta_s, max_seeds=args.max_seeds,
                      description=f"{args.count} targets of {family.name} drawn with r in {r}, "
                                  f"s in {s}, d in {d} (ibp-evolve suites generate, seed "
                                  f"{args.seed})")
    parse_suite(text, origin=str(out), base=out.parent)   # what we write must load
    write_suite(out, text)
    print(out)
    return 0
