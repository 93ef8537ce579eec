"""Cross-family (issue 13): the best triangle-box rules applied unchanged to other families.

Rules: ``tube_seeding``, the best evolved rule (the one rank_scan.py picks: the best complete
exported rule of benchmarks/results/generalise.json, else none), ``improved_seeding_dots`` and
``improved_seeding`` (the reference the seed ratios are taken against).  Suites: the built-in
``box_validation`` and ``kite_validation``, and double-box and non-planar double-box suites
drawn here with the generator of ``ibp-evolve suites generate`` (fixed arguments and seeds, so
every run scores the same targets): the ``_cross`` pair, on which the tube's seven-line clauses
were found by hand, and the ``_heldout`` pair, drawn afterwards with other seeds.  For each suite and rule the judge
(fixed point, prime 2^31-1) gives: complete or not, the unreduced targets, seeds and trimmed
equations summed over the suite's targets.  The built-in suites pin ``symmetries = false`` (their
recorded figures); the drawn ones take the default, sector symmetries on.

Run:  python benchmarks/cross_family.py [--planar-only] [--no-heldout] [--rule FILE] [--out FILE]
Writes benchmarks/results/cross_family.json (figures printed as well, with the load average).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ibp_evolve.judge.generate import Range, generate_targets, suite_toml  # noqa: E402
from ibp_evolve.judge.score import Judge  # noqa: E402
from ibp_evolve.judge.suites import load_suite, parse_suite  # noqa: E402
from ibp_evolve.language.library import resolve_rule  # noqa: E402
from ibp_evolve.reducer.family import load_family  # noqa: E402

from bench_io import write_result  # noqa: E402
from generalise import measure  # noqa: E402
from rank_scan import default_rule  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
REFERENCE = "improved_seeding"
LIBRARY = ("tube_seeding", "improved_seeding_dots", REFERENCE)
# (family, count, r, s, d, seed): small enough for a loaded 2-core machine, top sector and the
# sectors one line below it, numerators on the ISPs and a dot
DRAWN = {"double_box": ("double_box", 5, "7..8", "0..2", "0..1", 2),
         "nonplanar_double_box": ("nonplanar_double_box", 3, "7..8", "0..1", "0..1", 1)}
HELD_OUT = {"double_box": ("double_box", 6, "7..8", "0..2", "0..1", 7),
            "nonplanar_double_box": ("nonplanar_double_box", 4, "7..8", "0..1", "0..1", 5)}


def drawn_suite(key: str, held_out: bool = False):
    family, count, r, s, d, seed = (HELD_OUT if held_out else DRAWN)[key]
    targets = generate_targets(load_family(family), count, Range.parse(r, "r"),
                               Range.parse(s, "s"), Range.parse(d, "d"), seed=seed)
    description = (f"{count} targets of {family} drawn with r in {r}, s in {s}, d in {d} "
                   f"(ibp-evolve suites generate, seed {seed})")
    name = f"{family}_{'heldout' if held_out else 'cross'}"
    return parse_suite(suite_toml(name, family, targets, description=description,
                                  max_seeds=50000))


def rules(extra: str | None) -> dict:
    """The library rules and the evolved one (``--rule``, else rank_scan.py's choice)."""
    out = {name: resolve_rule(name) for name in LIBRARY}
    if extra:
        out[f"evolved ({Path(extra).stem})"] = resolve_rule(extra)
    else:
        label, rule = default_rule()
        if label.startswith("evolved"):     # default_rule falls back to a library rule
            out[label] = rule
    return out


def row(name: str, m: dict, reference: dict) -> str:
    state = "complete" if m["complete"] else f"{m['unreduced']} unreduced"
    ratio = m["seeds"] / reference["seeds"] if reference["seeds"] else float("nan")
    return (f"  {name:<34} {state:>13} {m['seeds']:>8,} {ratio:>7.2f} "
            f"{m['trimmed_equations']:>9,}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planar-only", action="store_true",
                        help="skip the drawn non-planar double-box suite (the slowest: about "
                             "3 minutes on 2 loaded cores)")
    parser.add_argument("--no-heldout", action="store_true",
                        help="skip the held-out double-box suites")
    parser.add_argument("--rule", help="the evolved rule: a rule file (default: the best "
                                        "complete run of results/generalise.json)")
    parser.add_argument("--out", default=str(RESULTS / "cross_family.json"))
    args = parser.parse_args()

    suites = [load_suite("box_validation"), load_suite("kite_validation"),
              drawn_suite("double_box")]
    if not args.planar_only:
        suites.append(drawn_suite("nonplanar_double_box"))
    if not args.no_heldout:
        suites.append(drawn_suite("double_box", held_out=True))
        if not args.planar_only:
            suites.append(drawn_suite("nonplanar_double_box", held_out=True))
    chosen = rules(args.rule)
    print(f"rules evolved or written for the triangle box, unchanged; seed ratio against "
          f"{REFERENCE}")
    results = []
    for suite in suites:
        start, load = time.perf_counter(), os.getloadavg()[0]
        judge = Judge(suite)
        measured = {name: measure(judge, rule) for name, rule in chosen.items()}
        for m in measured.values():       # the unreduced targets by name, not the per-target list
            m["unreduced_targets"] = [t["target"] for t in m.pop("per_target")
                                      if not t["reduced"]]
        results.append({"suite": suite.name, "family": suite.family.name,
                        "description": suite.description, "symmetries": suite.symmetries,
                        "targets": [list(t) for t in suite.targets], "rules": measured,
                        "load_avg_1min": round(load, 2),
                        "seconds": round(time.perf_counter() - start, 1)})
        print(f"{suite.name} ({suite.family.name}, {len(suite.targets)} targets, sector "
              f"symmetries {'on' if suite.symmetries else 'off'}, load {load:.1f}):")
        print(f"  {'rule':<34} {'state':>13} {'seeds':>8} {'ratio':>7} {'trimmed':>9}")
        for name, m in measured.items():
            print(row(name, m, measured[REFERENCE]))
    document = {"benchmark": "cross_family", "reference": REFERENCE,
                "rules": {name: rule.source for name, rule in chosen.items()},
                "suites": results}
    write_result(Path(args.out), document, stamp=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
