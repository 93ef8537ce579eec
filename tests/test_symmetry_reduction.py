"""Reductions with sector symmetries agree with those without, once the redundant masters are
related: mirror sectors are one integral, and the judge, reduce and its exports carry the
relation rows that say so."""

import json
from fractions import Fraction

import numpy as np
import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.judge.rule_plan import rule_plan
from ibp_evolve.judge.score import Judge
from ibp_evolve.judge.suites import SuiteError, load_suite, parse_suite
from ibp_evolve.language.library import resolve_rule
from ibp_evolve.reducer import symmetry_rows
from ibp_evolve.reducer.analytic import reduce_analytic
from ibp_evolve.reducer.exact import reduce_exact
from ibp_evolve.reducer.family import load_family
from ibp_evolve.reducer.masters import family_masters
from ibp_evolve.reducer.modular import PRIMES, random_point
from ibp_evolve.reducer.reconstruct.expressions import evaluate_function
from ibp_evolve.reducer.symmetries import SectorMapping, Symmetries, SymmetryError
from ibp_evolve.runs.evaluation import SuiteSpec


def _plan(family):
    return rule_plan(resolve_rule("improved_seeding_dots"), family)


def _coefficients(entry) -> dict:
    return {tuple(c["master"]): Fraction(c["value"]) for c in entry["coefficients"]}


def _both_ways(family, target, point):
    """(coefficients with symmetries, those without mapped onto the symmetric basis, the
    symmetric masters).  Without symmetries the target is a combination of the redundant
    basis; each of those masters, reduced with symmetries, is a combination of the symmetric
    one: substituting gives what the reduction with symmetries must say."""
    off = reduce_exact(family, [target], point, _plan(family), symmetries=False)
    assert off["targets"][0]["reduced"]
    redundant = _coefficients(off["targets"][0])
    on = reduce_exact(family, [target] + sorted(redundant), point, _plan(family),
                      symmetries=True)
    assert all(t["reduced"] for t in on["targets"])
    mapped: dict = {}
    for master, entry in zip(sorted(redundant), on["targets"][1:]):
        for m, c in _coefficients(entry).items():
            mapped[m] = mapped.get(m, 0) + redundant[master] * c
    return (_coefficients(on["targets"][0]), {m: c for m, c in mapped.items() if c},
            {tuple(m) for m in on["masters"]})


@pytest.mark.parametrize("name, target, n_masters", [
    ("kite", (1, 1, 1, 1, 2), 2),               # the two sunsets are one integral
    ("kite", (2, 0, -1, 1, 1), 2),              # a target in the mirror sunset sector 25
    ("sunrise", (2, 2, 1, -1, 0), 3),           # self-mappings: 7 masters become 3
])
def test_with_and_without_symmetries_agree_once_the_redundant_masters_are_related(
        name, target, n_masters):
    family = load_family(name)
    assert len(family_masters(family, symmetries=True)) == n_masters
    for seed in (1, 2):  # two points (each reconstructed from several primes)
        point = random_point(family.parameters, np.random.default_rng(seed))
        on, mapped, masters = _both_ways(family, target, point)
        assert on == mapped
        assert set(on) <= set(family_masters(family, symmetries=True))
        assert masters <= set(family_masters(family, symmetries=True))


def test_triangle_box_targets_reduce_onto_fifteen_masters_one_sunset_standing_for_both():
    family = load_family("triangle_box")
    assert len(family_masters(family, symmetries=True)) == 15
    assert len(family_masters(family, symmetries=False)) == 16
    point = random_point(family.parameters, np.random.default_rng(3))
    # the paper's target, and one in sector 37, the mirror of the sunset sector 14
    for target in [(1, 1, 1, 1, 1, 1, -3), (1, 0, 1, 0, -1, 1, -1)]:
        on, mapped, _ = _both_ways(family, target, point)
        assert on == mapped
        assert (1, 0, 1, 0, 0, 1, 0) not in on  # the mirror sunset is no master any more


