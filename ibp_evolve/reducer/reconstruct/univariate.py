"""One variable: Thiele's continued fraction over GF(p), with early termination, turned into a
reduced numerator/denominator pair.

f(t) = a0 + (t - t0) / (a1 + (t - t1) / (a2 + ...)) takes one sample per coefficient; once the
fraction *predicts* ``confirmations`` further samples in a row it is taken as complete (a wrong
early stop is caught later: every result is checked against exact reductions at fresh points).
The continued fraction walks the staircase of degrees (0,0), (1,0), (1,1), (2,1), ... so a
function of type (2, 0) comes out as (2, 1) with a common factor: :func:`to_fraction` cancels
it with a polynomial gcd.
"""

from __future__ import annotations


class Unlucky(ArithmeticError):
    """A sample set that cannot be trusted (an accidental zero mod p): draw fresh points."""


class SampleBudgetError(RuntimeError):
    """The samples allowed ran out before the entries ``pending`` were confirmed."""

    def __init__(self, message: str, pending: list[int] = ()):
        super().__init__(message)
        self.pending = list(pending)

    def __reduce__(self):  # keeps ``pending`` when a worker process sends it back
        return (SampleBudgetError, (str(self), self.pending))


class Thiele:
    """The continued fraction of one function, grown one sample at a time."""

    def __init__(self, p: int, confirmations: int = 2):
        self.p = p
        self.confirmations = confirmations
        self.points: list[int] = []
        self.coeffs: list[int] = []
        self.agreed = 0

    @property
    def done(self) -> bool:
        return self.agreed >= self.confirmations

    def value(self, t: int) -> int | None:
        """f(t) from the current fraction; None when t is a pole of it.  The fraction is
        folded as one numerator/denominator pair, so a single inversion per call."""
        p = self.p
        if not self.coeffs:
            return None
        num, den = self.coeffs[-1], 1
        for a, ti in zip(reversed(self.coeffs[:-1]), reversed(self.points[:-1])):
            num, den = (a * num + (t - ti) * den) % p, num
        if den == 0:
            return None
        return num * pow(den, -1, p) % p

    def add(self, t: int, f: int) -> None:
        p = self.p
        f %= p
        if self.coeffs and self.value(t) == f:
            self.agreed += 1
            return
        self.agreed = 0
        # the inverse differences r_{k+1} = (t - t_k)/(r_k - a_k), kept as num/den
        num, den = f, 1
        for a, ti in zip(self.coeffs, self.points):
            diff = (num - a * den) % p
            if diff == 0:
                return  # the inverse difference is infinite here: this t carries no news
            num, den = (t - ti) * den % p, diff
        self.coeffs.append(num * pow(den, -1, p) % p)
        self.points.append(t)

    def to_fraction(self) -> tuple[list[int], list[int]]:
        """(numerator, denominator) coefficient lists, lowest degree first, without common
        factors, the denominator's lowest non-zero coefficient equal to 1."""
        p = self.p
        num, den = [self.coeffs[-1]], [1]
        for a, ti in zip(reversed(self.coeffs[:-1]), reversed(self.points[:-1])):
            # a + (t - ti) * den/num  =  (a*num + (t - ti)*den) / num
            num, den = poly_add([x * a % p for x in num], poly_mul(den, [-ti % p, 1], p), p), num
        g = poly_gcd(num, den, p)
        if len(g) > 1:
            num, den = poly_divexact(num, g, p), poly_divexact(den, g, p)
        num, den = trim(num), trim(den)
        if not den:
            raise Unlucky("the continued fraction has a vanishing denominator")
        low = next(c for c in den if c)
        inv = pow(low, -1, p)
        return [c * inv % p for c in num], [c * inv % p for c in den]


def trim(a: list[int]) -> list[int]:
    a = list(a)
    while a and a[-1] == 0:
        a.pop()
    return a


def poly_add(a: list, b: list, p: int) -> list:
    out = [0] * max(len(a), len(b))
    for i, x in enumerate(a):
        out[i] = x
    for i, x in enumerate(b):
        out[i] = (out[i] + x) % p
    return out


def poly_mul(a: list, b: list, p: int) -> list:
    if not a or not b:
        return []
    out = [0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        if x:
            for j, y in enumerate(b):
                out[i + j] = (out[i + j] + x * y) % p
    return out


def poly_divmod(a: list, b: list, p: int) -> tuple[list, list]:
    a, b = trim(a), trim(b)
    if not b:
        raise ZeroDivisionError("polynomial division by zero")
    q = [0] * max(len(a) - len(b) + 1, 0)
    inv = pow(b[-1], -1, p)
    r = list(a)
    for k in range(len(a) - len(b), -1, -1):
        c = r[k + len(b) - 1] * inv % p
        q[k] = c
        if c:
            for j, y in enumerate(b):
                r[k + j] = (r[k + j] - c * y) % p
    return q, trim(r[:len(b) - 1])


def poly_divexact(a: list, b: list, p: int) -> list:
    q, r = poly_divmod(a, b, p)
    if r:
        raise Unlucky("a polynomial gcd did not divide exactly")
    return q


def poly_gcd(a: list, b: list, p: int) -> list:
    """Monic gcd of two polynomials mod p."""
    a, b = trim(a), trim(b)
    while b:
        a, b = b, poly_divmod(a, b, p)[1]
    if not a:
        return [1]
    inv = pow(a[-1], -1, p)
    return [c * inv % p for c in a]


def fit(sample, p: int, points, confirmations: int = 2) -> list[Thiele] | None:
    """One continued fraction per entry of ``sample(t)`` (a list of residues, or None at a
    degenerate t, which is skipped), fed point by point until every entry is confirmed or the
    points run out (then some are not ``done``); None when no point could be sampled."""
    entries = None
    for t in points:
        values = sample(t)
        if values is None:
            continue
        if entries is None:
            entries = [Thiele(p, confirmations) for _ in values]
        for e, f in zip(entries, values):
            if not e.done:
                e.add(t, f)
        if all(e.done for e in entries):
            break
    return entries


def interpolate(sample, p: int, points, n_entries: int | None = None,
                confirmations: int = 2) -> list[tuple[list[int], list[int]]]:
    """Each entry of a vector of rational functions of t, known through ``sample(t)`` (a list of
    residues, or None at a degenerate t, which is skipped), as (numerator, denominator).

    ``points`` yields the values of t (random, distinct); raises :class:`SampleBudgetError`
    naming the unconfirmed entries when it runs out first.
    """
    entries = fit(sample, p, points, confirmations)
    if entries is not None and all(e.done for e in entries):
        return [e.to_fraction() for e in entries]
    pending = list(range(n_entries or 0)) if entries is None else [
        i for i, e in enumerate(entries) if not e.done]
    raise SampleBudgetError("the sample budget ran out before every coefficient was confirmed",
                            pending)
