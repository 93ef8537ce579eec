"""Rank floor (issue 13): how small can a complete seed set for I(1,1,1,1,1,1,-s) of the
triangle-box be, and what does it look like?

``minimize`` (mark and sweep, greedy removal, random swaps) shrinks a complete seed set to a
minimal one; it is greedy, so its result depends on the start and on the removal order.  For
each s this script starts it from several complete sets, larger than the tube where asked, with
several removal orders (``--orders``: the random seeds 0..K-1), and records

* the floor: the smallest minimal set over all starts and orders that the judge's own scoring
  confirms, with its trimmed equations;
  (minimize solves a set as the judge does: with sector symmetries, the seeds of non-unique
  sectors moved onto their images in unique sectors first);
* the shape of the floor: seeds per number of removed lines, per numerator power, per dots, per
  sector; the numerator power carried by removed lines; the distance from the tube's path;
* counting figures: equations of the set, independent ones, trimmed ones (each trimmed equation
  pivots one integral that the target's row needs), how many of each seed's equations are
  trimmed, the integrals the equations touch, and the growth of each per unit of s.

Starting sets (``--starts``, rule names of the library or of START_RULES below):
``tube_seeding``, ``improved_seeding_dots``, ``laporta`` (r <= r_T, s <= s_T), ``universe``
(the whole candidate box r <= r_T + 1, s <= s_T + 1: Laporta one above the target),
``tube_dots`` (the tube plus the target's sector with one extra dot), ``tube_wide`` (a tube two
units wider, one dot anywhere, the numerator budget of the target itself on removed lines).

Run:  python benchmarks/rank_floor.py [--s 3 4 5 6] [--starts ...] [--orders 3]
          [--minimize-seconds 10] [--swaps 1000] [--no-symmetries] [--merge]
          [--dots 0] [--out FILE]
      python benchmarks/rank_floor.py --recount [--no-symmetries]   (counting figures only)
Writes benchmarks/results/rank_floor.json (``_nosym`` for IBP + LI alone, ``_dots1`` for
--dots 1); ``--merge`` adds the runs to those already in the file (the smaller floor is kept).
The machine's load average is recorded beside each s (the swap phase runs under a time budget).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ibp_evolve.judge.minimize import minimize_suite  # noqa: E402
from ibp_evolve.language.features import features_from_indices  # noqa: E402
from ibp_evolve.language.library import resolve_rule  # noqa: E402
from ibp_evolve.language.parse import load_rule  # noqa: E402
from bench_io import write_result  # noqa: E402  (a script beside this one)
from rank_scan import judge_for, target_for  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"

# Starting sets that are not library rules: each is complete wherever the tube is (a superset)
START_RULES = {
    "universe": "def keep(seed, target):\n    return True\n",
    "tube_dots": (
        "def keep(seed, target):\n"
        "    tube = (all(seed.dots(i) <= target.dots(i) for i in range(family.n))\n"
        "            and seed.tube <= 1 + min(seed.missing, 2) + min(target.d, 2)\n"
        "            and seed.s <= max(target.s - seed.missing, target.d))\n"
        "    return tube or (seed.missing == 0 and seed.d <= target.d + 1"
        " and seed.s <= target.s)\n"),
    "tube_wide": (
        "def keep(seed, target):\n"
        "    return (seed.d <= target.d + 1 and seed.s <= target.s\n"
        "            and seed.tube <= 3 + min(seed.missing, 2) + min(target.d, 2))\n"),
}
DEFAULT_STARTS = ("tube_seeding", "improved_seeding_dots", "laporta", "universe", "tube_dots",
                  "tube_wide")


def start_rule(name: str):
    if name in START_RULES:
        return load_rule(START_RULES[name], name=name)
    return resolve_rule(name)


def shape(seeds: np.ndarray, target) -> dict:
    """What a seed set looks like, counted from the target's point of view."""
    t = np.asarray(target, dtype=np.int64)
    f = features_from_indices(seeds, tuple(int(x) for x in t), ())
    missing = np.asarray(f.measure("missing"))
    s = np.asarray(f.measure("s"))
    d = np.asarray(f.measure("d"))
    tube = np.asarray(f.measure("tube"), dtype=float)
    lines = t > 0
    removed_numerators = np.where((seeds < 0) & lines[None, :], -seeds, 0).sum(axis=1)

    def counts(values) -> dict:
        return {str(k): int(v) for k, v in sorted(Counter(int(x) for x in values).items())}

    sectors = Counter("".join("1" if x > 0 else "0" for x in row) for row in seeds)
    by_missing_s = Counter((int(m), int(k)) for m, k in zip(missing, s))
    return {
        "by_missing": counts(missing),
        "by_s": counts(s),
        "by_dots": counts(d),
        "by_removed_line_numerators": counts(removed_numerators),
        "by_tube": {f"{k:g}": int(v) for k, v in sorted(Counter(tube.tolist()).items())},
        "by_missing_and_s": {f"{m},{k}": int(v) for (m, k), v in sorted(by_missing_s.items())},
        "sectors": len(sectors),
        "seeds_per_sector": dict(sorted(sectors.items(), key=lambda kv: (-kv[0].count("1"),
                                                                          kv[0]))),
        "s_below_target_max": int(max(0, (-t[t < 0]).sum() - s.min())) if len(s) else 0,
    }


