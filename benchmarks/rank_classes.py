"""Rank classes (issue 13): which kinds of seed does a complete set for I(1,1,1,1,1,1,-s) of the
triangle-box need at every s, and how do their counts grow?  The derivation of
rules/rank_path.py and rules/rank_path_symmetric.py.

A seed-by-seed floor (benchmarks/rank_floor.py) differs from one s to the next; a rule needs a
pattern that holds for every s.  So this script minimises over *classes* instead of seeds: a
class is a sector together with the removed lines that carry a numerator (none: the straight
path, numerators on the ISP alone; one: a step off the path), and holds every seed of the
tube (``tube_seeding``) with that sector and pattern, whatever its numerator power.  Starting
from the whole tube it removes classes one at a time (off-path classes first, in a random order
per ``--orders`` seed; ``--mirror-first``: the mirror sectors' classes before all others),
keeping a removal when every target of ``--s`` stays complete in every ``--modes`` (the judge's
completeness, with or without sector symmetries).  The smallest result over the orders is
checked on ``--check``, and its seeds counted per class kind and per unit of s.

Also tabulated, from the stored floors (rank_floor.json and rank_floor_nosym.json): the floor's
seeds on the path and off it, per number of removed lines, per unit of s.

``--dots K`` does the same for I(1+K,1,1,1,1,1,-s): a class then also names its dots and its
numerator powers on removed lines (the dotted target's tube is wider).

Run:  python benchmarks/rank_classes.py [--s 4 6 8] [--modes nosym sym] [--orders 10]
          [--mirror-first] [--dots 0] [--no-swaps] [--check 3 4 5 6 7 8 9 10 11 12]
          [--out FILE]
Writes benchmarks/results/rank_classes.json (``_dots1`` with --dots 1, ``_mirror_first`` with
--mirror-first); prints the kept classes and the counts, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ibp_evolve.language.library import resolve_rule  # noqa: E402
from bench_io import write_result  # noqa: E402  (a script beside this one)
from rank_floor import from_text  # noqa: E402
from rank_scan import judge_for  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
N_LINES = 6                     # the target's lines; position 7 is the ISP


def class_of(seed) -> tuple:
    """(sector as 1/0 per line, (1-based removed line, numerator power) pairs, (line, dots)
    pairs): every numerator power on the ISP falls in one class."""
    sector = "".join("1" if x > 0 else "0" for x in seed[:N_LINES])
    return (sector, tuple((i + 1, int(-seed[i])) for i in range(N_LINES) if seed[i] < 0),
            tuple((i + 1, int(seed[i] - 1)) for i in range(N_LINES) if seed[i] > 1))


def describe(c) -> str:
    """``011111 path``, ``011111 n1`` (a numerator on line 1), ``001111 n2^2 d4`` (power 2 on
    line 2, a dot on line 4)."""
    parts = [f"n{line}" + (f"^{p}" if p > 1 else "") for line, p in c[1]]
    parts += [f"d{line}" + (f"^{k}" if k > 1 else "") for line, k in c[2]]
    return f"{c[0]} " + (" ".join(parts) if c[1] else "path" + "".join(" " + x for x in parts))


def tube_classes(judge) -> dict:
    """The tube's seed ids grouped by class."""
    universe = judge.universe(0)
    groups = {}
    for idx in np.flatnonzero(judge.masks(resolve_rule("tube_seeding"))[0]):
        groups.setdefault(class_of(universe[idx]), []).append(idx)
    return groups


class Targets:
    """The judges of the targets a class set must reduce: one per s and mode."""

    def __init__(self, s_values, modes, dots: int = 0):
        self.cases = []
        for s in s_values:
            for mode in modes:
                judge = judge_for(s, dots, mode == "sym")
                self.cases.append((s, mode, judge, tube_classes(judge)))

    @property
    def classes(self) -> set:
        return set().union(*(set(groups) for *_, groups in self.cases))

    def scores(self, kept, stop_early: bool = False) -> list[dict]:
        out = []
        for s, mode, judge, groups in self.cases:
            mask = np.zeros(len(judge.universe(0)), dtype=bool)
            for c in kept:
                mask[groups.get(c, [])] = True
            t = judge.score_masks([mask], "trimmed").targets[0]
            out.append({"s": s, "mode": mode, "reduced": bool(t.reduced),
                        "seeds_selected": int(t.seeds_selected), "seeds": int(t.seeds),
                        "trimmed_equations": int(t.trimmed_equations)})
            if stop_early and not t.reduced:
                break
        return out

    def complete(self, kept) -> bool:
        return all(r["reduced"] for r in self.scores(kept, stop_early=True))


def mirror_sectors() -> set[str]:
    """Sectors (as class_of spells them) that the sector symmetries map onto another."""
    sym = judge_for(4, 0, True).sector_symmetries
    return {"".join("1" if sec >> i & 1 else "0" for i in range(N_LINES))
            for sec, rep in sym.representative.items() if sec != rep}


def minimise(targets: Targets, order_seed: int, first: set[str]) -> set:
    kept = set(targets.classes)
    order = sorted(kept)
    random.Random(order_seed).shuffle(order)
    order.sort(key=lambda c: (c[0] not in first, not c[1]))   # stable: random within groups
    for c in order:
        if targets.complete(kept - {c}):
            kept.discard(c)
    return kept