@pytest.mark.slow
def test_triangle_box_with_and_without_symmetries_agree_at_a_second_point():
    family = load_family("triangle_box")
    point = random_point(family.parameters, np.random.default_rng(4))
    for target in [(1, 1, 1, 1, 1, 1, -4), (1, 0, 1, 1, 0, 1, -2), (1, 1, 1, 0, -1, 1, -2)]:
        on, mapped, _ = _both_ways(family, target, point)
        assert on == mapped


def test_relation_rows_are_replayed_at_every_sample_of_an_analytic_reduction():
    """The mirror target's relation has coefficients in s: reconstructed in d and s, its
    rational function must equal the exact reduction at a fresh point."""
    kite = load_family("kite")
    target = (2, 0, -1, 1, 1)
    analytic = reduce_analytic(kite, [target], ["d", "s"], plan=_plan(kite), symmetries=True)
    assert analytic["symmetries"] and analytic["targets"][0]["reduced"]
    point = {"d": Fraction(23, 7), "s": Fraction(-11, 5)}
    exact = _coefficients(reduce_exact(kite, [target], point, _plan(kite),
                                       symmetries=True)["targets"][0])
    x = [point["d"], point["s"]]
    predicted = {m: evaluate_function(num, den, x) for (_, m), (num, den)
                 in analytic["functions"]}
    assert {m: v for m, v in predicted.items() if v} == exact


def test_relation_rows_are_counted_apart_from_the_seeds_equations():
    kite = load_family("kite")
    point = {"d": Fraction(17, 3), "s": Fraction(5, 7)}
    on = reduce_exact(kite, [(1, 1, 1, 1, 2)], point, _plan(kite), symmetries=True)["stats"]
    off = reduce_exact(kite, [(1, 1, 1, 1, 2)], point, _plan(kite), symmetries=False)["stats"]
    assert on["symmetry_equations"] >= on["trimmed_symmetry_equations"] > 0
    assert "symmetry_equations" not in off
    # seeds live in unique sectors only: fewer seeds, fewer IBP equations
    assert on["seeds"] < off["seeds"] and on["equations"] == 6 * on["seeds"]


def test_export_system_includes_the_relation_rows(tmp_path, capsys):
    out = tmp_path / "kite.jsonl"
    assert main(["reduce", "kite", "--target", "2,0,-1,1,1", "--at", "d=17/3,s=5/7",
                 "--export-system", str(out)]) == 0
    assert "with sector symmetries" in capsys.readouterr().out
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    relations = [e for e in lines[1:] if e["template"].startswith("symmetry")]
    assert relations and lines[0]["equations"] == len(lines) - 1
    # each relation starts with its own integral, coefficient 1: I(a) - sum c_b I(b) = 0
    assert all(r["terms"][0] == [r["seed"], "1"] for r in relations)
    assert {r["template"] for r in relations} <= {"symmetry 25->22", "symmetry 22->22"}
    off = tmp_path / "kite_off.jsonl"
    assert main(["reduce", "kite", "--target", "2,0,-1,1,1", "--at", "d=17/3,s=5/7",
                 "--symmetries", "off", "--export-system", str(off)]) == 0
    assert "symmetry" not in off.read_text()


def test_the_judge_scores_improved_seeding_complete_with_symmetries_and_says_so():
    suite = load_suite("triangle_box_symmetric")
    assert suite.symmetries
    report = Judge(suite).score(resolve_rule("improved_seeding"))
    assert report.complete and report.symmetries
    paper_off = Judge(load_suite("triangle_box_paper")).score(resolve_rule("improved_seeding"))
    assert not paper_off.symmetries and paper_off.targets[0].seeds == 92  # the paper's count
    # the same target with symmetries: the mirror sunset's seeds are not solved twice
    assert report.targets[0].seeds < 92


