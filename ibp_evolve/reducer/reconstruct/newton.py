"""Dense Newton interpolation of a polynomial mod p on a tensor grid, one variable at a time."""

from __future__ import annotations

from itertools import product


def newton_1d(xs: list[int], ys: list[int], p: int) -> list[int]:
    """Coefficients (lowest degree first) of the polynomial of degree < len(xs) through the
    points (xs[i], ys[i]): divided differences, then the Newton form expanded."""
    n = len(xs)
    c = [y % p for y in ys]
    for j in range(1, n):
        for i in range(n - 1, j - 1, -1):
            c[i] = (c[i] - c[i - 1]) * pow((xs[i] - xs[i - j]) % p, -1, p) % p
    # Horner on the Newton form: P = c0 + (x - x0)(c1 + (x - x1)(c2 + ...))
    out = [c[-1]]
    for k in range(n - 2, -1, -1):
        shifted = [0] + out  # x * out
        for i, v in enumerate(out):
            shifted[i] = (shifted[i] - xs[k] * v) % p
        shifted[0] = (shifted[0] + c[k]) % p
        out = shifted
    return out


def grid_points(axes: list[list[int]]):
    """Every grid index tuple and its point, in a fixed order."""
    for index in product(*(range(len(a)) for a in axes)):
        yield index, [a[i] for a, i in zip(axes, index)]


def interpolate_grid(axes: list[list[int]], values: dict, p: int) -> dict:
    """The polynomial {exponents: coefficient} whose degree in variable i is below len(axes[i])
    and which takes ``values[index]`` at the grid point of each index tuple."""
    data = dict(values)
    for var, xs in enumerate(axes):
        groups: dict = {}
        for key, v in data.items():
            groups.setdefault(key[:var] + key[var + 1:], {})[key[var]] = v
        data = {}
        for rest, by_index in groups.items():
            coeffs = newton_1d(xs, [by_index[i] for i in range(len(xs))], p)
            for k, c in enumerate(coeffs):
                if c:
                    data[rest[:var] + (k,) + rest[var:]] = c
    return data
