"""Draw suites of targets reproducibly: many targets per family, for rules that must generalise.

Targets are drawn from the non-zero sectors of a family with at least ``min_lines`` lines, inside
ranges of r (sum of positive indices), s (numerator powers) and d (dots = r - t).  Drawing is
stratified: a stratum is one (t, r, s) combination that the ranges admit, strata are visited in a
random order round-robin and a random integral is taken from each, so that a suite spreads over
numerator powers and dots instead of piling up where integrals are most numerous (high s, many
positions).  The same arguments and seed give the same suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ibp_evolve.judge.suites import DEFAULT_MAX_SEEDS, SuiteError
from ibp_evolve.reducer.cache import atomic_write_text
from ibp_evolve.reducer.family import Family
from ibp_evolve.reducer.sectors import lines_of, measures, nonzero_subsectors, top_sector
from ibp_evolve.reducer.seeding import sector_box

__all__ = ["Range", "generate_targets", "suite_toml", "write_suite"]

MAX_COUNT = 1000          # targets per generated suite
MAX_RANGE_VALUE = 30      # bound on r, s and d (the indices' own cap in family files)


@dataclass(frozen=True)
class Range:
    """An inclusive integer range, written ``LO..HI`` or ``N`` on the command line."""
    lo: int
    hi: int

    @classmethod
    def parse(cls, text: str, name: str) -> "Range":
        parts = str(text).split("..")
        try:
            lo, hi = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (None, None)
        except ValueError:
            lo = hi = None
        if lo is None or lo < 0 or hi < lo or hi > MAX_RANGE_VALUE:
            raise SuiteError(f"--{name} {text!r}: expected N or LO..HI with "
                             f"0 <= LO <= HI <= {MAX_RANGE_VALUE}")
        return cls(lo, hi)

    def __contains__(self, x) -> bool:
        return self.lo <= x <= self.hi

    def __str__(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}..{self.hi}"


def _candidates(family: Family, r: Range, s: Range, d: Range, min_lines: int) -> np.ndarray:
    boxes = []
    for sector in nonzero_subsectors(family, top_sector(family)):
        t = len(lines_of(sector))
        if t < min_lines or t + d.lo > r.hi:
            continue
        box = sector_box(family.n, sector, min(d.hi, r.hi - t), s.hi)
        if len(box):
            boxes.append(box)
    if not boxes:
        return np.zeros((0, family.n), dtype=np.int64)
    box = np.vstack(boxes)
    m = measures(box)
    keep = ((m["r"] >= r.lo) & (m["r"] <= r.hi) & (m["s"] >= s.lo) & (m["s"] <= s.hi)
            & (m["d"] >= d.lo) & (m["d"] <= d.hi))
    return box[keep]


def generate_targets(family: Family, count: int, r: Range, s: Range, d: Range, seed: int = 0,
                     min_lines: int | None = None, exclude=()) -> list[tuple[int, ...]]:
    """``count`` distinct targets of ``family`` drawn (stratified, reproducibly) from the ranges.

    ``min_lines`` defaults to one line fewer than the family's top sector; ``exclude`` lists
    integrals never to draw (e.g. a training suite's, so that a validation suite is disjoint).
    """
    if not 1 <= count <= MAX_COUNT:
        raise SuiteError(f"--count {count}: expected 1..{MAX_COUNT}")
    top_lines = len(lines_of(top_sector(family)))
    min_lines = top_lines - 1 if min_lines is None else min_lines
    if not 1 <= min_lines <= top_lines:
        raise SuiteError(f"--min-lines {min_lines}: the family '{family.name}' has sectors of "
                         f"1..{top_lines} lines")
    pool = _candidates(family, r, s, d, min_lines)
    excluded = {tuple(int(a) for a in e) for e in exclude}
    if excluded and len(pool):
        pool = pool[[tuple(int(a) for a in row) not in excluded for row in pool]]
    if len(pool) < count:
        raise SuiteError(
            f"family '{family.name}' has only {len(pool)} integrals in non-zero sectors with at "
            f"least {min_lines} lines and r in {r}, s in {s}, d in {d}"
            f"{' (after exclusions)' if excluded else ''}; {count} were asked for")
    m = measures(pool)
    keys = np.stack([m["t"], m["r"], m["s"]], axis=1)
    strata = {}
    for i, key in enumerate(map(tuple, keys)):
        strata.setdefault(key, []).append(i)
    rng = np.random.default_rng(seed)
    order = [strata[k] for k in sorted(strata)]
    rng.shuffle(order)
    for members in order:
        rng.shuffle(members)
    chosen = []
    while len(chosen) < count:
        for members in order:
            if members and len(chosen) < count:
                chosen.append(members.pop())
    return [tuple(int(a) for a in pool[i]) for i in chosen]


def suite_toml(name: str, family_ref: str, targets, *, delta_r: int = 1, delta_s: int = 1,
               max_seeds: int = DEFAULT_MAX_SEEDS, description: str = "") -> str:
    """The text of a suite file (the format ``judge.suites`` reads)."""
    rows = "".join(f"    [{', '.join(str(a) for a in t)}],\n" for t in targets)
    return (f'name = "{name}"\n'
            f'description = "{description}"\n'
            f'family = "{family_ref}"\n'
            f"targets = [\n{rows}]\n"
            f"delta_r = {delta_r}\ndelta_s = {delta_s}\nmax_seeds = {max_seeds}\n")


def write_suite(path: Path, text: str) -> None:
    """Write a suite file atomically (a half-written suite never replaces a good one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
