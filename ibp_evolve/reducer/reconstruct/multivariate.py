"""All coefficients as rational functions of n variables over one prime field.

One variable: Thiele in x itself.  Several (FiniteFlow's and FireFly's recipe, dense version):

1. *Shift and rays.*  With a random shift s and a direction z = (1, z_2, ..., z_n), the function
   f(t z + s) = N(t z + s)/D(t z + s) is univariate in t.  Normalised so that its denominator
   is 1 at t = 0 (dividing by the constant D(s), the same for every z), the coefficient of t^k
   in the numerator (denominator) is a polynomial in z, homogeneous of degree k.  The first ray
   (early termination) gives the total degrees.
2. *Degree scan.*  One line per variable x_i (others fixed) bounds the degree in x_i.
3. *Grid.*  Rays through a tensor grid of (z_2, ..., z_n), each coefficient of t^k interpolated
   by Newton on the grid, made homogeneous again with z_1, summed over k: that is N(y + s)/D(s).
4. *Unshift* (y = x - s) and normalise: the lowest-degree denominator term is 1.

A ray whose degrees exceed the first ray's, or whose denominator vanishes at t = 0 (the shift
hit a pole), raises :class:`Unlucky`; the caller draws fresh random numbers.
"""

from __future__ import annotations

from typing import Callable

from ibp_evolve.reducer.reconstruct.newton import grid_points, interpolate_grid
from ibp_evolve.reducer.reconstruct.polynomials import canonical_monomial, scale_mod, shift_mod
from ibp_evolve.reducer.reconstruct.univariate import SampleBudgetError, Unlucky, interpolate

Fraction_ = tuple[dict, dict]  # (numerator, denominator) polynomials


class AllDegenerate(ArithmeticError):
    """Every sample so far broke the learned elimination: the fixed values are special."""


ALL_DEGENERATE_AFTER = 40


class Sampler:
    """Counts the samples of ``f(x) -> residues | None`` and stops when the budget is spent."""

    def __init__(self, f: Callable, p: int, rng, budget: int,
                 progress: Callable[[str], None] | None = None):
        self.f, self.p, self.rng, self.budget = f, p, rng, budget
        self.samples = 0
        self.degenerate = 0
        self.progress = progress

    def __call__(self, x: list[int]):
        if self.samples >= self.budget:
            return None
        self.samples += 1
        values = self.f([v % self.p for v in x])
        if values is None:
            self.degenerate += 1
            if self.degenerate == self.samples >= ALL_DEGENERATE_AFTER:
                raise AllDegenerate(f"{self.samples} degenerate samples in a row")
        if self.progress and self.samples % 200 == 0:
            self.progress(f"{self.samples} samples")
        return values

    def random(self) -> int:
        return int(self.rng.integers(1, self.p))

    def points(self):
        """Random values of one variable, until the sample budget is spent."""
        while self.samples < self.budget:
            yield self.random()


def _as_dict(coeffs: list[int], n: int, var: int = 0) -> dict:
    return {tuple(k if i == var else 0 for i in range(n)): c for k, c in enumerate(coeffs) if c}


def trace_ray(sampler: Sampler, z: list[int], shift: list[int], confirmations: int):
    """f(t z + shift) as (numerator, denominator) in t per entry, denominator 1 at t = 0."""
    p = sampler.p
    found = interpolate(lambda t: sampler([t * zi + si for zi, si in zip(z, shift)]), p,
                        sampler.points(), confirmations=confirmations)
    if any(len(den) == 0 or den[0] != 1 for _, den in found):
        raise Unlucky("the shift hit a zero of a denominator")
    return found


def reconstruct_mod_p(sampler: Sampler, n: int, on_degrees: Callable | None = None,
                      rays: Callable | None = None) -> list[Fraction_]:
    """Every entry of ``sampler``'s vector as (numerator, denominator) mod p, in n variables,
    normalised so that the denominator's canonical (lowest-degree) monomial is 1.

    ``rays(directions, shift)`` traces the grid's rays (confirmations 1), e.g. on a process
    pool (:mod:`.parallel`); by default one after the other with ``sampler``."""
    p = sampler.p
    if n == 0:  # every symbol fixed (e.g. the only one replaced by 1): constants
        for _ in sampler.points():
            values = sampler([])
            if values is not None:
                return [({(): v % p}, {(): 1}) if v % p else ({}, {(): 1}) for v in values]
        raise SampleBudgetError("the sample budget ran out on degenerate samples", [])
    if n == 1:
        found = interpolate(lambda t: sampler([t]), p, sampler.points())
        return [(_as_dict(num, 1), _as_dict(den, 1)) for num, den in found]

    shift = [sampler.random() for _ in range(n)]

    first = trace_ray(sampler, [1] + [sampler.random() for _ in range(n - 1)], shift, 2)
    total = max(max(len(num), len(den)) - 1 for num, den in first)
    bounds = []
    for var in range(1, n):  # degree scan: x_var on a line, the others fixed
        fixed = [sampler.random() for _ in range(n)]

        def line(t, var=var, fixed=fixed):
            return sampler(fixed[:var] + [t] + fixed[var + 1:])
        scan = interpolate(line, p, sampler.points())
        bounds.append(min(total, max(max(len(num), len(den)) - 1 for num, den in scan)))
    if on_degrees:
        on_degrees(total, bounds)

    axes = []
    for b in bounds:
        axis: list[int] = []
        while len(axis) < b + 1:
            v = sampler.random()
            if v not in axis:
                axis.append(v)
        axes.append(axis)
    # values[(entry, part, k)][grid index] = coefficient of t^k at that ray
    values: dict = {}
    grid = list(grid_points(axes))
    directions = [[1] + z_rest for _, z_rest in grid]
    traced = (rays(directions, shift) if rays is not None else
              [trace_ray(sampler, z, shift, 1) for z in directions])
    for (index, _), found in zip(grid, traced):
        for e, ((num, den), (num0, den0)) in enumerate(zip(found, first)):
            if len(num) > max(len(num0), 1) or len(den) > len(den0):
                raise Unlucky("a ray found higher degrees than the first one")
            for part, coeffs, size in ((0, num, len(num0)), (1, den, len(den0))):
                for k in range(size):
                    values.setdefault((e, part, k), {})[index] = coeffs[k] if k < len(
                        coeffs) else 0

    out = []
    for e, (num0, den0) in enumerate(first):
        parts = []
        for part, size in ((0, len(num0)), (1, len(den0))):
            homogeneous: dict = {}
            for k in range(size):
                for exps, c in interpolate_grid(axes, values[(e, part, k)], p).items():
                    if sum(exps) > k:
                        raise Unlucky("a coefficient of t^k has degree above k")
                    key = (k - sum(exps),) + exps
                    homogeneous[key] = (homogeneous.get(key, 0) + c) % p
            parts.append(shift_mod({k: v for k, v in homogeneous.items() if v},
                                   [-s for s in shift], p))
        num, den = parts
        if not den:
            raise Unlucky("the denominator vanished")
        inv = pow(den[canonical_monomial(den)], -1, p)
        out.append((scale_mod(num, inv, p), scale_mod(den, inv, p)))
    return out
