"""Sector symmetries: mirror sectors are one integral, self-mappings relate a sector's own
integrals, and master counts reach the literature values once the relations are in the system."""

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
import sympy

from ibp_evolve.reducer.family import FamilyError, load_family, parse_family
from ibp_evolve.reducer.masters import discover_masters, family_masters
from ibp_evolve.reducer.modular import PRIMES, random_point
from ibp_evolve.reducer.reduction import reduce_on_seeds
from ibp_evolve.reducer.seeding import laporta_seeds
from ibp_evolve.reducer.symmetries import SymmetryError, family_symmetries
from ibp_evolve.reducer.symmetry_search import find_symmetries
from ibp_evolve.reducer.symmetry_rows import symmetry_relations
from ibp_evolve.reducer.system import build_system


def relations(family, integrals, seed=1, prime=PRIMES[0]):
    """The symmetry relations of the integrals as a list of {integral: residue} rows."""
    point = random_point(family.parameters, np.random.default_rng(seed))
    rows, terms, vals = symmetry_relations(family_symmetries(family), family, integrals,
                                           point, prime)
    out = [dict() for _ in range(int(rows.max()) + 1 if len(rows) else 0)]
    for r, b, v in zip(rows.tolist(), map(tuple, terms.tolist()), vals.tolist()):
        out[r][b] = (out[r].get(b, 0) + v) % prime
    return out, point


def test_kite_has_two_masters_with_symmetries_and_three_without():
    kite = load_family("kite")
    assert len(discover_masters(kite, symmetries=False)) == 3
    masters = discover_masters(kite, symmetries=True)
    # the two sunsets (k1, k2-p, k1-k2) and (k2, k1-p, k1-k2) are one integral
    assert masters == [(0, 1, 1, 0, 1), (1, 1, 1, 1, 0)]


def test_equal_mass_sunrise_needs_its_self_mappings_to_get_from_five_to_three(monkeypatch):
    sunrise = load_family("sunrise")
    assert len(discover_masters(sunrise, symmetries=False)) == 7
    assert len(discover_masters(sunrise, symmetries=True)) == 3
    from ibp_evolve.reducer import masters as masters_module
    full = family_symmetries(sunrise)
    assert any(m.source == 7 for m in full.automorphisms)  # the top sector maps onto itself
    without_self_maps = dataclasses.replace(full, automorphisms=())
    monkeypatch.setattr(masters_module, "family_symmetries", lambda family: without_self_maps)
    assert len(discover_masters(sunrise, symmetries=True)) == 5


def test_sunrise_self_mappings_make_the_three_dotted_integrals_equal():
    sunrise = load_family("sunrise")
    dotted = [(2, 1, 1, 0, 0), (1, 2, 1, 0, 0), (1, 1, 2, 0, 0)]
    rows, _ = relations(sunrise, dotted)
    prime = PRIMES[0]
    matrix = sympy.Matrix([[row.get(a, 0) if row.get(a, 0) <= prime // 2 else
                            row.get(a, 0) - prime for a in dotted] for row in rows])
    assert all(set(row) <= set(dotted) for row in rows)  # relabelled lines, no numerators
    assert matrix.rank() == 2 and matrix * sympy.Matrix([1, 1, 1]) == sympy.zeros(len(rows), 1)


def test_one_loop_box_keeps_three_masters():
    assert len(discover_masters(load_family("box"), symmetries=True)) == 3


def test_triangle_box_massless_sunsets_are_one_integral(triangle_box):
    sym = family_symmetries(triangle_box)
    mapping = sym.mapping_of(37)  # lines 1, 3, 6: k1^2, (k1+k2)^2, (k2-p1)^2
    assert mapping is not None and mapping.target == 14  # lines 2, 3, 4
    rows, _ = relations(triangle_box, [(1, 0, 1, 0, 0, 1, 0)])
    assert rows == [{(1, 0, 1, 0, 0, 1, 0): 1, (0, 1, 1, 1, 0, 0, 0): PRIMES[0] - 1}]
    assert 37 not in sym.unique_sectors and 14 in sym.unique_sectors


