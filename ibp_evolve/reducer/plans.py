"""Seed plans: which seeds a reduction starts from, and how it grows them when a target stays
unreduced.

* :class:`LaportaBox` -- the classic box r <= R, s <= S over the targets' non-zero subsectors;
  fixed (``reduce --seeds laporta:r=R,s=S``).
* :class:`WideningBox` -- the smallest box holding the targets, widened until they reduce.
* :class:`MaskPlan` -- any per-target seed choice (a seeding rule's keep-mask, computed one
  floor up by the judge) followed by *shells*: shell k of a target is every integral of its
  non-zero subsectors with d <= d_target + k dots and s <= s_target + k numerator powers.  A
  rule that leaves out something a target needs gets it back from the first shell that holds it.

A plan is asked for its first seeds, then -- while some target is unreduced -- for the next
ones.  The seed cap raises :class:`SeedCapError` (a job refused by a cap, before it is built), a
one-line message that names the target and the cap; reaching the shell cap ends the growth
(``grow`` returns None): the system was built and solved, so the reduction is returned as it
stands, its unreduced targets with their survivors, and the notice names the cap to raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ibp_evolve.reducer.family import Family
from ibp_evolve.reducer.sectors import measures, nonzero_subsectors, sector_of
from ibp_evolve.reducer.seeding import laporta_seeds, sector_box

MAX_AUTO_WIDENING = 6


class SeedSpecError(ValueError):
    """A malformed ``--seeds`` specification."""


class SeedCapError(ValueError):
    """Growing the seeds for a target hit a cap (shells, seeds or memory)."""


def _fmt(integral) -> str:
    return "I(" + ",".join(map(str, integral)) + ")"


def merge_seeds(*parts: np.ndarray) -> np.ndarray:
    """The union of seed arrays, each seed once, in order of first appearance: the solver
    breaks ties by equation id, i.e. by seed position, so the order keeps a rule's reduction
    identical to the judge's."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.zeros((0, 0), dtype=np.int64)
    stacked = np.vstack(parts)
    _, first = np.unique(stacked, axis=0, return_index=True)
    return stacked[np.sort(first)]


def shell_seeds(family: Family, target, k: int) -> np.ndarray:
    """Shell k of ``target``: its non-zero subsectors' integrals with d <= d_t + k, s <= s_t + k."""
    m = measures(np.array([target], dtype=np.int64))
    d_max, s_max = int(m["d"][0]) + k, int(m["s"][0]) + k
    boxes = [sector_box(family.n, sec, d_max, s_max)
             for sec in nonzero_subsectors(family, sector_of(target))]
    return merge_seeds(*boxes) if boxes else np.zeros((0, family.n), dtype=np.int64)


@dataclass(frozen=True)
class LaportaBox:
    r_max: int
    s_max: int

    @classmethod
    def parse(cls, spec: str) -> "LaportaBox":
        m = re.fullmatch(r"\s*laporta\s*:\s*r\s*=\s*(\d+)\s*,\s*s\s*=\s*(\d+)\s*", spec)
        if not m:
            raise SeedSpecError(f"--seeds '{spec}': expected the form laporta:r=R,s=S "
                                "(e.g. laporta:r=6,s=3)")
        return cls(int(m.group(1)), int(m.group(2)))

    @property
    def label(self) -> str:
        return f"laporta:r={self.r_max},s={self.s_max}"

    def seeds(self, family: Family, targets) -> np.ndarray:
        return laporta_seeds(family, targets, self.r_max, self.s_max)

    def first(self, family: Family, targets) -> tuple[np.ndarray, str]:
        return self.seeds(family, targets), self.label

    def grow(self, family, targets, unreduced, seeds, step):
        return None  # an explicit box is what the user asked for

    def out_of_reach(self, targets) -> list[str]:
        """One line per target that no equation of this box can contain: an IBP or LI
        operator raises a seed's r or s by at most one, so a target with r > R + 1 or
        s > S + 1 stays its own survivor whatever the solver does."""
        m = measures(np.array(targets, dtype=np.int64))
        lines = []
        for t, r, s in zip(targets, m["r"], m["s"]):
            if r > self.r_max + 1 or s > self.s_max + 1:
                lines.append(f"{_fmt(t)} (r={r}, s={s}) lies outside the reach of "
                             f"{self.label}: no equation contains it; use at least "
                             f"laporta:r={max(self.r_max, r - 1)},s={max(self.s_max, s - 1)}")
        return lines


class WideningBox:
    """The smallest Laporta box holding every target, widened (s, then r and s) until they
    reduce or ``MAX_AUTO_WIDENING`` steps are spent."""

    def __init__(self):
        self.box = None

    def first(self, family: Family, targets) -> tuple[np.ndarray, str]:
        m = measures(np.array(targets, dtype=np.int64))
        self.box = LaportaBox(int(m["r"].max()), int(m["s"].max()))
        return self.box.seeds(family, targets), self.box.label

    def grow(self, family, targets, unreduced, seeds, step):
        if step > MAX_AUTO_WIDENING:
            return None
        b = self.box
        self.box = LaportaBox(b.r_max + 1, b.s_max + 1) if step % 2 == 0 else LaportaBox(
            b.r_max, b.s_max + 1)
        return self.box.seeds(family, targets), self.box.label


class MaskPlan:
    """Seeds chosen per target by ``seeds_of(target)`` (e.g. a rule), then shells."""

    def __init__(self, seeds_of: Callable[[tuple], np.ndarray], label: str,
                 max_shells: int = 4, max_seeds: int = 400_000,
                 notify: Callable[[str], None] | None = None):
        self.seeds_of = seeds_of
        self.label = label
        self.max_shells = max_shells
        self.max_seeds = max_seeds
        self.notify = notify or (lambda message: None)
        self.shell: dict = {}

    def first(self, family: Family, targets) -> tuple[np.ndarray, str]:
        parts = []
        for t in targets:
            chosen = np.asarray(self.seeds_of(tuple(t)), dtype=np.int64).reshape(-1, family.n)
            parts.append(chosen)
        seeds = merge_seeds(*parts) if any(len(p) for p in parts) else np.zeros(
            (0, family.n), dtype=np.int64)
        self._check(seeds, targets[0] if len(targets) == 1 else None)
        return seeds, self.label

    def grow(self, family, targets, unreduced, seeds, step):
        parts = [seeds]
        for t in unreduced:
            k = self.shell.get(t, 0) + 1
            if k > self.max_shells:
                # ran, but incomplete (exit 1 for reduce): not a refusal of the job
                self.notify(f"target {_fmt(t)} is not reduced by {self.label} with "
                            f"{self.max_shells} shell{'s' * (self.max_shells != 1)} (cap "
                            f"--max-shells {self.max_shells}: raise it to add shell {k})")
                return None
            self.shell[t] = k
            self.notify(f"target {_fmt(t)} not reduced by {self.label}: adding shell {k} "
                        f"(d <= d_target + {k}, s <= s_target + {k})")
            parts.append(shell_seeds(family, t, k))
        grown = merge_seeds(*parts)
        self._check(grown, unreduced[0] if unreduced else None)
        shells = ", ".join(f"{_fmt(t)}: {k}" for t, k in sorted(self.shell.items()))
        return grown, f"{self.label} + shells ({shells})"

    def _check(self, seeds, target) -> None:
        if len(seeds) > self.max_seeds:
            who = f"target {_fmt(target)}" if target is not None else "the targets"
            raise SeedCapError(f"{who} needs {len(seeds)} seeds with {self.label}: more than "
                               f"the cap --max-seeds {self.max_seeds}")
