"""Equation rows of single seeds, cached across the candidates of a run and bounded in bytes.

Candidate rules of one run share most of their seeds.  Instead of instantiating the equations
of a whole Laporta box up front (the box can hold millions of seeds, the rows tens of GB), a
:class:`RowCache` instantiates the templates only for the seeds a candidate selects, keeps them
keyed by seed integral, and assembles each candidate's :class:`EquationSystem` from the cached
rows.  Eviction is least-recently-used, by bytes.

An assembled system is exactly what :func:`build_system` builds for the same seeds in the same
order (the same entries, columns numbered by the same ordering), so a solve on it gives the same
pivots, trimmed equations and multiply-adds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ibp_evolve.reducer.family import Family, FamilyError
from ibp_evolve.reducer.ordering import Ordering
from ibp_evolve.reducer.system import (EquationSystem, IndexCode, Instantiator, OrderCode,
                                       assemble)

DEFAULT_CACHE_BYTES = 512 << 20
INSTANTIATE_BATCH = 4096
_ENTRY_OVERHEAD = 3 * 112 + 100  # three small ndarrays and their OrderedDict slot, measured order


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evicted: int = 0
    bytes: int = 0
    seeds: int = 0


class RowCache:
    """Rows of seeds with indices in ``index_range`` = (lo, hi), at one point and prime.

    ``index_range`` must cover every seed and every extra integral (targets) that will be
    asked for; the templates' shifts are added to it here.  ``max_bytes`` bounds the cached rows
    (not a system being assembled, which is the candidate's own cost).
    """

    def __init__(self, family: Family, point: dict, prime: int, index_range: tuple[int, int],
                 ordering: Ordering | None = None, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.family = family
        self.prime = prime
        self.ordering = ordering or Ordering.parse()
        self.instantiator = Instantiator(family, point, prime)
        self.n_templates = self.instantiator.ts.n_templates
        lo, hi = index_range
        self.index_range = (int(lo), int(hi))
        lo, hi = lo + self.instantiator.shift_lo, hi + self.instantiator.shift_hi
        # keys that sort like the ordering when they fit: no per-system sort over criteria
        self.code = (OrderCode.for_range(family, self.ordering, lo, hi)
                     or IndexCode.for_range(family, lo, hi))
        self.seed_code = IndexCode.for_range(family, *self.index_range)  # the cache's keys
        self.max_bytes = int(max_bytes)
        self.stats = CacheStats()
        self._rows: OrderedDict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()

    def _check_range(self, integrals: np.ndarray, what: str) -> None:
        lo, hi = self.index_range
        if len(integrals) and (integrals.min() < lo or integrals.max() > hi):
            raise FamilyError(f"{what} index outside the row cache's range {lo}..{hi}")

    def system(self, seeds, extra_integrals=()) -> EquationSystem:
        """The equation system of ``seeds`` (in this order), like :func:`build_system`."""
        start = time.perf_counter()
        n = self.family.n
        seeds = np.ascontiguousarray(np.asarray(seeds, dtype=np.int64).reshape(-1, n))
        extra = np.asarray(list(extra_integrals), dtype=np.int64).reshape(-1, n)
        self._check_range(seeds, "seed")
        self._check_range(extra, "extra integral")
        seed_keys = self.seed_code.encode(seeds).tolist()
        rows = self._rows
        parts: list = [None] * len(seed_keys)
        missing = []
        for i, key in enumerate(seed_keys):
            row = rows.get(key)
            if row is None:
                missing.append(i)
            else:
                rows.move_to_end(key)
                parts[i] = row
        self.stats.hits += len(seed_keys) - len(missing)
        self.stats.misses += len(missing)
        if missing:
            self._instantiate(seeds[missing], [seed_keys[i] for i in missing], parts, missing)
        if parts:
            keys = np.concatenate([p[0] for p in parts])
            vals = np.concatenate([p[1] for p in parts])
            counts = np.concatenate([p[2] for p in parts])
        else:
            keys = vals = counts = np.zeros(0, dtype=np.int64)
        del parts  # the rows the cache does not keep are freed before the assembly
        self._evict()
        return assemble(self.family, seeds, self.ordering, self.n_templates, self.prime,
                        self.code, keys, vals, counts, extra, start=start)

    def _instantiate(self, seeds: np.ndarray, keys: list, parts: list, positions: list) -> None:
        # in batches: instantiating works on (seeds x terms x indices) arrays, 6 KB a seed
        for start in range(0, len(seeds), INSTANTIATE_BATCH):
            stop = start + INSTANTIATE_BATCH
            self._instantiate_batch(seeds[start:stop], keys[start:stop], parts,
                                    positions[start:stop])

    def _instantiate_batch(self, seeds: np.ndarray, keys: list, parts: list,
                           positions: list) -> None:
        all_keys, all_vals, counts = self.instantiator.rows(seeds, self.code)
        counts = counts.reshape(len(seeds), self.n_templates)
        ends = np.cumsum(counts.sum(axis=1)).tolist()
        begin = 0
        for j, (key, end) in enumerate(zip(keys, ends)):
            # copies, so that evicting one seed frees its memory (a view would pin the batch)
            row = (all_keys[begin:end].copy(), all_vals[begin:end].copy(), counts[j].copy())
            begin = end
            parts[positions[j]] = row
            if key not in self._rows:
                self._rows[key] = row
                self.stats.bytes += self._bytes(row)
                self.stats.seeds += 1

    @staticmethod
    def _bytes(row) -> int:
        return sum(a.nbytes for a in row) + _ENTRY_OVERHEAD

    def _evict(self) -> None:
        rows = self._rows
        while self.stats.bytes > self.max_bytes and rows:
            _, row = rows.popitem(last=False)
            self.stats.bytes -= self._bytes(row)
            self.stats.seeds -= 1
            self.stats.evicted += 1

    def clear(self) -> None:
        self._rows.clear()
        self.stats.bytes = self.stats.seeds = 0

    def __len__(self) -> int:
        return len(self._rows)
