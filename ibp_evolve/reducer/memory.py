"""Memory of an equation system, estimated from counts before anything is built (light to
import: the judge's bounds and the command line use it before the reducer is loaded)."""

from __future__ import annotations

# One equation entry (one term of one template on one seed; at most n_terms per seed): its
# integral key and coefficient, its column id, the inverse index and sort buffer of the column
# numbering, and the solver's copy, 8 int64 words while a system is assembled and solved.
# Measured on the SAILIR integral I(2,3,1,1,2,1,-7): 79,688 seeds x 109 terms, 0.47 GiB above
# the process baseline, the same figure.  The solver's fill-in comes on top and depends on the
# seeds, so an estimate from it is a floor, not a promise.
BYTES_PER_ENTRY = 64


def rows_bytes(n_seeds: int, n_terms: int) -> int:
    """Memory of assembling and solving the equations of ``n_seeds`` seeds whose templates
    have ``n_terms`` terms in all (fill-in aside)."""
    return BYTES_PER_ENTRY * n_terms * n_seeds


def format_bytes(n: float) -> str:
    """A memory size as people read it: '1.1 GiB', '12.0 KiB', '512 B'."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"
