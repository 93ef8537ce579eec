"""Enumerate seed integrals: sector boxes and the classic Laporta seeds.

The classic Laporta rule (DESIGN.md §2) takes every integral with r <= r_max and s <= s_max in the
target's sector and in each of its non-zero subsectors.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from math import comb

import numpy as np

from ibp_evolve.reducer.family import Family
from ibp_evolve.reducer.sectors import lines_of, nonzero_subsectors, sector_of


@lru_cache(maxsize=256)
def compositions_upto(slots: int, total_max: int) -> np.ndarray:
    """All vectors of ``slots`` non-negative integers with sum <= total_max, shape (m, slots)."""
    if total_max < 0:
        return np.zeros((0, slots), dtype=np.int64)
    if slots == 0:
        return np.zeros((1, 0), dtype=np.int64)
    parts = []
    for first in range(total_max + 1):
        rest = compositions_upto(slots - 1, total_max - first)
        head = np.full((len(rest), 1), first, dtype=np.int64)
        parts.append(np.hstack([head, rest]))
    out = np.vstack(parts)
    out.setflags(write=False)
    return out


def sector_box(n: int, sector: int, max_dots: int, max_numerators: int,
               numerator_positions=None) -> np.ndarray:
    """Integrals of one sector with at most ``max_dots`` dots and numerator power s <= max.

    ``numerator_positions`` limits where numerators may go (default: every non-line position).
    """
    lines = lines_of(sector)
    others = [i for i in range(n) if i not in lines] if numerator_positions is None else [
        i for i in numerator_positions if i not in lines]
    return _box_rows(n, lines, others, compositions_upto(len(lines), max_dots),
                     compositions_upto(len(others), max_numerators))


def _box_rows(n: int, lines, others, dots: np.ndarray, nums: np.ndarray) -> np.ndarray:
    """Every dot pattern (outer) times every numerator pattern (inner), as index rows."""
    out = np.zeros((len(dots) * len(nums), n), dtype=np.int64)
    if lines:
        out[:, lines] = 1 + np.repeat(dots, len(nums), axis=0)
    if others:
        out[:, others] = -np.tile(nums, (len(dots), 1))
    return out


def box_sectors(family: Family, targets, r_max: int) -> list[int]:
    """The sectors of a Laporta box, ascending: non-zero subsectors of the targets' sectors
    with no more lines than ``r_max`` (a line carries index >= 1)."""
    sectors = set()
    for target in targets:
        sectors.update(nonzero_subsectors(family, sector_of(target)))
    return [sec for sec in sorted(sectors) if r_max >= bin(sec).count("1")]


def count_laporta_seeds(family: Family, targets, r_max: int, s_max: int) -> int:
    """len(laporta_seeds(...)) without enumerating anything: per sector, the number of ways to
    spread at most max_dots dots over t lines times at most s_max numerator powers over the
    other n - t positions (C(k + slots, slots) vectors of ``slots`` naturals sum to <= k)."""
    if s_max < 0:
        return 0
    total = 0
    for sec in box_sectors(family, targets, r_max):
        t = bin(sec).count("1")
        max_dots, slots = r_max - t, family.n - t
        total += comb(max_dots + t, t) * comb(s_max + slots, slots)
    return total


def iter_laporta_seeds(family: Family, targets, r_max: int, s_max: int,
                       chunk_size: int = 1 << 16) -> Iterator[np.ndarray]:
    """laporta_seeds(...) in consecutive chunks of about ``chunk_size`` rows, same order.

    A chunk never mixes sectors; within a sector it is a run of dot patterns times every
    numerator pattern (at least one dot pattern, so a chunk can exceed ``chunk_size`` when one
    dot pattern alone has more numerator patterns).
    """
    n = family.n
    for sec in box_sectors(family, targets, r_max):
        lines = lines_of(sec)
        others = [i for i in range(n) if i not in lines]
        dots = compositions_upto(len(lines), r_max - len(lines))
        nums = compositions_upto(len(others), s_max)
        if not len(nums):
            continue
        per_chunk = max(1, chunk_size // len(nums))
        for start in range(0, len(dots), per_chunk):
            yield _box_rows(n, lines, others, dots[start:start + per_chunk], nums)


def laporta_seeds(family: Family, targets, r_max: int, s_max: int) -> np.ndarray:
    """Seeds with r <= r_max, s <= s_max in the non-zero subsectors of the targets' sectors."""
    boxes = [sector_box(family.n, sec, r_max - bin(sec).count("1"), s_max)
             for sec in box_sectors(family, targets, r_max)]
    if not boxes:
        return np.zeros((0, family.n), dtype=np.int64)
    return np.vstack(boxes)


def family_box(family: Family, max_dots: int, max_numerators: int, sectors=None) -> np.ndarray:
    """Integrals of every non-zero sector (or the given ones) with bounded dots and numerators."""
    from ibp_evolve.reducer.sectors import top_sector
    chosen = nonzero_subsectors(family, top_sector(family)) if sectors is None else sectors
    boxes = [sector_box(family.n, sec, max_dots, max_numerators) for sec in chosen]
    if not boxes:
        return np.zeros((0, family.n), dtype=np.int64)
    return np.vstack(boxes)