def test_a_mapping_needs_the_kinematics_preserved_exactly():
    # The box's s- and t-channel bubbles (and triangles) are different integrals; they become
    # one only at the special point t = s, which the symmetry search must not assume.
    box = load_family("box")
    special = parse_family(box.source.replace('"t/2"', '"s/2"').replace('"-(s+t)/2"', '"-s"'),
                           origin="box at t = s")
    generic, at_t_equal_s = find_symmetries(box), find_symmetries(special)
    assert {5, 10} <= set(generic.unique_sectors)  # bubbles in s and in t
    assert 10 not in at_t_equal_s.unique_sectors and 5 in at_t_equal_s.unique_sectors
    assert len(at_t_equal_s.unique_sectors) == len(generic.unique_sectors) - 2


def test_mapped_numerators_agree_with_an_ibp_reduction_without_symmetries():
    """I(a) = sum_b c_b I(b) from the kite's sector mapping, checked against IBPs alone:
    reduced onto the three masters found without symmetries, the two sides differ only by a
    multiple of (sunset 25 - sunset 22), the pair that the mapping identifies."""
    kite = load_family("kite")
    sources = [(1, 0, -1, 1, 1), (1, -1, -1, 1, 1), (2, 0, -1, 1, 1), (1, -2, 0, 1, 1)]
    rows, point = relations(kite, sources, seed=5)
    prime = PRIMES[0]
    masters = family_masters(kite)  # without symmetries
    integrals = sorted({b for row in rows for b in row})
    system = build_system(kite, laporta_seeds(kite, integrals, 6, 3), point, prime)
    seeds = np.arange(len(system.seeds))
    reduced = reduce_on_seeds(system, seeds, integrals, masters)
    assert reduced.complete
    value = {t.target: t.coefficients for t in reduced.targets}
    sunset_22, sunset_25 = (0, 1, 1, 0, 1), (1, 0, 0, 1, 1)
    for row in rows:
        total = {}
        for b, c in row.items():
            for m, v in value[b].items():
                total[m] = (total.get(m, 0) + c * v) % prime
        assert total.get((1, 1, 1, 1, 0), 0) == 0
        assert (total.get(sunset_22, 0) + total.get(sunset_25, 0)) % prime == 0
        assert any(b != a for a in sources for b in row if a in row)  # not a trivial row


def test_a_mapping_that_does_not_verify_names_the_sector(monkeypatch):
    from ibp_evolve.reducer import symmetry_search
    real = symmetry_search._Search.images

    def shifted(self, m_full):
        images = real(self, m_full)
        return [(coeffs, const + 1) for coeffs, const in images]

    monkeypatch.setattr(symmetry_search._Search, "images", shifted)
    with pytest.raises(SymmetryError, match=r"mapping of sector \d+ .*symmetries off"):
        find_symmetries(load_family("kite"))


