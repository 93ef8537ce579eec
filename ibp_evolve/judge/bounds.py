"""Bounds before work: what a judge will hold, estimated from counts before anything is built.

A job that would not fit is refused with a one-line :class:`CapError` that names the target or
key at fault, the estimate, the cap and the option that raises it (exit code 2 in every verb).
The estimates count arrays the code really allocates, per unit of work:

* a candidate seed evaluated by a rule: its index row and the feature arrays (r, s, t, d,
  sector, missing), int64, plus as much again for the rule's temporaries;
* an equation entry (one term of one template on one seed, at most ``n_terms`` per seed): its
  integral key and coefficient, its column id, the inverse index and sort buffer of the column
  numbering, and the solver's copy; the solver's fill-in comes on top and depends on the rule,
  so an estimate here is a floor, not a promise.
"""

from __future__ import annotations

import os

# Re-exported: the judge's estimates all come from this module.
from ibp_evolve.reducer.memory import format_bytes, rows_bytes  # noqa: F401

DEFAULT_MEMORY_SHARE = 0.5
FEATURE_WORDS = 7             # r, s, t, d, sector, missing and the keep-mask


class CapError(ValueError):
    """A job refused by a cap before (or instead of) doing it."""


def machine_memory() -> int:
    """Physical memory of this machine in bytes (0 when the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def default_max_memory() -> int:
    """The default --max-memory: a share of the machine's RAM (8 GiB when it is unknown)."""
    total = machine_memory()
    return int(total * DEFAULT_MEMORY_SHARE) if total else 8 << 30


def parse_bytes(text: str) -> int:
    """'8G', '512M', '2.5GiB', '1000000' -> bytes; ValueError names the text."""
    s = str(text).strip().lower().removesuffix("ib").removesuffix("b")
    scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}.get(s[-1:] or "x", 1)
    number = s[:-1] if scale != 1 else s
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"memory size '{text}': expected a number with an optional K/M/G/T "
                         f"suffix, e.g. 8G") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"memory size '{text}' must be positive and finite")
    return int(value * scale)


def candidate_bytes(n_candidates: int, n_indices: int) -> int:
    """Memory of the features of ``n_candidates`` seeds held at once."""
    return 2 * 8 * (n_indices + FEATURE_WORDS) * n_candidates


def check_memory(needed: int, cap: int, what: str, lower: str) -> None:
    """Refuse ``what`` when ``needed`` bytes exceed ``cap``; ``lower`` says how to need less."""
    if needed > cap:
        raise CapError(f"{what} needs about {format_bytes(needed)}, more than --max-memory "
                       f"{format_bytes(cap)}; {lower} or raise --max-memory")
