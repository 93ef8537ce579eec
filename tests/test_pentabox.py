"""The two-loop planar pentabox: five massless on-shell legs, 61 master integrals with sector
symmetries (Gehrmann, Henn, Lo Presti, arXiv:1511.05409; Papadopoulos, Tommasini, Wever,
arXiv:1511.09404), three of them in the eight-line top sector."""

import pytest
import sympy

from ibp_evolve.reducer.family import load_family
from ibp_evolve.reducer.masters import discover_masters, family_masters
from ibp_evolve.reducer.sectors import top_sector


@pytest.fixture(scope="module")
def pentabox():
    return load_family("pentabox")


def square(family, coefficients):
    """(sum_e c_e p_e)^2 from the family's kinematics."""
    n = family.n_external
    return sympy.expand(sum(coefficients[e] * coefficients[f] * family.kinematic_product(e, f)
                            for e in range(n) for f in range(n)))


def test_pentabox_legs_are_on_shell_and_the_invariants_are_the_cyclic_s_ij(pentabox):
    s12, s23, s34, s45, s51 = sympy.symbols("s12 s23 s34 s45 s51")
    assert pentabox.n == 11 and len(pentabox.line_positions) == 8 and pentabox.n_loops == 2
    assert all(square(pentabox, [int(e == i) for e in range(4)]) == 0 for i in range(4))
    assert square(pentabox, [1, 1, 1, 1]) == 0  # p5 = -(p1+p2+p3+p4) is massless too
    assert square(pentabox, [1, 1, 0, 0]) == s12
    assert square(pentabox, [0, 1, 1, 0]) == s23
    assert square(pentabox, [0, 0, 1, 1]) == s34
    assert square(pentabox, [1, 1, 1, 0]) == s45  # (p4+p5)^2
    assert square(pentabox, [0, 1, 1, 1]) == s51  # (p5+p1)^2


def test_pentabox_top_sector_has_three_masters(pentabox):
    # the scalar pentabox and two with one irreducible numerator
    masters = discover_masters(pentabox, sectors=[top_sector(pentabox)], symmetries=True)
    assert len(masters) == 3
    assert all(m[:8] == (1,) * 8 for m in masters)
    assert sorted(sum(-x for x in m[8:]) for m in masters) == [0, 1, 1]


@pytest.mark.slow
def test_pentabox_has_61_masters_with_symmetries(pentabox):
    assert len(family_masters(pentabox, symmetries=True)) == 61
