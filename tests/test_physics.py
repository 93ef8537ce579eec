"""The judge against closed-form results and known master counts (DESIGN.md §5)."""

from fractions import Fraction

import numpy as np
import pytest
import sympy

from ibp_evolve.reducer.exact import LaportaBox, reduce_exact
from ibp_evolve.reducer.family import load_family, parse_family
from ibp_evolve.reducer.masters import discover_masters, family_masters
from ibp_evolve.reducer.modular import PRIMES, random_point
from ibp_evolve.reducer.reduction import reduce_on_seeds
from ibp_evolve.reducer.seeding import laporta_seeds
from ibp_evolve.reducer.system import build_system

TRIANGLE_BOX_TARGET = (1, 1, 1, 1, 1, 1, -3)


def bubble_ratio(a1: int, a2: int, d: Fraction, s: Fraction) -> Fraction:
    """I(a1,a2)/I(1,1) from the Gamma-function formula of the massless bubble."""
    dd, ss = sympy.Symbol("d"), sympy.Symbol("s")
    g = sympy.gamma

    def integral(x, y):
        return (ss ** (dd / 2 - x - y) * g(dd / 2 - x) * g(dd / 2 - y) * g(x + y - dd / 2)
                / (g(x) * g(y) * g(dd - x - y)))

    ratio = sympy.gammasimp(sympy.powsimp(integral(a1, a2) / integral(1, 1), force=True))
    value = sympy.nsimplify(ratio.subs({dd: sympy.Rational(d.numerator, d.denominator),
                                        ss: sympy.Rational(s.numerator, s.denominator)}))
    return Fraction(int(value.p), int(value.q))


def coefficient(result, target_index=0):
    coeffs = result["targets"][target_index]["coefficients"]
    assert len(coeffs) <= 1
    return Fraction(coeffs[0]["value"]) if coeffs else Fraction(0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bubble_reduces_to_the_gamma_function_ratios(seed):
    rng = np.random.default_rng(seed)
    point = random_point(["d", "s"], rng)
    targets = [(2, 1), (1, 2), (2, 2), (3, 1), (3, 2), (4, 1), (2, 3)]
    result = reduce_exact(load_family("bubble"), targets, point)
    assert result["masters"] == [[1, 1]]
    for i, (a1, a2) in enumerate(targets):
        assert result["targets"][i]["reduced"]
        assert coefficient(result, i) == bubble_ratio(a1, a2, point["d"], point["s"])


def test_bubble_I21_is_3_minus_d_over_s_times_I11():
    result = reduce_exact(load_family("bubble"), [(2, 1)],
                          {"d": Fraction(17, 3), "s": Fraction(5, 7)})
    assert coefficient(result) == (3 - Fraction(17, 3)) / Fraction(5, 7) == Fraction(-56, 15)


def test_bubble_integrals_with_a_non_positive_index_vanish():
    result = reduce_exact(load_family("bubble"), [(0, 3), (2, -1)])
    for entry in result["targets"]:
        assert entry["reduced"] and entry["coefficients"] == []


def test_tadpole_ratio_up_to_I6():
    point = {"d": Fraction(13, 5), "msq": Fraction(-7, 11)}
    result = reduce_exact(load_family("tadpole"), [(a,) for a in range(2, 7)], point)
    previous = Fraction(1)
    for a, entry in zip(range(1, 6), result["targets"]):
        value = Fraction(entry["coefficients"][0]["value"])
        assert value / previous == (point["d"] / 2 - a) / (a * point["msq"])
        previous = value


def test_triangle_box_has_16_masters_with_the_shipped_preferred_masters(triangle_box):
    masters = family_masters(triangle_box)
    assert len(masters) == 16
    assert set(masters) == set(triangle_box.preferred_masters)


def test_triangle_box_masters_are_discovered_without_the_preferred_list(triangle_box):
    text = triangle_box.source
    start = text.index("preferred_masters")
    end = text.index("],\n]", start) + 4
    bare = parse_family(text[:start] + text[end:], origin="triangle_box without masters")
    assert not bare.preferred_masters
    found = discover_masters(bare)
    assert len(found) == 16
    assert set(found) == set(triangle_box.preferred_masters)


def test_triangle_box_target_reduces_with_laporta_seeds_r6_s3_on_two_primes(triangle_box):
    seeds = laporta_seeds(triangle_box, [TRIANGLE_BOX_TARGET], 6, 3)
    point = random_point(triangle_box.parameters, np.random.default_rng(7))
    masters = family_masters(triangle_box)
    rows = []
    for prime in PRIMES[:2]:
        system = build_system(triangle_box, seeds, point, prime)
        red = reduce_on_seeds(system, np.arange(len(seeds)), [TRIANGLE_BOX_TARGET], masters)
        assert red.complete, red.targets[0].survivors
        rows.append(red.targets[0].coefficients)
    # The same masters appear on both primes, and the coefficients are the same rationals:
    # reconstruct each from one prime is impossible, so compare via a third route, the exact
    # reduction, reduced modulo each prime.
    assert set(rows[0]) == set(rows[1])
    exact = reduce_exact(triangle_box, [TRIANGLE_BOX_TARGET], point, LaportaBox(6, 3))
    assert exact["targets"][0]["reduced"]
    for prime, row in zip(PRIMES[:2], rows):
        for c in exact["targets"][0]["coefficients"]:
            value = Fraction(c["value"])
            assert row[tuple(c["master"])] == value.numerator * pow(
                value.denominator, -1, prime) % prime


def test_improved_seeding_reduces_the_triangle_box_target_with_92_seeds(triangle_box):
    from ibp_evolve.reducer.sectors import measures
    box = laporta_seeds(triangle_box, [TRIANGLE_BOX_TARGET], 7, 4)
    m = measures(box)
    keep = np.flatnonzero((m["d"] == 0) & (m["s"] <= 3 - (6 - m["t"])))
    point = random_point(triangle_box.parameters, np.random.default_rng(3))
    system = build_system(triangle_box, box, point, PRIMES[0])
    red = reduce_on_seeds(system, keep, [TRIANGLE_BOX_TARGET], family_masters(triangle_box))
    assert (red.seeds, red.equations) == (92, 828)
    assert red.complete


@pytest.mark.parametrize("name, count", [("kite", 3), ("sunrise", 7), ("box", 3),
                                         ("bubble", 1), ("tadpole", 1)])
def test_master_counts_without_sector_symmetries(name, count):
    assert len(family_masters(load_family(name))) == count


def test_trimmed_equations_alone_give_the_same_coefficients(triangle_box):
    seeds = laporta_seeds(triangle_box, [TRIANGLE_BOX_TARGET], 6, 3)
    point = random_point(triangle_box.parameters, np.random.default_rng(11))
    system = build_system(triangle_box, seeds, point, PRIMES[0])
    masters = family_masters(triangle_box)
    full = reduce_on_seeds(system, np.arange(len(seeds)), [TRIANGLE_BOX_TARGET], masters)
    needed_seeds = np.unique(system.seed_of_equation(full.solution.trimmed_equations))
    trimmed = reduce_on_seeds(system, needed_seeds, [TRIANGLE_BOX_TARGET], masters)
    assert trimmed.complete
    assert trimmed.targets[0].coefficients == full.targets[0].coefficients
    assert full.trimmed_equations < full.equations


@pytest.mark.slow
def test_double_box_masters_are_found():
    # 8 with sector symmetries; without them the judge finds 12 (copies of symmetric masters)
    masters = family_masters(load_family("double_box"))
    assert len(masters) == 12
