"""The one feature vocabulary: every number a rule can read about a candidate seed and the target.

Each feature is defined here once — its name in the rule language, its display name, what it
means and how it is computed, vectorised over all candidate seeds at once.  The parser validates
names against this table, the compiler and the reference interpreter evaluate through it, the GP
engine takes its terminals from it, distillation its columns, the printer its display names and
the LLM prompt its description.

Notation: a seed or the target is an integral I(a_1..a_N); T_1..T_N are the target's indices.
The target's *sector* is the set of its lines (positions with T_i > 0) and its *corner* is the
integral C with C_i = 1 on those lines and 0 elsewhere (no dots, no numerators).

**Measures** (one number per integral: ``seed.<name>``, ``target.<name>``)

=============  ==========================================================================
``r``          sum of the positive indices
``s``          minus the sum of the negative indices (numerator powers)
``t``          number of positive indices (lines)
``d``          ``r - t`` (dots)
``sector``     bitmask of the lines: bit i (0-based) set when ``a[i] > 0``
``missing``    number of lines of the target's sector absent from this integral's sector
``distance``   L1 distance to the target, sum of ``|a_i - T_i|``
``tube``       L1 distance to the straight path from the target's corner C to the target T
               (a float): ``min over 0 <= lam <= 1 of sum_i |a_i - C_i - lam (T_i - C_i)|``.
               The path is where a reduction of T travels down to its sector's masters; a
               *tube* rule keeps the seeds with a small ``tube`` (arXiv:2606.10698).  The
               function of ``lam`` is convex and piecewise linear, so the minimum lies at
               ``lam`` = 0, 1 or one of the kinks ``(a_i - C_i) / (T_i - C_i)`` inside [0, 1].
               A seed in a subsector lies at least its ``missing`` away; the target lies on it
=============  ==========================================================================

**Per-index features** (``seed.<name>(i)``, ``target.<name>(i)``, 0-based positions i; the
indices themselves are ``seed.a[i]``)

=============  ==========================================================================
``a``          the index a_i
``lines``      1 if ``a_i > 0`` else 0
``dots``       ``max(a_i - 1, 0)``: the dots on line i
``numerators`` ``max(-a_i, 0)``: the numerator power on position i
``offset``     ``a_i - T_i``: how far the seed is shifted from the target along position i
``removed``    1 when line i of the target's sector is absent from this integral's sector
=============  ==========================================================================

The target's own values are those of the same definitions applied to the target (so
``target.missing``, ``target.distance``, ``target.tube`` and ``target.offset(i)`` are 0).

**Display names** (formulas, GP terminals, distillation columns) are 1-based: ``a3`` is
``seed.a[2]``, ``dots3`` is ``seed.dots(2)``, ``a3_target`` is ``target.a[2]``, ``s_target`` is
``target.s`` and ``N`` is ``family.n``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ibp_evolve.language.ir import FLOAT, INT, Const, FamilySize, Feature, IndexCall

__all__ = [
    "Measure", "PerIndex", "MEASURES", "PER_INDEX", "MEASURE_NAMES", "PER_INDEX_NAMES",
    "SeedFeatures", "features_from_indices", "display_name", "parse_display_name",
    "feature_node", "suggest", "vocabulary_text", "MAX_INDICES", "MAX_INDEX_MAGNITUDE",
    "METHOD_NAMES", "measure_type", "spec", "all_display_names",
]

MAX_INDEX_MAGNITUDE = 2**31      # keeps r, s and friends far from int64 overflow
MAX_INDICES = 62                 # the sector bitmask is an int64


@dataclass(frozen=True)
class _Context:
    """What every feature may depend on besides the integral's indices."""
    target: np.ndarray            # (N,) int64
    isps: tuple

    @property
    def target_lines(self) -> np.ndarray:
        return self.target > 0

    @property
    def corner(self) -> np.ndarray:
        return self.target_lines.astype(np.int64)


@dataclass(frozen=True)
class Measure:
    """One number per integral; ``compute(a, context)`` maps indices (n, N) to (n,).
    ``nonnegative`` is a fact the printer's simplifier may use (``max(d, 0)`` is ``d``)."""
    name: str
    description: str
    compute: Callable
    type: str = INT
    nonnegative: bool = True


@dataclass(frozen=True)
class PerIndex:
    """One number per index position; ``compute(a, context)`` maps (n, N) to (n, N)."""
    name: str
    description: str
    compute: Callable
    type: str = INT
    nonnegative: bool = True


def _tube(a: np.ndarray, ctx: _Context) -> np.ndarray:
    u = (a - ctx.corner).astype(np.float64)                # (n, N): from the corner
    v = (ctx.target - ctx.corner).astype(np.float64)       # (N,): corner -> target
    moving = v != 0
    if not moving.any():                                   # the target is its own corner
        return np.abs(u).sum(axis=1)
    kinks = np.clip(u[:, moving] / v[moving], 0.0, 1.0)    # (n, k)
    lams = np.concatenate([np.zeros((len(a), 1)), np.ones((len(a), 1)), kinks], axis=1)
    best = np.full(len(a), np.inf)
    for j in range(lams.shape[1]):                         # <= N + 2 candidates, each O(n N)
        lam = lams[:, j:j + 1]
        best = np.minimum(best, np.abs(u - lam * v).sum(axis=1))
    return best