def as_text(seeds: np.ndarray) -> list[str]:
    """Seed integrals as one "a1,...,aN" string each: one line per seed in the JSON."""
    return [",".join(map(str, row)) for row in seeds.tolist()]


def from_text(rows: list[str]) -> np.ndarray:
    return np.array([[int(x) for x in row.split(",")] for row in rows], dtype=np.int64)


def counting(judge, seeds: np.ndarray) -> dict:
    """Equations and integrals of one complete seed set as the judge solves it (the counting
    argument's figures)."""
    targets = list(judge.suite.targets)
    red = judge.reduce(seeds, targets)
    system = judge.rows.system(judge.solved_seeds(seeds), extra_integrals=judge.suite.targets)
    # how many of each seed's equations (8 IBP + 1 LI) the target's reduction pivots
    per_seed = np.bincount(system.seed_of_equation(red.trimmed_seed_equations),
                           minlength=system.seeds.shape[0])
    # with symmetries a seed of a mirror sector is solved as its images (a numerator maps to
    # several integrals): ``solved_seeds`` is what the judge's `seeds` counts
    return {"seeds": int(len(seeds)), "solved_seeds": int(system.seeds.shape[0]),
            "equations": int(red.equations),
            "equations_per_seed": int(system.n_templates),
            "trimmed_per_seed": {str(k): int(v) for k, v in enumerate(np.bincount(per_seed))},
            "independent_equations": int(red.independent_equations),
            "trimmed_equations": int(red.trimmed_equations),
            "integrals": int(system.n_columns), "reduced": bool(red.complete)}


def floor_at(s: int, dots: int, starts, orders: int, seconds: float,
             symmetries: bool, max_start: int, swaps: int) -> dict:
    judge = judge_for(s, dots, symmetries)
    target = judge.suite.targets[0]
    runs, best = [], None
    for name in starts:
        mask = judge.masks(start_rule(name))
        if mask[0].sum() > max_start:     # one solve of the whole start: time and memory
            runs.append({"start": name, "start_size": int(mask[0].sum()),
                         "skipped": f"over --max-start {max_start}"})
            continue
        for order in range(orders):
            clock = time.perf_counter()
            report = minimize_suite(judge, mask, rng=order, seconds=seconds, swaps=swaps,
                                    rule=name)
            result = report.results[0]
            run = {"start": name, "order": order, "minimize_seconds": seconds,
                   "max_swaps": swaps,
                   "start_size": result.start_size,
                   "pruned": result.pruned_size, "greedy": result.greedy_size,
                   "minimal": result.size, "complete": result.complete,
                   "swaps_tried": result.swaps_tried,
                   "seconds": round(time.perf_counter() - clock, 1)}
            # a floor counts only when the judge's own scoring confirms it (a check: minimize
            # solves as the judge does)
            run["judge_complete"] = bool(result.complete and judge.score_masks(
                report.masks, "trimmed").targets[0].reduced)
            runs.append(run)
            verdict = ("" if run["judge_complete"] else " (start incomplete)"
                       if not result.complete else " (judge: incomplete)")
            print(f"  s={s} {name:>22} order {order}: {result.start_size:>7,} -> pruned "
                  f"{result.pruned_size:>5,} -> greedy {result.greedy_size:>4,} -> "
                  f"{result.size:>4,}{verdict}  {run['seconds']} s", flush=True)
            seeds = judge.universe(0)[report.masks[0]]
            if run["judge_complete"] and (best is None or result.size < len(best[1])):
                best = (name, seeds)
    row = {"s": s, "target": list(target), "runs": runs}
    if best is not None:
        name, seeds = best
        row["floor"] = {"from": name, **counting(judge, seeds), "shape": shape(seeds, target),
                        "seed_integrals": as_text(seeds)}
    return row