def test_masters_cache_is_bypassed_and_a_tampered_list_is_rebuilt(monkeypatch, tmp_path):
    import json
    from ibp_evolve.reducer import masters as masters_module
    monkeypatch.setenv("IBP_EVOLVE_CACHE", str(tmp_path))
    monkeypatch.setattr(masters_module, "_MEMORY", {})  # earlier tests may have filled it
    kite = load_family("kite")
    calls = []
    real = masters_module.discover_masters
    monkeypatch.setattr(masters_module, "discover_masters",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    first = family_masters(kite, symmetries=True)
    assert family_masters(kite, symmetries=True) == first and len(calls) == 1  # memo
    assert family_masters(kite, symmetries=True, use_cache=False) == first
    assert len(calls) == 2  # use_cache=False skips the memo as well as the disk
    masters_module._MEMORY.clear()  # the memo would answer before the disk
    (path,) = tmp_path.glob("masters-kite-*-sym-*.json")
    data = json.loads(path.read_text())
    data["masters"] = data["masters"][:1]  # a wrong list under the right key
    path.write_text(json.dumps(data))
    assert family_masters(kite, symmetries=True) == first and len(calls) == 3


def test_masters_outside_the_discovery_region_are_found_by_the_probe():
    """A generic-mass sunrise under an ordering that does not rank dots: its masters carry
    2-3 dots, outside the default region; the probe finds them instead of stopping at 5."""
    from ibp_evolve.reducer.ordering import Ordering
    text = """
name = "sunrise_generic"
loop_momenta = ["k1", "k2"]
external_momenta = ["p"]
propagators = ["k1^2 - m1sq", "k2^2 - m2sq", "(k1+k2+p)^2 - m3sq", "(k1+p)^2", "(k2+p)^2"]
isps = [4, 5]
[kinematics]
"p^2" = "s"
"""
    family = parse_family(text, origin="generic sunrise")
    assert len(discover_masters(family, Ordering.parse("t,sector,s,indices"),
                                verify=False)) == 5
    masters = discover_masters(family, Ordering.parse("t,sector,s,indices"))
    assert len(masters) == 7
    # ranking by dots alone leaves numerators unbounded below: no finite basis, said clearly
    with pytest.raises(FamilyError, match=r"sector \d+ \(.*\): masters lie outside"):
        discover_masters(family, Ordering.parse("t,sector,d,indices"))


def test_triangle_box_has_15_masters_with_symmetries_and_16_without(triangle_box):
    # 16 is the paper's count (arXiv:2502.05121), with both massless p1^2 sunsets kept
    assert len(family_masters(triangle_box, symmetries=False)) == 16
    masters = family_masters(triangle_box, symmetries=True)
    assert len(masters) == 15
    assert set(masters) == set(triangle_box.preferred_masters) - {(1, 0, 1, 0, 0, 1, 0)}


@pytest.mark.slow
def test_planar_double_box_has_8_masters_with_symmetries():
    # 8: Smirnov, hep-ph/9905323 and Gehrmann, Remiddi, hep-ph/9912329 (12 copies without)
    assert len(family_masters(load_family("double_box"), symmetries=True)) == 8


@pytest.mark.slow
def test_nonplanar_double_box_has_12_masters_with_symmetries():
    # 12: Tausk, hep-ph/9909506; Anastasiou, Gehrmann, Oleari, Remiddi, Tausk, hep-ph/0003261
    assert len(family_masters(load_family("nonplanar_double_box"), symmetries=True)) == 12


def test_relation_coefficients_are_exact_rationals_mod_p():
    # the kite's numerator (k1-p)^2 under the sector mapping 25 -> 22 carries rational
    # coefficients; the same relation at two primes comes from one rational relation
    kite = load_family("kite")
    a = (1, 0, -1, 1, 1)
    rows1, _ = relations(kite, [a], seed=3, prime=PRIMES[0])
    rows2, _ = relations(kite, [a], seed=3, prime=PRIMES[1])
    assert [set(r) for r in rows1] == [set(r) for r in rows2]
    assert Fraction(1) and all(len(r) >= 2 for r in rows1)


def test_a_target_in_a_mirror_sector_reduces_onto_the_unique_masters():
    """The recipe of the symmetries module docstring: seeds, relation rows, solve."""
    from ibp_evolve.reducer.solver import solve
    from ibp_evolve.reducer.symmetry_rows import add_symmetry_rows
    kite = load_family("kite")
    target = (2, 0, -1, 1, 1)  # sector 25, the mirror of the sunset in sector 22
    sym = family_symmetries(kite)
    point = random_point(kite.parameters, np.random.default_rng(9))
    unique = set(sym.unique_sectors)
    seeds = laporta_seeds(kite, [(1, 1, 1, 1, 1)], 6, 2)
    seeds = seeds[[sum(1 << i for i, x in enumerate(s) if x > 0) in unique for s in seeds]]
    system = build_system(kite, seeds, point, PRIMES[0], extra_integrals=[target])
    system, sym_eqs = add_symmetry_rows(system, sym, point)
    selected = np.concatenate([system.equations_of(np.arange(len(seeds))), sym_eqs])
    solution = solve(system.eq_ptr, system.eq_cols, system.eq_vals, selected,
                     system.n_columns, np.array([system.column_of(target)]), system.prime)
    cols, vals = solution.target_rows[0]
    left = {system.integral(c) for c in cols.tolist()}
    assert left and left <= set(family_masters(kite, symmetries=True)) == {
        (0, 1, 1, 0, 1), (1, 1, 1, 1, 0)}