def _lines(a):
    return a > 0


MEASURES = (
    Measure("r", "sum of the positive indices",
            lambda a, ctx: np.where(a > 0, a, 0).sum(axis=1)),
    Measure("s", "minus the sum of the negative indices (numerator powers)",
            lambda a, ctx: -np.where(a < 0, a, 0).sum(axis=1)),
    Measure("t", "number of positive indices (lines)",
            lambda a, ctx: _lines(a).sum(axis=1, dtype=np.int64)),
    Measure("d", "r - t (dots)",
            lambda a, ctx: np.where(a > 0, a - 1, 0).sum(axis=1)),
    Measure("sector", "bitmask of the lines, bit i set when a[i] > 0",
            lambda a, ctx: (_lines(a).astype(np.int64)
                            << np.arange(a.shape[1], dtype=np.int64)).sum(axis=1)),
    Measure("missing", "lines of the target's sector absent from the seed's sector",
            lambda a, ctx: (ctx.target_lines & ~_lines(a)).sum(axis=1, dtype=np.int64)),
    Measure("distance", "L1 distance to the target, sum of |a[i] - target.a[i]|",
            lambda a, ctx: np.abs(a - ctx.target).sum(axis=1)),
    Measure("tube", "L1 distance to the straight path from the corner of the target's "
                    "sector (1 on its lines, 0 elsewhere) to the target (a float)",
            _tube, FLOAT),
)

PER_INDEX = (
    PerIndex("a", "the index a[i]", lambda a, ctx: a, nonnegative=False),
    PerIndex("lines", "1 if a[i] > 0 else 0", lambda a, ctx: _lines(a).astype(np.int64)),
    PerIndex("dots", "max(a[i] - 1, 0), the dots on line i",
             lambda a, ctx: np.maximum(a - 1, 0)),
    PerIndex("numerators", "max(-a[i], 0), the numerator power on position i",
             lambda a, ctx: np.maximum(-a, 0)),
    PerIndex("offset", "a[i] - target.a[i]", lambda a, ctx: a - ctx.target,
             nonnegative=False),
    PerIndex("removed", "1 when line i of the target's sector is absent from the seed's sector",
             lambda a, ctx: (ctx.target_lines & ~_lines(a)).astype(np.int64)),
)

_MEASURE = {m.name: m for m in MEASURES}
_PER_INDEX = {p.name: p for p in PER_INDEX}
MEASURE_NAMES = tuple(_MEASURE)
PER_INDEX_NAMES = tuple(_PER_INDEX)          # 'a' is subscripted, the others are methods
METHOD_NAMES = tuple(n for n in PER_INDEX_NAMES if n != "a")


def measure_type(name: str) -> str:
    """The type (``INT`` or ``FLOAT``) of the seed or target measure ``name`` (``r``, ``tube``)."""
    return _MEASURE[name].type


def spec(name: str):
    """The :class:`Measure` or :class:`PerIndex` of a rule-language name."""
    return _MEASURE.get(name) or _PER_INDEX[name]


# ----------------------------------------------------------------------------- evaluation

def _check_integral(target, isps, n_indices=None):
    target = tuple(int(x) for x in target)
    isps = tuple(int(p) for p in isps)
    n = len(target)
    if not 1 <= n <= MAX_INDICES:
        raise ValueError(f"a family needs between 1 and {MAX_INDICES} indices, got {n}")
    if n_indices is not None and n_indices != n:
        raise ValueError(f"seeds have {n_indices} indices but the target has {n}")
    if any(abs(x) > MAX_INDEX_MAGNITUDE for x in target):
        raise ValueError(f"target indices must be at most {MAX_INDEX_MAGNITUDE} in magnitude")
    if any(not 0 <= p < n for p in isps):
        raise ValueError(f"ISP positions {isps} must lie in [0, {n})")
    return target, isps


def _check_seeds(seeds, target, isps):
    a = np.asarray(seeds)
    if a.ndim != 2:
        raise ValueError(f"seeds must have shape (n_seeds, N), got {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"seed indices must be integers, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.int64)
    target, isps = _check_integral(target, isps, a.shape[1])
    if a.size and np.abs(a).max() > MAX_INDEX_MAGNITUDE:
        raise ValueError(f"seed indices must be at most {MAX_INDEX_MAGNITUDE} in magnitude")
    return a, target, isps


