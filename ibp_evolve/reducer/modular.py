"""Modular (prime-field) arithmetic helpers and rational reconstruction.

IBP reductions are run over prime fields Z/pZ with p < 2^31 (so products of
two residues fit in a signed 64-bit integer).  Exact rational results are
recovered by combining residues for several primes with the Chinese remainder
theorem and applying rational reconstruction (Wang's algorithm).

Typical use::

    rec = Reconstructor()
    for p in PRIMES:
        try:
            residues = reduce_mod(point, p)      # caller's code
        except PoleError:
            continue                             # bad prime for this point
        rec.add(p, residues)
        if rec.result() is not None:
            break
    coefficients = rec.result()

This module is plain Python (numpy arrays are accepted but numpy is not
imported at module load, keeping ``import ibp_evolve.reducer.modular`` cheap).
"""

from __future__ import annotations

import math
import numbers
import re
from fractions import Fraction
from typing import Callable, Iterable, Mapping, Sequence

__all__ = [
    "PRIMES",
    "primes",
    "PoleError",
    "PointParseError",
    "to_mod",
    "mod_inverse",
    "crt",
    "rational_reconstruct",
    "Reconstructor",
    "reconstruct_with",
    "as_fraction",
    "parse_point",
    "random_point",
    "format_fraction",
    "format_point",
]

# ---------------------------------------------------------------------------
# Primes
# ---------------------------------------------------------------------------

#: The 48 largest primes below 2^31, largest first.  Generated once with
#: ``p = 2**31; p = sympy.prevprime(p)`` repeated; hard-coded to keep imports
#: fast (verified by tests/test_modular.py with ``sympy.isprime``).
PRIMES: tuple[int, ...] = (
    2147483647, 2147483629, 2147483587, 2147483579, 2147483563, 2147483549,
    2147483543, 2147483497, 2147483489, 2147483477, 2147483423, 2147483399,
    2147483353, 2147483323, 2147483269, 2147483249, 2147483237, 2147483179,
    2147483171, 2147483137, 2147483123, 2147483077, 2147483069, 2147483059,
    2147483053, 2147483033, 2147483029, 2147482951, 2147482949, 2147482943,
    2147482937, 2147482921, 2147482877, 2147482873, 2147482867, 2147482859,
    2147482819, 2147482817, 2147482811, 2147482801, 2147482763, 2147482739,
    2147482697, 2147482693, 2147482681, 2147482663, 2147482661, 2147482621,
)