def test_suites_pin_the_setting_and_a_spec_can_override_it():
    assert not load_suite("triangle_box_paper").symmetries  # the 92 / 88 stay comparable
    spec = SuiteSpec("triangle_box_paper", symmetries=True)
    assert spec.load().symmetries and not SuiteSpec("triangle_box_paper").load().symmetries
    text = 'family = "kite"\ntargets = [[1, 1, 1, 1, 1]]\n'
    assert parse_suite(text).symmetries  # default on, like reduce
    with pytest.raises(SuiteError, match="key 'symmetries': must be true or false"):
        parse_suite(text + 'symmetries = "yes"\n')


# -- a mapping that holds only for special kinematics -------------------------------------

TWO_MASS_BUBBLE = """\
name = "two_mass_bubble"
description = "one-loop bubble with two masses: the tadpoles are equal only when m1sq = m2sq"
loop_momenta = ["k"]
external_momenta = ["p"]
propagators = ["k^2 - m1sq", "(k+p)^2 - m2sq"]
isps = []

[kinematics]
"p^2" = "s"
"""


def _equal_mass_mapping():
    """Tadpole (0,1) onto tadpole (1,0) by k -> k - p: exact only when m1sq = m2sq."""
    mapping = SectorMapping(2, 1, ((1, 0),), (
        ((Fraction(2), Fraction(-1)), "2*s"), ((Fraction(1), Fraction(0)), "0")))
    return Symmetries("two_mass_bubble", (1, 3), (mapping,), ())