@dataclass(frozen=True, eq=False)
class SeedFeatures:
    """Candidate seeds of one target: their indices ``a`` (n_seeds, N), the target and the ISP
    positions.  Features are computed on first use and remembered: ``measure('r')`` (also
    ``.r``) is an array over the seeds, ``per_index('dots')`` an (n_seeds, N) array,
    ``target_measure('s')`` / ``target_per_index('a')`` the target's own values."""
    a: np.ndarray
    target: tuple
    isps: tuple
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_seeds(self) -> int:
        return self.a.shape[0]

    @property
    def n_indices(self) -> int:
        return self.a.shape[1]

    def _context(self) -> _Context:
        if "context" not in self._cache:
            self._cache["context"] = _Context(np.asarray(self.target, dtype=np.int64),
                                              self.isps)
        return self._cache["context"]

    def _get(self, key, spec, rows):
        if key not in self._cache:
            values = np.asarray(spec.compute(rows, self._context()))
            self._cache[key] = values.astype(np.float64 if spec.type == FLOAT else np.int64,
                                             copy=False)
        return self._cache[key]

    def measure(self, name: str) -> np.ndarray:
        return self._get(("seed", name), _MEASURE[name], self.a)

    def per_index(self, name: str) -> np.ndarray:
        return self._get(("seed[]", name), _PER_INDEX[name], self.a)

    def _target_row(self) -> np.ndarray:
        return self._context().target[None, :]

    def target_measure(self, name: str):
        value = self._get(("target", name), _MEASURE[name], self._target_row())[0]
        return float(value) if _MEASURE[name].type == FLOAT else int(value)

    def target_per_index(self, name: str) -> np.ndarray:
        return self._get(("target[]", name), _PER_INDEX[name], self._target_row())[0]

    @property
    def target_features(self) -> dict:
        """The target's measures by name."""
        return {name: self.target_measure(name) for name in MEASURE_NAMES}

    def __getattr__(self, name):
        # ``features.r`` etc. read the seeds' measures (only reached for non-fields)
        if name in _MEASURE:
            return self.measure(name)
        raise AttributeError(name)

    def __getstate__(self):
        return {"a": self.a, "target": self.target, "isps": self.isps}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_cache", {})


def features_from_indices(seeds, target, isps) -> SeedFeatures:
    """Features of candidate seeds ``seeds`` (int array, shape (n_seeds, N)) for ``target``."""
    a, target, isps = _check_seeds(seeds, target, isps)
    return SeedFeatures(a, target, isps)


# ----------------------------------------------------------------------------- names

_DISPLAY = re.compile(r"^([a-z_]+?)(\d+)?(_target)?$")


def display_name(owner: str, name: str, index: int | None = None) -> str:
    """The 1-based display name: ``('seed', 'a', 2)`` -> ``a3``, ``('target', 's')`` ->
    ``s_target``, ``('seed', 'dots', 0)`` -> ``dots1``, ``('family', 'n')`` -> ``N``."""
    if owner == "family":
        return "N"
    suffix = "_target" if owner == "target" else ""
    if index is None:
        return name + suffix
    return f"{name}{index + 1}{suffix}"


def parse_display_name(text: str, n_indices: int):
    """``(owner, name, 0-based index or None)`` of a display name; ValueError when the name is
    not in the vocabulary (the message suggests the closest one)."""
    if text == "N":
        return ("family", "n", None)
    m = _DISPLAY.match(text)
    if m:
        name, number, target = m.group(1), m.group(2), m.group(3)
        owner = "target" if target else "seed"
        if number is None and name in _MEASURE:
            return (owner, name, None)
        if number is not None and name in _PER_INDEX:
            if 1 <= int(number) <= n_indices:
                return (owner, name, int(number) - 1)
            suffix = target or ""
            raise ValueError(f"unknown feature '{text}' (positions are 1-based: "
                             f"{name}1{suffix}..{name}{n_indices}{suffix})")
    names = all_display_names(n_indices)
    raise ValueError(f"unknown feature '{text}'" + suggest(text, names))


def all_display_names(n_indices: int) -> list[str]:
    out = []
    for owner in ("seed", "target"):
        out += [display_name(owner, m) for m in MEASURE_NAMES]
        out += [display_name(owner, p, i) for p in PER_INDEX_NAMES for i in range(n_indices)]
    return out + ["N"]


def feature_node(text: str, n_indices: int):
    """The rule IR of a display name: ``a3`` -> ``seed.a[2]``, ``tube`` -> ``seed.tube``."""
    owner, name, index = parse_display_name(text, n_indices)
    if owner == "family":
        return FamilySize()
    if index is None:
        return Feature(owner, name, _MEASURE[name].type)
    return IndexCall(owner, name, Const(index, INT))


def suggest(name: str, candidates, prefix: str = "") -> str:
    """``"; did you mean 'x'?"`` for the closest candidate (shown with ``prefix``), or an empty
    string when none is close."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{prefix}{close[0]}'?" if close else ""


def vocabulary_text() -> str:
    """The vocabulary as plain lines (for prompts and help texts), rule-language names."""
    lines = [f"x.{m.name}: {m.description}" for m in MEASURES]
    lines.append("x.a[i]: the index a[i] (0-based positions)")
    lines += [f"x.{p.name}(i): {p.description}" for p in PER_INDEX if p.name != "a"]
    return "\n".join(lines)