def is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for n < 3,215,031,751 (bases 2, 3, 5, 7 suffice)."""
    if n < 2:
        return False
    for q in (2, 3, 5, 7):
        if n % q == 0:
            return n == q
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in (2, 3, 5, 7):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


_MORE_PRIMES: list[int] = []


def primes(count: int) -> tuple[int, ...]:
    """The ``count`` largest primes below 2^31, largest first: :data:`PRIMES`, continued
    downwards on demand.  Exact results with large numerators and denominators (the SAILIR
    integrals at a point with three-digit denominators) need more than 48 primes."""
    while len(PRIMES) + len(_MORE_PRIMES) < count:
        n = (_MORE_PRIMES[-1] if _MORE_PRIMES else PRIMES[-1]) - 2
        while not is_prime(n):
            n -= 2
        _MORE_PRIMES.append(n)
    return (PRIMES + tuple(_MORE_PRIMES))[:count]


def primes_from(first: int, count: int):
    """``primes(count)[first:]`` one at a time, each searched for only when asked: a loop that
    stops after two or three primes (an exact value at a point) never tests thousands of odd
    numbers for the hundreds it allows."""
    for k in range(first, count):
        yield primes(k + 1)[k]


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class PoleError(ZeroDivisionError, ValueError):
    """A denominator vanishes modulo the prime (the value has a pole mod p).

    Subclasses both ``ZeroDivisionError`` and ``ValueError`` so callers can
    catch it under either name.  Usually the remedy is to skip this prime.
    """


class PointParseError(ValueError):
    """Malformed kinematic-point specification (see :func:`parse_point`)."""


# ---------------------------------------------------------------------------
# Scalar helpers
# ---------------------------------------------------------------------------

def as_fraction(x) -> Fraction:
    """Convert an int / Fraction / rational string to an exact ``Fraction``.

    Strings may be integers, ``"p/q"`` or decimals (``"0.25"``, ``"1e-3"``).
    Floats are rejected on purpose (they are rarely the intended exact value);
    pass ``str(x)`` or a ``Fraction`` instead.
    """
    if isinstance(x, Fraction):
        return x
    if isinstance(x, bool):
        return Fraction(int(x))
    if isinstance(x, numbers.Integral):
        return Fraction(int(x))
    if isinstance(x, numbers.Rational):
        return Fraction(int(x.numerator), int(x.denominator))
    if isinstance(x, str):
        try:
            return _parse_number(x)
        except ValueError:
            raise ValueError(f"cannot interpret {x!r} as a rational number") from None
    if isinstance(x, numbers.Real):
        raise TypeError(
            f"refusing inexact float {x!r}; pass a Fraction, int or string instead"
        )
    raise TypeError(f"cannot interpret {type(x).__name__} {x!r} as a rational number")


def to_mod(x, p: int) -> int:
    """Residue of the rational ``x`` modulo the prime ``p``, in ``[0, p)``.

    ``x`` may be an int (including numpy integers), a ``Fraction`` (or other
    ``numbers.Rational``) or a string such as ``"-17/3"`` / ``"0.25"``.
    Raises :class:`PoleError` if the denominator is divisible by ``p``.
    """
    p = int(p)
    if p < 2:
        raise ValueError(f"modulus must be >= 2, got {p}")
    if isinstance(x, numbers.Integral) and not isinstance(x, bool):
        return int(x) % p
    fr = as_fraction(x)
    den = fr.denominator % p
    if den == 0:
        raise PoleError(f"denominator of {format_fraction(fr)} vanishes modulo {p}")
    return fr.numerator * pow(den, -1, p) % p


def mod_inverse(x, p: int) -> int:
    """Inverse of ``x`` modulo ``p`` (``x`` may be any rational accepted by
    :func:`to_mod`).  Raises :class:`PoleError` if ``x ≡ 0 (mod p)``."""
    p = int(p)
    r = to_mod(x, p)
    if r == 0:
        raise PoleError(f"{x!r} is not invertible modulo {p} (it is 0 mod p)")
    try:
        return pow(r, -1, p)
    except ValueError:  # non-prime modulus sharing a factor with r
        raise PoleError(f"{x!r} is not invertible modulo {p}") from None


def crt(residues: Sequence[int], moduli: Sequence[int]) -> tuple[int, int]:
    """Chinese remaindering for pairwise coprime moduli.

    Returns ``(value, modulus)`` with ``0 <= value < modulus`` and
    ``modulus = prod(moduli)``; ``value ≡ residues[i] (mod moduli[i])``.
    Arbitrary-size Python ints are supported.  ``crt([], [])`` is ``(0, 1)``.
    """
    residues = [int(r) for r in residues]
    moduli = [int(m) for m in moduli]
    if len(residues) != len(moduli):
        raise ValueError(
            f"crt: got {len(residues)} residues but {len(moduli)} moduli"
        )
    value, modulus = 0, 1
    for r, m in zip(residues, moduli):
        if m < 1:
            raise ValueError(f"crt: moduli must be positive, got {m}")
        value, modulus = _crt_pair(value, modulus, r, m)
    return value, modulus


def _crt_pair(a: int, m: int, b: int, n: int) -> tuple[int, int]:
    """Combine x ≡ a (mod m) and x ≡ b (mod n) for coprime m, n."""
    if math.gcd(m, n) != 1:
        raise ValueError(f"crt: moduli {m} and {n} are not coprime")
    # x = a + m * t,  t ≡ (b - a) * m^{-1}  (mod n)
    t = (b - a) * pow(m % n, -1, n) % n if n > 1 else 0
    mn = m * n
    return (a + m * t) % mn, mn


def rational_reconstruct(a: int, m: int) -> Fraction | None:
    """Wang's rational reconstruction.

    Find ``n/d`` with ``n ≡ a*d (mod m)``, ``|n|, |d| <= sqrt(m/2)``,
    ``gcd(n, d) == 1``.  Returns the ``Fraction`` or ``None`` if none exists
    (such a fraction, when it exists, is unique).
    """
    m = int(m)
    if m < 1:
        raise ValueError(f"modulus must be positive, got {m}")
    a = int(a) % m
    bound = math.isqrt(m // 2)  # == floor(sqrt(m/2))
    r0, r1 = m, a
    t0, t1 = 0, 1
    while r1 > bound:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        t0, t1 = t1, t0 - q * t1
    if t1 == 0 or abs(t1) > bound or math.gcd(r1, abs(t1)) != 1:
        return None
    if t1 < 0:
        r1, t1 = -r1, -t1
    return Fraction(r1, t1)


# ---------------------------------------------------------------------------
# Multi-prime reconstruction of vectors
# ---------------------------------------------------------------------------

def _as_int_list(residues) -> list[int]:
    ndim = getattr(residues, "ndim", None)
    if ndim is not None and ndim != 1:
        raise ValueError(f"residues must be one-dimensional, got ndim={ndim}")
    if hasattr(residues, "tolist"):
        residues = residues.tolist()
    out = []
    for r in residues:
        if isinstance(r, bool) or not isinstance(r, numbers.Integral):
            raise TypeError(f"residues must be integers, got {type(r).__name__} {r!r}")
        out.append(int(r))
    return out


class Reconstructor:
    """Incrementally reconstruct a vector of rationals from its images mod primes.

    Call :meth:`add` with one prime and the residue vector for that prime at a
    time.  Every entry keeps a candidate fraction obtained by rational
    reconstruction from the primes seen so far; an entry is *stable* once the
    candidate from primes ``1..k`` agrees with the residue for prime ``k+1``
    (and it becomes unstable again should a later prime disagree).
    :meth:`result` returns the list of fractions once every entry is stable,
    otherwise ``None``.  Hence at least two primes are always required.
    """

    def __init__(self, size: int | None = None):
        self._size = size
        self._primes: list[int] = []
        self._modulus = 1
        self._values: list[int] = []           # CRT images mod self._modulus
        self._cands: list[Fraction | None] = []  # reconstruction from primes so far
        self._stable: list[bool] = []

    # -- properties -------------------------------------------------------
    @property
    def primes(self) -> tuple[int, ...]:
        """Primes added so far, in order."""
        return tuple(self._primes)

    @property
    def modulus(self) -> int:
        """Product of the primes added so far."""
        return self._modulus

    @property
    def size(self) -> int | None:
        """Length of the residue vectors (``None`` before the first add)."""
        return self._size

    @property
    def n_unstable(self) -> int:
        """Number of entries not yet verified (all of them before any add)."""
        if not self._primes:
            return self._size or 0
        return len(self._stable) - sum(self._stable)

    def __len__(self) -> int:
        return len(self._primes)

    def __repr__(self) -> str:
        return (f"Reconstructor(size={self._size}, primes={len(self._primes)}, "
                f"unstable={self.n_unstable})")

    # -- main API ---------------------------------------------------------
    def add(self, prime: int, residues) -> None:
        """Add the residue vector for ``prime`` (numpy int array or list of ints).

        Residues are reduced into ``[0, prime)``.  The prime must not have been
        added before, and the vector length must match earlier calls.
        """
        p = int(prime)
        if p < 2:
            raise ValueError(f"prime must be >= 2, got {p}")
        if p in self._primes:
            raise ValueError(f"prime {p} was already added")
        vals = [r % p for r in _as_int_list(residues)]
        if self._size is None:
            self._size = len(vals)
        elif len(vals) != self._size:
            raise ValueError(
                f"residue vector has length {len(vals)}, expected {self._size}"
            )
        if math.gcd(self._modulus, p) != 1:
            raise ValueError(f"prime {p} is not coprime to the previous primes")

        if not self._primes:
            self._primes.append(p)
            self._modulus = p
            self._values = vals
            self._cands = [rational_reconstruct(v, p) for v in vals]
            self._stable = [False] * len(vals)
            return

        M = self._modulus
        inv = pow(M % p, -1, p)
        newM = M * p
        values, cands, stable = self._values, self._cands, self._stable
        for i, r in enumerate(vals):
            old = values[i]
            new = old + M * ((r - old) * inv % p)  # already in [0, M*p)
            values[i] = new
            c = cands[i]
            ok = False
            if c is not None:
                den = c.denominator % p
                ok = den != 0 and c.numerator * pow(den, -1, p) % p == r
            if ok:
                stable[i] = True
            else:
                stable[i] = False
                cands[i] = rational_reconstruct(new, newM)
        self._primes.append(p)
        self._modulus = newM

    def result(self) -> list[Fraction] | None:
        """Fractions for all entries if every entry is stable, else ``None``."""
        if not self._primes or not all(self._stable):
            return None
        return list(self._cands)  # type: ignore[arg-type]

    def partial(self) -> list[Fraction | None]:
        """Current per-entry values: the fraction for stable entries, else None."""
        return [c if s else None for c, s in zip(self._cands, self._stable)]


def reconstruct_with(
    func: Callable[[int], object],
    primes: Iterable[int] = PRIMES,
    max_primes: int | None = None,
) -> list[Fraction]:
    """Drive a :class:`Reconstructor` over ``primes``.

    ``func(p)`` must return the residue vector for prime ``p``; primes for
    which it raises :class:`PoleError` are skipped.  Stops as soon as the
    reconstruction is stable.  Raises ``RuntimeError`` if the primes (or
    ``max_primes`` successful primes) run out first.
    """
    rec = Reconstructor()
    for p in primes:
        if max_primes is not None and len(rec) >= max_primes:
            break
        try:
            res = func(p)
        except PoleError:
            continue
        rec.add(p, res)
        out = rec.result()
        if out is not None:
            return out
    raise RuntimeError(
        f"rational reconstruction not stable after {len(rec)} primes "
        f"({rec.n_unstable} unstable entries)"
    )


# ---------------------------------------------------------------------------
# Points: parsing, random generation, formatting
# ---------------------------------------------------------------------------

_DEC = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(rf"^\s*({_DEC})\s*(?:/\s*({_DEC})\s*)?$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*$")


def _parse_number(s: str) -> Fraction:
    m = _NUMBER_RE.match(s)
    if not m:
        raise ValueError(f"malformed number {s!r}")
    num = Fraction(m.group(1))
    if m.group(2) is None:
        return num
    den = Fraction(m.group(2))
    if den == 0:
        raise ValueError(f"zero denominator in {s!r}")
    return num / den


def parse_point(text: str, symbols: Iterable) -> dict:
    """Parse ``"d=17/3, s=5/7"`` into ``{symbol: Fraction}``.

    Entries are comma-separated ``name=value`` pairs; whitespace is allowed
    around names, ``=``, ``/`` and commas.  Values are exact arithmetic on
    numbers read by the grammar of :mod:`ibp_evolve.reducer.expressions`:
    integers, fractions ``p/q``, negative numbers, decimals (``0.25`` → ``1/4``)
    and bounded powers (``2^10``); nothing is evaluated, and sizes are capped
    (``9^9^9^9`` or ``factorial(10^9)`` are one-line errors, not hangs).
    ``symbols`` lists the expected symbols (strings or objects whose ``str``
    is the name, e.g. sympy Symbols); the returned dict is keyed by those
    objects, in the order given.  Every symbol must be assigned exactly once.

    Raises :class:`PointParseError` (a ``ValueError``) naming the offending
    piece for malformed entries or numbers, unknown symbols, duplicates, and
    listing any missing symbols.
    """
    if not isinstance(text, str):
        raise TypeError(f"point must be a string, got {type(text).__name__}")
    # sympy behind the grammar: imported here so that importing this module stays cheap
    from ibp_evolve.reducer.expressions import MAX_LENGTH, ExpressionError, clip, parse_number

    if len(text) > MAX_LENGTH:
        raise PointParseError(f"point of {len(text)} characters exceeds the cap of "
                              f"{MAX_LENGTH} (MAX_LENGTH)")
    syms = list(symbols)
    by_name = {}
    for s in syms:
        name = str(s)
        if name in by_name:
            raise ValueError(f"symbol {name!r} listed twice in symbols")
        by_name[name] = s

    values: dict[str, Fraction] = {}
    if text.strip():
        for piece in text.split(","):
            entry = piece.strip()
            if not entry:
                raise PointParseError(f"empty entry in point {text!r}")
            if entry.count("=") != 1:
                raise PointParseError(
                    f"expected 'name=value', got {entry!r} in point {text!r}"
                )
            name, _, value = entry.partition("=")
            name, value = name.strip(), value.strip()
            if not _NAME_RE.match(name):
                raise PointParseError(f"malformed symbol name {name!r} in {entry!r}")
            if name not in by_name:
                expected = ", ".join(by_name) or "(none)"
                raise PointParseError(
                    f"unknown symbol {name!r} in {entry!r}; expected one of: {expected}"
                )
            if name in values:
                raise PointParseError(f"duplicate value for symbol {name!r} in {entry!r}")
            try:
                values[name] = parse_number(value)
            except ExpressionError as exc:
                raise PointParseError(
                    f"malformed number {clip(value, 40)!r} for symbol {name!r} ({exc})"
                ) from None

    missing = [n for n in by_name if n not in values]
    if missing:
        raise PointParseError(
            f"missing values for symbols: {', '.join(missing)} (point {text!r})"
        )
    return {by_name[n]: values[n] for n in by_name}


def random_point(symbols: Iterable, rng=None, max_value: int = 1000) -> dict:
    """Random nonzero rationals ``±a/b`` with ``1 <= a, b <= max_value``.

    ``rng`` is a ``numpy.random.Generator`` (or an int seed); results are
    deterministic for a given generator state.  Keys are the given symbols.
    """
    if rng is None or isinstance(rng, numbers.Integral):
        import numpy as np

        rng = np.random.default_rng(rng)
    out = {}
    for s in symbols:
        num = int(rng.integers(1, max_value + 1))
        den = int(rng.integers(1, max_value + 1))
        if rng.integers(0, 2):
            num = -num
        out[s] = Fraction(num, den)
    return out


def format_fraction(fr) -> str:
    """``"p/q"`` (or ``"p"`` for integers), e.g. ``"-17/3"``."""
    fr = as_fraction(fr)
    if fr.denominator == 1:
        return str(fr.numerator)
    return f"{fr.numerator}/{fr.denominator}"


def format_point(point: Mapping) -> str:
    """Inverse of :func:`parse_point`: ``{d: 17/3, s: 5/7}`` → ``"d=17/3,s=5/7"``."""
    return ",".join(f"{k}={format_fraction(v)}" for k, v in point.items())