def test_a_mapping_valid_only_for_equal_masses_is_refused_at_unequal_ones(tmp_path,
                                                                          monkeypatch, capsys):
    path = tmp_path / "two_mass_bubble.toml"
    path.write_text(TWO_MASS_BUBBLE)
    family = load_family(str(path))
    symmetry_rows.check_at_point(_equal_mass_mapping(), family,
                                 {"s": 3, "m1sq": 2, "m2sq": 2})  # equal masses: fine
    with pytest.raises(SymmetryError, match=r"sector 2 \(0,1\) maps onto sector 1"):
        symmetry_rows.check_at_point(_equal_mass_mapping(), family,
                                     {"s": 3, "m1sq": 2, "m2sq": 5})
    monkeypatch.setattr(symmetry_rows, "family_symmetries", lambda family: _equal_mass_mapping())
    argv = ["reduce", str(path), "--target", "0,2", "--at", "d=17/3,s=5/7,m1sq=2,m2sq=5"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "special kinematics" in err
    assert "--symmetries off" in err
    assert main(argv + ["--symmetries", "off"]) == 0
    assert "I(0,2) = " in capsys.readouterr().out


def test_the_cached_u_and_f_tables_refuse_the_equal_mass_mapping_exactly(tmp_path):
    """The check a reduction runs on cached symmetries (no sympy): U and F as coefficient
    tables, evaluated exactly at the point, catch the mapping that needs m1sq = m2sq."""
    from ibp_evolve.reducer.symmetry_search import symanzik_terms
    path = tmp_path / "two_mass_bubble.toml"
    path.write_text(TWO_MASS_BUBBLE)
    family = load_family(str(path))
    hand_made = _equal_mass_mapping()
    cached = Symmetries.from_json(json.loads(json.dumps(
        Symmetries(hand_made.family_name, hand_made.unique_sectors, hand_made.mappings, (),
                   symanzik_terms(family)).to_json())))
    assert cached.symanzik is not None
    symmetry_rows.check_at_point(cached, family, {"s": 3, "m1sq": Fraction(7, 3),
                                                  "m2sq": Fraction(7, 3)})
    with pytest.raises(SymmetryError, match=r"sector 2 \(0,1\) maps onto sector 1 .* F "):
        symmetry_rows.check_at_point(cached, family, {"s": 3, "m1sq": Fraction(7, 3),
                                                      "m2sq": Fraction(7, 2)})


def test_exact_relations_from_cached_text_match_the_relation_rows_mod_p():
    """exact_relation reads the mapping constants with our own grammar: at the point, mod p,
    its coefficients are those of the numeric relation rows (numerators included)."""
    from ibp_evolve.reducer.modular import PRIMES, to_mod
    from ibp_evolve.reducer.symmetries import family_symmetries
    family = load_family("kite")
    sym = family_symmetries(family)
    point = {"d": Fraction(17, 3), "s": Fraction(5, 7)}
    prime = PRIMES[0]
    # the mirror sunset (sector 25), and numerators whose images carry the constant s or -s
    # (automorphisms of sectors 22 and 15)
    integrals = np.array([[2, 0, -2, 1, 1], [-2, 1, 1, -1, 1], [1, 1, 2, 1, -2]],
                         dtype=np.int64)
    rows, terms, vals, sources, maps = symmetry_rows._relations(sym, family, integrals, point,
                                                                prime)
    assert {m.source for m in maps} == {25, 22, 15}
    values = [point[p] for p in family.parameters]
    for r, (source, mapping) in enumerate(zip(sources, maps)):
        numeric: dict = {}  # a row may list an integral twice (the source among its images)
        for b, v in zip(terms[rows == r], vals[rows == r]):
            b = tuple(int(x) for x in b)
            numeric[b] = (numeric.get(b, 0) + int(v)) % prime
        numeric = {b: v for b, v in numeric.items() if v}
        exact = {b: to_mod(sum((c * np.prod([Fraction(v) ** e for v, e in zip(values, k)])
                                for k, c in poly.items()), Fraction(0)), prime)
                 for b, poly in symmetry_rows.exact_relation(mapping, family, source)}
        assert {b: v for b, v in exact.items() if v} == numeric


def test_a_symmetry_cache_without_u_and_f_is_rebuilt_not_misread(monkeypatch, tmp_path):
    from ibp_evolve.reducer import symmetries
    monkeypatch.setenv("IBP_EVOLVE_CACHE", str(tmp_path))
    monkeypatch.setattr(symmetries, "_MEMORY", {})
    kite = load_family("kite")
    assert symmetries.cached_symmetries(kite) is None  # nothing found yet, nothing searched
    found = symmetries.family_symmetries(kite)
    path = symmetries._cache_path(kite)
    stale = found.to_json()
    del stale["symanzik"]
    path.write_text(json.dumps(stale))
    monkeypatch.setattr(symmetries, "_MEMORY", {})
    assert symmetries.cached_symmetries(kite) is None
    assert symmetries.family_symmetries(kite) == found
    assert "symanzik" in json.loads(path.read_text())


def test_a_small_universe_sliced_with_symmetries_scores_like_the_row_cache():
    """Small universes are built once with their relation rows and sliced per rule; the
    equations a rule selects there are those the row cache's path solves."""
    suite = load_suite("triangle_box_symmetric")
    sliced, cached = Judge(suite), Judge(suite, cache_bytes=0)
    assert sliced.sliced and not cached.sliced
    for name in ("improved_seeding", "laporta"):
        a, b = sliced.score(resolve_rule(name)), cached.score(resolve_rule(name))
        assert [(t.seeds, t.equations, t.trimmed_equations, t.multiply_adds, t.reduced)
                for t in a.targets] == [(t.seeds, t.equations, t.trimmed_equations,
                                         t.multiply_adds, t.reduced) for t in b.targets]


def test_seed_maps_and_minimal_sets_solve_with_the_relation_rows():
    """inspect and minimize solve the universe's seeds as they are, with the relation rows:
    the paper's target stays reduced onto the 15 masters."""
    from ibp_evolve.judge.minimize import minimize_suite
    from ibp_evolve.reports.inspect import inspect_rule
    judge = Judge(load_suite("triangle_box_paper"), symmetries=True)
    ins = inspect_rule("improved_seeding", "triangle_box_paper", judge=judge)
    (seed_map,) = ins.seed_maps
    assert seed_map.reduced and 0 < seed_map.n_needed < seed_map.n_kept == 92
    masks = judge.masks(resolve_rule("improved_seeding"))
    report = minimize_suite(judge, masks, swaps=0, seconds=0, restarts=1)
    assert report.complete and report.results[0].size <= seed_map.n_needed


@pytest.mark.parametrize("cache_bytes", [None, 0])   # sliced universe, and the row cache
def test_a_mirror_sector_target_is_seeded_through_its_own_sectors_mapping(cache_bytes):
    """I(1,1,-1,1,2,1,1,0,-1) of the double box lies in a mirror sector: it reduces through
    its relation onto the image sector and the images of its subsectors.  Its subsectors'
    seeds must move by the same mapping; each moved by its own, the tube's dotted seeds
    landed where the relation never reaches and the target stayed unreduced (it reduces with
    symmetries off)."""
    target = (1, 1, -1, 1, 2, 1, 1, 0, -1)
    suite = parse_suite(f'name = "mirror"\nfamily = "double_box"\ntargets = [{list(target)}]\n'
                        "symmetries = true\n")
    judge = Judge(suite, cache_bytes=cache_bytes)
    assert judge.sector_symmetries.mapping_of(0b1111011) is not None   # lines 1,2,4,5,6,7
    assert judge.score(resolve_rule("tube_seeding")).complete


def test_seeds_count_those_solved_and_seeds_selected_the_rules_own_choice(capsys):
    """With symmetries the paper target's 92 improved-seeding seeds are solved as 79 (mirror
    sectors' seeds replaced by their images, each once): `seeds` says what the reduction
    solves, `seeds_selected` what the rule chose; without symmetries they are equal."""
    rule = resolve_rule("improved_seeding")
    on = Judge(load_suite("triangle_box_paper"), symmetries=True).score(rule).targets[0]
    off = Judge(load_suite("triangle_box_paper")).score(rule).targets[0]
    assert (on.seeds, on.seeds_selected) == (79, 92)
    assert (off.seeds, off.seeds_selected) == (92, 92)
    assert main(["score", "improved_seeding", "--suite", "triangle_box_symmetric",
                 "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)["targets"][0]
    assert entry["seeds"] < entry["seeds_selected"]    # the old key keeps its meaning
    assert main(["score", "improved_seeding", "--suite", "triangle_box_symmetric"]) == 0
    header = capsys.readouterr().out.splitlines()[1].split()
    assert header[:3] == ["target", "seeds", "selected"]


def test_a_grown_mirror_target_moves_the_plans_seeds_once():
    """Moving seeds to unique sectors is not idempotent for a target in a mirror sector (its
    sector's mapping carries the image sector's seeds on again), so when `reduce` adds a shell
    it moves the plan's own grown choice, once, as the judge moves a rule's choice."""
    from ibp_evolve.reducer.exact import learn
    from ibp_evolve.reducer.masters import masters_in_sectors
    from ibp_evolve.reducer.ordering import Ordering
    from ibp_evolve.reducer.sectors import sector_of
    family = load_family("double_box")
    target = (1, 1, -1, 1, 2, 1, 1, 0, -1)
    point = random_point(family.parameters, np.random.default_rng(5))
    sym = symmetry_rows.symmetries_at(family, point)
    masters = masters_in_sectors(family, {sector_of(target)}, Ordering.parse(),
                                 symmetries=True)
    plan = rule_plan(resolve_rule("improved_seeding"), family)
    seeds, label, _, reduction = learn(family, [target], plan, Ordering.parse(), masters,
                                       point, symmetries=sym)
    assert reduction.complete and label.endswith(": 1)")   # one shell added
    again = rule_plan(resolve_rule("improved_seeding"), family)
    first, _ = again.first(family, [target])
    grown, _ = again.grow(family, [target], [target], first, 1)
    def moved(seeds):
        return symmetry_rows.unique_seeds(sym, family, seeds, point, PRIMES[0], [target])

    # why it matters: moved twice, the rule's own choice is another list of seeds (another
    # order, so other pivot ties; for tube_seeding's choice another set)
    assert not np.array_equal(moved(moved(first)), moved(first))
    np.testing.assert_array_equal(seeds, moved(grown))