def merged(old_rows: list, new_rows: list) -> list:
    """Rows of both scans by s: the runs of both, the smaller floor."""
    by_s = {row["s"]: row for row in old_rows}
    for row in new_rows:
        if row["s"] not in by_s:
            by_s[row["s"]] = row
            continue
        old = by_s[row["s"]]
        old["runs"] += row["runs"]
        old["seconds"] = round(old.get("seconds", 0) + row["seconds"], 1)
        old["load_avg_1min"] = max(old.get("load_avg_1min", 0), row["load_avg_1min"])
        if "floor" in row and ("floor" not in old or row["floor"]["seeds"] < old["floor"]["seeds"]):
            old["floor"] = row["floor"]
    return [by_s[s] for s in sorted(by_s)]


def marginal(rows: list) -> list:
    """Growth per unit of s between consecutive scanned s of the floor's figures."""
    out = []
    keys = ("seeds", "equations", "independent_equations", "trimmed_equations", "integrals")
    for a, b in zip(rows, rows[1:]):
        if "floor" in a and "floor" in b:
            ds = b["s"] - a["s"]
            out.append({"from_s": a["s"], "to_s": b["s"],
                        **{k: (b["floor"][k] - a["floor"][k]) / ds for k in keys}})
    return out


def recount(args) -> int:
    """Recompute the counting figures of the floors stored in the output file (no minimize)."""
    out = output_path(args)
    document = json.loads(out.read_text())
    for row in document["rows"]:
        judge = judge_for(row["s"], args.dots, document["symmetries"])
        floor = row.get("floor")
        if floor:
            seeds = from_text(floor["seed_integrals"])
            floor.update(counting(judge, seeds))
            print(f"s={row['s']} floor: {floor['seeds']} seeds, complete "
                  f"{floor['reduced']}, trimmed per seed {floor['trimmed_per_seed']}", flush=True)
    document["marginal"] = marginal(document["rows"])
    write_result(out, document)
    return 0


def output_path(args) -> Path:
    stem = "rank_floor" + (f"_dots{args.dots}" if args.dots else "") + (
        "_nosym" if args.no_symmetries else "")
    return Path(args.out) if args.out else RESULTS / f"{stem}.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--s", type=int, nargs="+", default=[3, 4, 5, 6])
    parser.add_argument("--dots", type=int, default=0)
    parser.add_argument("--starts", nargs="+", default=list(DEFAULT_STARTS))
    parser.add_argument("--orders", type=int, default=3,
                        help="removal orders (random seeds 0..K-1) per start")
    parser.add_argument("--minimize-seconds", type=float, default=10.0)
    parser.add_argument("--swaps", type=int, default=1000,
                        help="most random swaps per minimisation (default 1000)")
    parser.add_argument("--max-start", type=int, default=50000,
                        help="skip a start with more seeds than this (default 50000)")
    parser.add_argument("--no-symmetries", action="store_true",
                        help="IBP and LI equations alone (default: with sector symmetries, "
                             "as rank_scan.py and reduce)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of other s already in the output file")
    parser.add_argument("--recount", action="store_true",
                        help="only recompute the counting figures of the stored floors")
    parser.add_argument("--out")
    args = parser.parse_args()
    for name in args.starts:
        start_rule(name)    # a misspelt start fails here, before any solve
    if args.recount:
        return recount(args)
    out = output_path(args)
    pattern = "I(" + ",".join(map(str, target_for(0, args.dots)[:-1])) + ",-s)"
    print(f"{pattern} of triangle_box: minimal complete seed sets from {len(args.starts)} starts "
          f"x {args.orders} orders, {args.minimize_seconds:g} s of swaps each")
    rows = []
    for s in args.s:
        load = os.getloadavg()[0]
        clock = time.perf_counter()
        row = floor_at(s, args.dots, args.starts, args.orders, args.minimize_seconds,
                       not args.no_symmetries, args.max_start, args.swaps)
        row["load_avg_1min"] = round(load, 2)
        row["seconds"] = round(time.perf_counter() - clock, 1)
        rows.append(row)
        f = row.get("floor")
        if f:
            print(f"s={s}: floor {f['seeds']} seeds (from {f['from']}), {f['trimmed_equations']:,}"
                  f" trimmed of {f['equations']:,} equations ({f['independent_equations']:,} "
                  f"independent), {f['integrals']:,} integrals; 30*s = {30 * s}; "
                  f"by removed lines {f['shape']['by_missing']}", flush=True)
    starts = {name: start_rule(name).source for name in args.starts}
    if args.merge and out.is_file():    # add to the runs already in the output file
        old = json.loads(out.read_text())
        rows = merged(old["rows"], rows)
        starts = old.get("starts", {}) | starts
    document = {"benchmark": "rank_floor", "family": "triangle_box", "target": pattern,
                "symmetries": not args.no_symmetries, "starts": starts,
                "rows": rows, "marginal": marginal(rows)}
    write_result(out, document, stamp=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
