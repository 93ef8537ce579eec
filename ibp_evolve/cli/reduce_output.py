"""``reduce --analytic`` and ``reduce --format``: running an analytic reduction from the command
line and printing a result as text, JSON or a Mathematica replacement list."""

from __future__ import annotations

import json
import re
import sys
import time


def _name(integral) -> str:
    return "I(" + ",".join(map(str, integral)) + ")"


def partial_point(text: str | None, family, analytic: list[str]) -> dict | None:
    """--at values of the symbols that are not analytic (entries for analytic ones dropped)."""
    from ibp_evolve.reducer.modular import parse_point
    if not text:
        return None
    kept = [e for e in text.split(",") if e.partition("=")[0].strip() not in analytic]
    dropped = [e.strip() for e in text.split(",") if e not in kept]
    if dropped:
        print(f"ibp-evolve reduce: --at {', '.join(dropped)} ignored: analytic in "
              f"{', '.join(analytic)}", file=sys.stderr)
    if not kept:
        return None   # only analytic symbols were given: the others are random, as without --at
    others = [s for s in family.parameters if s not in analytic]
    return parse_point(",".join(kept), others)


class Progress:
    """Progress lines on stderr, only once a reconstruction has run a while (at most two a
    second), so that quick reductions stay quiet."""

    def __init__(self, quiet_for: float = 1.0, every: float = 0.5):
        self.start = time.monotonic()
        self.quiet_for, self.every, self.last = quiet_for, every, 0.0

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if now - self.start >= self.quiet_for and now - self.last >= self.every:
            self.last = now
            print(f"ibp-evolve reduce: {message}", file=sys.stderr)


