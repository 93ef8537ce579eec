"""Master counts without IBP: critical points of the Lee-Pomeransky polynomial G = U + F
(arXiv:1308.6676, 1712.09215) agree with elimination, and a wrong basis is caught."""

from collections import Counter

import pytest

from ibp_evolve.reducer.critical_points import _standard_monomials, masters_per_sector
from ibp_evolve.reducer.family import FamilyError, load_family
from ibp_evolve.reducer.masters import check_master_counts, discover_masters
from ibp_evolve.reducer.sectors import sector_of


def test_standard_monomials_of_x_squared_and_y_cubed_are_six():
    assert _standard_monomials(((2, 0), (0, 3)), 2) == 6
    assert _standard_monomials(((1, 1),), 2) is None  # x*y = 0 has a line of solutions
    assert _standard_monomials(((0, 0),), 2) == 0  # the ideal is everything: no solution


def test_massless_box_has_one_master_per_sector_box_and_two_bubbles():
    counts = {s: n for s, n in masters_per_sector(load_family("box"), 4).items() if n}
    assert counts == {0b1111: 1, 0b0101: 1, 0b1010: 1}  # the box, the s and t bubbles


def test_equal_mass_sunrise_counts_seven_without_symmetries_four_in_the_top_sector():
    counts = masters_per_sector(load_family("sunrise"), 3)
    assert sum(counts.values()) == 7 and counts[0b111] == 4


def test_counts_agree_with_elimination_on_the_double_box_sectors_up_to_five_lines():
    family = load_family("double_box")
    counts = masters_per_sector(family, 5)
    found = Counter(sector_of(m) for m in discover_masters(family))
    assert {s: n for s, n in counts.items() if n} == {
        s: n for s, n in found.items() if bin(s).count("1") <= 5}


def test_a_basis_missing_a_master_names_the_sector():
    kite = load_family("kite")
    masters = discover_masters(kite)
    check_master_counts(kite, masters)
    with pytest.raises(FamilyError, match=r"sector \d+ \(.*\): elimination found 0 masters, "
                                          r"the critical points .* count 1"):
        check_master_counts(kite, masters[:1])
