"""A rule's seeds for a target, chosen from its Laporta box without building any equation.

The candidate universe of a target is the Laporta box r <= r_target + delta_r,
s <= s_target + delta_s over the non-zero subsectors of the target's sector.  It can hold
millions of integrals (3.3 million for the SAILIR target I(2,2,3,3,1,2,-7) at delta 1), while a
good rule keeps a few thousand.  The rule's features are cheap and vectorised, so the box is
enumerated chunk by chunk, the rule is evaluated on each chunk and only the kept integrals are
retained: memory follows what the rule keeps, never the universe.

The seeds come back in the box's enumeration order (``laporta_seeds``): sectors ascending, then
dots, then numerators.  The solver breaks ties between equations by equation id, i.e. by the
position of their seed, so this order is part of what makes a reduction reproducible.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ibp_evolve.judge.bounds import CapError
from ibp_evolve.language.compile import compile_rule, features_from_indices
from ibp_evolve.language.parse import Rule, load_rule
from ibp_evolve.language.sandbox import evaluate_mask
from ibp_evolve.reducer.family import Family
from ibp_evolve.reducer.seeding import count_laporta_seeds, iter_laporta_seeds

CHUNK_SEEDS = 1 << 16            # candidates per in-process chunk (about 7 MB of features)
SANDBOX_CHUNK_SEEDS = 1 << 19    # the sandbox starts a process per chunk: fewer, larger chunks
DEFAULT_MAX_CANDIDATES = 20_000_000  # about a minute of rule evaluation per target


class SelectionError(CapError):
    """A selection refused before or during its work (too many candidates or seeds)."""


class TooManySeeds(SelectionError):
    """The rule keeps more than ``cap`` seeds for ``target``; ``count`` is how many it keeps."""

    def __init__(self, target, count: int, cap: int):
        self.target, self.count, self.cap = tuple(target), int(count), int(cap)
        super().__init__(f"target {list(self.target)}: the rule keeps {self.count} seeds, "
                         f"more than max_seeds = {self.cap}")


class TooManyCandidates(SelectionError):
    """The candidate universe is larger than the cap on candidates (checked before any work)."""


def _count_text(n: int) -> str:
    """1,234,567 for counts a person reads; 'about 10^66' for absurd ones."""
    return f"{n:,}" if n < 10 ** 12 else f"about 10^{len(str(n)) - 1}"


def box_limits(target, delta_r: int, delta_s: int) -> tuple[int, int]:
    """(r_max, s_max) of a target's candidate universe."""
    r = sum(x for x in target if x > 0)
    s = -sum(x for x in target if x < 0)
    return r + delta_r, s + delta_s


def count_candidates(family: Family, target, delta_r: int, delta_s: int) -> int:
    """Size of the candidate universe of ``target``, counted, not enumerated."""
    r_max, s_max = box_limits(target, delta_r, delta_s)
    return count_laporta_seeds(family, [target], r_max, s_max)


def check_candidates(family: Family, target, delta_r: int, delta_s: int,
                     max_candidates: int = DEFAULT_MAX_CANDIDATES, where: str = "") -> int:
    """The universe size of ``target``; raises TooManyCandidates past ``max_candidates``."""
    count = count_candidates(family, target, delta_r, delta_s)
    if count > max_candidates:
        r_max, s_max = box_limits(target, delta_r, delta_s)
        raise TooManyCandidates(
            f"{where}target {list(target)}: candidate universe of {_count_text(count)} seeds "
            f"(r <= {r_max}, "
            f"s <= {s_max}; delta_r = {delta_r}, delta_s = {delta_s}) exceeds the cap of "
            f"{max_candidates:,} candidates; lower delta_r/delta_s or raise --max-candidates")
    return count


def mask_function(rule: Rule | str, family: Family, target, *, sandbox: bool = False,
                  time_limit: float = 10.0) -> Callable[[np.ndarray], np.ndarray]:
    """seeds (n, N) -> the rule's keep-mask over them, compiled once (or via the sandbox)."""
    rule = rule if isinstance(rule, Rule) else load_rule(rule)
    target = tuple(int(x) for x in target)
    if sandbox:
        return lambda seeds: np.asarray(
            evaluate_mask(rule, seeds, target, family.isps, time_limit=time_limit), dtype=bool)
    compiled = compile_rule(rule)
    return lambda seeds: np.asarray(
        compiled(features_from_indices(seeds, target, family.isps)), dtype=bool)


def select_from_box(keep: Callable[[np.ndarray], np.ndarray], family: Family, target, *,
                    delta_r: int, delta_s: int, max_seeds: int | None,
                    chunk_seeds: int = CHUNK_SEEDS) -> tuple[np.ndarray, int]:
    """(kept seeds, number kept) for a keep-mask function over the target's universe.

    Past ``max_seeds`` the kept seeds are counted but no longer stored: the returned array then
    holds the first ``max_seeds`` of them and the count says how many there were.
    """
    r_max, s_max = box_limits(target, delta_r, delta_s)
    kept, count, stored = [], 0, 0
    for chunk in iter_laporta_seeds(family, [target], r_max, s_max, chunk_seeds):
        mask = keep(chunk)
        if mask.shape != (len(chunk),):
            raise ValueError(f"a keep-mask over {len(chunk)} seeds has shape {mask.shape}")
        n_kept = int(np.count_nonzero(mask))
        count += n_kept
        if n_kept and (max_seeds is None or stored < max_seeds):
            rows = chunk[mask]
            if max_seeds is not None:
                rows = rows[: max_seeds - stored]
            kept.append(rows)
            stored += len(rows)
    seeds = np.vstack(kept) if kept else np.zeros((0, family.n), dtype=np.int64)
    return seeds, count


def select_seeds(rule: Rule | str, family: Family, target, *, delta_r: int = 1,
                 delta_s: int = 1, max_seeds: int | None = None, sandbox: bool = False,
                 time_limit: float = 10.0,
                 max_candidates: int = DEFAULT_MAX_CANDIDATES) -> np.ndarray:
    """The seed integrals ``rule`` keeps for ``target``, one per row, shape (n_kept, family.n).

    ``rule``: a loaded :class:`Rule` or rule source text.  The candidates are the Laporta box
    r <= r_target + delta_r, s <= s_target + delta_s over the non-zero subsectors of the
    target's sector, visited in chunks; the result is in the box's enumeration order (sectors
    ascending, then dots, then numerators), the order the judge solves in.

    ``sandbox=True`` evaluates the rule in the sandboxed worker (``time_limit`` seconds per
    chunk of candidates): use it for any rule read from a file someone else wrote.

    Raises, before any work, :class:`TooManyCandidates` when the universe exceeds
    ``max_candidates``; after the scan, :class:`TooManySeeds` (with ``count`` and ``cap``) when the
    rule keeps more than ``max_seeds`` (None: no cap).  Rule errors propagate as
    :class:`~ibp_evolve.language.parse.RuleError` / sandbox errors.
    """
    target = family.check_integral(target, "target")
    check_candidates(family, target, delta_r, delta_s, max_candidates)
    keep = mask_function(rule, family, target, sandbox=sandbox, time_limit=time_limit)
    chunk = SANDBOX_CHUNK_SEEDS if sandbox else CHUNK_SEEDS
    seeds, count = select_from_box(keep, family, target, delta_r=delta_r, delta_s=delta_s,
                                   max_seeds=max_seeds, chunk_seeds=chunk)
    if max_seeds is not None and count > max_seeds:
        raise TooManySeeds(target, count, max_seeds)
    return seeds