def total(scores: list[dict]) -> tuple[int, int]:
    """What a class set costs over the targets: selected seeds, then trimmed equations."""
    return (sum(r["seeds_selected"] for r in scores),
            sum(r["trimmed_equations"] for r in scores))


def swap_off_path(targets: Targets, kept: set) -> set:
    """Replace one kept off-path class by one removed class while that lowers the cost (equal
    minima of the greedy pass differ in which removed line of a sector carries the
    numerator, and in their trimmed equations; a removed sector's path may also take an
    off-path class's place)."""
    cost = total(targets.scores(kept))
    improved = True
    while improved:
        improved = False
        outside = sorted(targets.classes - kept)
        for old in sorted(c for c in kept if c[1]):
            for new in outside:
                trial = (kept - {old}) | {new}
                if not targets.complete(trial):
                    continue
                trial_cost = total(targets.scores(trial))
                if trial_cost < cost:
                    kept, cost, improved = trial, trial_cost, True
                    print(f"  swap {old} -> {new}: {cost[0]} selected, {cost[1]} trimmed",
                          flush=True)
                    break
            if improved:
                break
    return kept


def floor_table(name: str) -> list[dict]:
    """Seeds of the stored floors on the path (numerators on the ISP alone) and off it."""
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        return []
    rows = []
    for row in json.loads(path.read_text())["rows"]:
        if "floor" not in row:
            continue
        counts = Counter()
        for seed in from_text(row["floor"]["seed_integrals"]):
            sector, off, _ = class_of(seed)
            counts[(N_LINES - sector.count("1"), "off" if off else "on")] += 1
        rows.append({"s": row["s"], "seeds": row["floor"]["seeds"],
                     "by_missing": {f"{m} {kind}": n for (m, kind), n in sorted(counts.items())}})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--s", type=int, nargs="+", default=[4, 6, 8])
    parser.add_argument("--modes", nargs="+", choices=("nosym", "sym"),
                        default=["nosym", "sym"])
    parser.add_argument("--orders", type=int, default=10)
    parser.add_argument("--mirror-first", action="store_true")
    parser.add_argument("--check", type=int, nargs="+", default=list(range(3, 13)))
    parser.add_argument("--dots", type=int, default=0,
                        help="dots on the first line of the target: I(1+K,1,1,1,1,1,-s)")
    parser.add_argument("--no-swaps", action="store_true",
                        help="skip the swap phase (it tries every kept off-path class against "
                             "every removed one: long for the dotted target's many classes)")
    parser.add_argument("--out")
    args = parser.parse_args()
    out = Path(args.out) if args.out else RESULTS / (
        "rank_classes" + (f"_dots{args.dots}" if args.dots else "")
        + ("_mirror_first" if args.mirror_first else "") + ".json")
    load, clock = os.getloadavg()[0], time.perf_counter()
    targets = Targets(args.s, args.modes, args.dots)
    first = mirror_sectors() if args.mirror_first else set()
    runs, best = [], None
    for seed in range(args.orders):
        kept = minimise(targets, seed, first)
        # fewest selected seeds, then fewest trimmed equations (equal minima are common)
        cost = total(targets.scores(kept))
        runs.append({"order": seed, "classes": len(kept), "selected_total": cost[0],
                     "trimmed_total": cost[1]})
        print(f"order {seed}: {len(kept)} classes, {cost[0]} selected seeds and {cost[1]} "
              f"trimmed equations over the targets", flush=True)
        if best is None or cost < best[0]:
            best = (cost, kept)
    if not args.no_swaps:
        best = (None, swap_off_path(targets, best[1]))
    kept = sorted(best[1], key=lambda c: (-c[0].count("1"), c))
    print("kept classes (sector lines 1..6; nL: a numerator on removed line L, dL: a dot):")
    for c in kept:
        print(f"  {describe(c)}")
    check = Targets(args.check, args.modes, args.dots).scores(best[1])
    for r in check:
        print(f"  s={r['s']:>2} {r['mode']:>5}: {'complete' if r['reduced'] else 'INCOMPLETE'},"
              f" {r['seeds_selected']} selected, {r['seeds']} solved, "
              f"{r['trimmed_equations']} trimmed; 30*s = {30 * r['s']}", flush=True)
    floors = ({} if args.dots else
              {name: floor_table(name) for name in ("rank_floor_nosym", "rank_floor")})
    document = {"benchmark": "rank_classes", "family": "triangle_box",
                "target": f"I({1 + args.dots},1,1,1,1,1,-s)", "minimised_on": args.s,
                "modes": args.modes, "no_swaps": args.no_swaps,
                "mirror_first": args.mirror_first, "mirror_sectors": sorted(first),
                "runs": runs,
                "kept": [{"sector": c[0], "numerators": {str(k): v for k, v in c[1]},
                          "dots": {str(k): v for k, v in c[2]}, "class": describe(c)}
                         for c in kept],
                "check": check, "floors": floors, "load_avg_1min": round(load, 2),
                "seconds": round(time.perf_counter() - clock, 1)}
    write_result(out, document, stamp=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
