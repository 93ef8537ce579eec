"""The judge's fitness kept exact through a run: engines, database, checkpoints, exports.

The judge grades an incomplete rule ``PENALTY * unreduced + SURVIVOR_WEIGHT * survivors + ...``
(:func:`ibp_evolve.judge.score.fitness_of`), which passes 2^53 from ten unreduced targets on:
a float there would make two different rules equal, or order them wrongly.  So a fitness is a
Python ``int`` (integer objectives), a :class:`~fractions.Fraction` (``relative_trimmed``) or a
``float`` only where the objective is itself a measurement (``seconds``), and it is written as
text (``"1000000000000000001"``, ``"7/3"``, ``"0.25"``), never as a binary float: in SQLite
(``TEXT`` columns) and in checkpoint JSON alike.
"""

from __future__ import annotations

import numbers
from fractions import Fraction

__all__ = ["FAILED_FITNESS", "exact", "fitness_text", "parse_fitness"]

# Worse than any fitness the judge gives (an incomplete rule costs at most a few 10^15); an
# integer, so that it compares exactly with the judge's.
FAILED_FITNESS = 10 ** 18


def exact(value):
    """The plain Python number of a fitness: an int for any integer (numpy's included) and
    for an integral Fraction, a float for a numpy float; other values unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else value
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def fitness_text(value) -> str | None:
    """A fitness as exact text (None stays None)."""
    if value is None:
        return None
    value = exact(value)
    if isinstance(value, bool) or not isinstance(value, (int, Fraction, float)):
        raise TypeError(f"a fitness is an int, a Fraction or a float, not "
                        f"{type(value).__name__}")
    if isinstance(value, float):
        return repr(value)   # shortest text that reads back as the same float
    return str(value)


def parse_fitness(value):
    """The inverse of :func:`fitness_text`; numbers (runs written before fitness was text
    stored it as REAL) pass through, a bad text is a ``ValueError`` naming it."""
    if value is None or (isinstance(value, (int, float, Fraction))
                         and not isinstance(value, bool)):
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a fitness: {value!r}")
    text = value.strip()
    try:
        if "/" in text:
            return exact(Fraction(text))
        if text.lstrip("-").isdigit():
            return int(text)
        return float(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"not a fitness: {value!r}") from None