def mathematica_name(family: str) -> str:
    """A Mathematica symbol for the family: letters and digits only, triangle_box ->
    triangleBox (an underscore would make a pattern)."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", family) if p]
    name = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    return name if name[:1].isalpha() else "j" + name


def mathematica(result: dict) -> str:
    """A replacement list ``{j[bubble,2,1] -> ((3 - d)/s)*j[bubble,1,1], ...}`` (integrals as
    ``j[family, a1, ..., aN]``, like ``--export-system``); unreduced targets are left out with a
    comment."""
    fam = mathematica_name(result["family"])

    def j(indices) -> str:
        return f"j[{fam},{','.join(map(str, indices))}]"
    head = f"(* family {result['family']}"
    if result.get("analytic_in"):
        head += ", analytic in " + ", ".join(result["analytic_in"])
    if result["point"]:
        head += ", at " + ", ".join(f"{k} = {v}" for k, v in result["point"].items())
    lines = [head + " *)"]
    rules = []
    for t in result["targets"]:
        integral = j(t["target"])
        if not t["reduced"]:
            lines.append(f"(* {integral} is not reduced *)")
            continue
        terms = [f"({c['value'].replace('**', '^')})*{j(c['master'])}" for c in t["coefficients"]]
        rules.append(f"{integral} -> " + (" + ".join(terms) if terms else "0"))
    lines.append("{" + ",\n ".join(rules) + "}")
    return "\n".join(lines)


def print_reductions(result: dict, joiner: str = " + ") -> None:
    """The masters, then each target as a sum over masters (no value for an unreduced target:
    a row with survivors is not a result)."""
    basis = " (with sector symmetries)" if result.get("symmetries") else ""
    print(f"masters{basis} ({len(result['masters'])}): "
          + (" ".join(_name(m) for m in result["masters"]) if result["masters"] else
             "none: every target lies in a zero (scaleless) sector"))
    for t in result["targets"]:
        if not t["reduced"]:
            print(f"{_name(t['target'])}  NOT REDUCED (survivors: "
                  + " ".join(_name(s) for s in t["survivors"]) + ")")
            continue
        terms = [f"({c['value']}) {_name(c['master'])}" for c in t["coefficients"]]
        print(f"{_name(t['target'])} = " + (joiner.join(terms) if terms else "0"))


def emit(args, result: dict, print_text) -> int:
    """Write the exported system, print ``result`` in ``--format`` (text via ``print_text(result,
    seeds_used)``) and return the exit status: 0 when every target is reduced, else 1."""
    seeds_used = result.pop("seeds_used")
    model = result.pop("model", None)
    if args.export_system:
        from pathlib import Path
        from ibp_evolve.reducer.export import write_system
        # a new folder is made, as report, minimize and compare --out do
        Path(args.export_system).parent.mkdir(parents=True, exist_ok=True)
        write_system(model, args.export_system, args.export_format, result["point"])
    if args.format == "json":
        print(json.dumps(result))
    elif args.format == "mathematica":
        print(mathematica(result))
    else:
        print_text(result, seeds_used)
        if args.export_system:
            print(f"trimmed system written to {args.export_system} ({args.export_format})")
    return 0 if all(t["reduced"] for t in result["targets"]) else 1


def print_text(result: dict, seeds_used: str) -> None:
    """An analytic reduction as text."""
    where = ", ".join(f"{k}={v}" for k, v in result["point"].items())
    print(f"family {result['family']}, analytic in {', '.join(result['analytic_in'])}"
          + (f", at {where}" if where else ""))
    print_reductions(result, joiner="\n    + ")
    s = result["stats"]
    print(f"seeds {s['seeds']} ({seeds_used}), trimmed {s['trimmed_equations']} equations, "
          f"{s['samples']} samples, {s['primes']} primes, checked at {s['checked_points']} "
          f"fresh points, {s['seconds']} s")


def symmetries_on(args) -> bool:
    """``reduce --symmetries on|off``: on unless switched off."""
    return getattr(args, "symmetries", None) != "off"


def run_analytic(args, family, targets, plan, max_memory: int | None = None) -> int:
    """``reduce --analytic``: exit 0 when every target is reduced, 1 when one is not or the
    reconstruction did not stabilise within its budget."""
    from ibp_evolve.cli.dask_options import DaskOptionError, check_dask_options, dask_cluster
    from ibp_evolve.reducer.analytic import NotStableError, parse_analytic, reduce_analytic
    from ibp_evolve.runs.dask_cluster import DaskUnavailable
    from ibp_evolve.reducer.family import FamilyError
    from ibp_evolve.reducer.ordering import Ordering
    if args.replace_by_one and not args.analytic:
        raise FamilyError("--replace-by-one needs --analytic (it rescales rational functions)")
    symbols = parse_analytic(args.analytic, family)
    for option, value in (("--workers", args.workers), ("--max-primes", args.max_primes),
                          ("--max-samples", args.max_samples)):
        if value < 1:
            raise FamilyError(f"{option} {value}: expected a positive integer")
    check_dask_options(args)
    if args.workers > 1 and (args.dask or args.dask_local):
        raise DaskOptionError("--workers and --dask/--dask-local exclude each other (the rays "
                              "go to one pool)")
    point = partial_point(args.at, family, symbols)
    try:
        cluster = dask_cluster(args)
    except DaskUnavailable as exc:
        print(f"ibp-evolve reduce: error: {exc}", file=sys.stderr)
        return 3
    try:
        result = reduce_analytic(family, targets, symbols, point, plan,
                                 Ordering.parse(args.ordering), rng_seed=args.seed,
                                 max_primes=args.max_primes, max_samples=args.max_samples,
                                 max_memory=max_memory, progress=Progress(),
                                 keep_model=bool(args.export_system),
                                 replace_by_one=args.replace_by_one,
                                 workers=args.workers, symmetries=symmetries_on(args),
                                 dask=cluster.client if cluster is not None else None)
    except NotStableError as exc:
        print(f"ibp-evolve reduce: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if cluster is not None:
            cluster.close()
    result.pop("functions")
    return emit(args, result, print_text)
