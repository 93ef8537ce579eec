"""Analytic reductions: coefficients as rational functions of d and the kinematic symbols,
reconstructed from finite-field samples, against closed forms (Gamma-function bubbles,
tadpoles, bubble insertions) and against exact reductions at points."""

import json
from fractions import Fraction

import numpy as np
import pytest
import sympy

from ibp_evolve.cli.main import main
from ibp_evolve.reducer.analytic import (AnalyticSpecError, NotStableError, parse_analytic,
                                         reduce_analytic)
from ibp_evolve.reducer.exact import DegeneratePointError, reduce_exact
from ibp_evolve.reducer.family import load_family
from ibp_evolve.reducer.modular import PRIMES
from ibp_evolve.reducer.plans import LaportaBox
from ibp_evolve.reducer.reconstruct.multivariate import Sampler, reconstruct_mod_p
from ibp_evolve.reducer.reconstruct.newton import interpolate_grid
from ibp_evolve.reducer.reconstruct.rationals import PrimeCombiner
from ibp_evolve.reducer.reconstruct.univariate import Thiele

P = PRIMES[3]
d, s, t, msq = sympy.symbols("d s t msq")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def coefficients(result, target) -> dict:
    """{master: sympy expression} of one target of an analytic result."""
    entry = next(e for e in result["targets"] if tuple(e["target"]) == tuple(target))
    return {tuple(c["master"]): sympy.sympify(c["value"]) for c in entry["coefficients"]}


def same(a, b) -> bool:
    return sympy.simplify(sympy.sympify(a) - sympy.sympify(b)) == 0


# -- the stages, alone --------------------------------------------------------------------

def test_thiele_recovers_a_rational_function_and_cancels_the_staircase_common_factor():
    inv = lambda x: pow(x % P, -1, P)  # noqa: E731
    for f, num, den in [(lambda x: (x * x + 1) * inv(x * (x - 2)), [1, 0, 1], [0, -2, 1]),
                        (lambda x: x * x % P, [0, 0, 1], [1])]:  # type (2, 0): Thiele gives (2, 1)
        th = Thiele(P)
        x = 3
        while not th.done:
            x += 7
            th.add(x, f(x))
        got_num, got_den = th.to_fraction()
        low = next(c for c in den if c)  # normalised: lowest denominator coefficient 1
        assert got_num == [c * pow(low, -1, P) % P for c in num]
        assert got_den == [c * pow(low, -1, P) % P for c in den]


def test_newton_on_a_grid_recovers_a_polynomial_in_two_variables():
    poly = {(0, 0): 5, (2, 1): 3, (1, 3): P - 1}
    axes = [[2, 5, 11], [3, 4, 7, 9]]
    values = {(i, j): (5 + 3 * x * x * y - x * y ** 3) % P
              for i, x in enumerate(axes[0]) for j, y in enumerate(axes[1])}
    assert interpolate_grid(axes, values, P) == poly


def _synthetic(x, hole=None):
    """Three rational functions of (a, b, c) mod P; None (a degenerate sample) where a = hole."""
    a, b, c = x
    if hole is not None and a % 5 == hole:
        return None
    inv = lambda v: pow(v % P, -1, P)  # noqa: E731
    return [(3 - a) * inv(b) % P, (a * a * b + 1) * inv(a * c + b * b + 2) % P, inv(a * b * c)]


def test_three_variables_are_reconstructed_even_when_a_fifth_of_the_samples_are_degenerate():
    half = (P + 1) // 2  # 1/2 mod P
    for hole in (None, 0):
        sampler = Sampler(lambda x: _synthetic(x, hole), P, np.random.default_rng(3), 20_000)
        found = reconstruct_mod_p(sampler, 3)
        assert found[0] == ({(0, 0, 0): 3, (1, 0, 0): P - 1}, {(0, 1, 0): 1})
        # denominator normalised on its lowest-degree term, the constant 2
        assert found[1] == ({(0, 0, 0): half, (2, 1, 0): half},
                            {(0, 0, 0): 1, (1, 0, 1): half, (0, 2, 0): half})
        assert found[2] == ({(0, 0, 0): 1}, {(1, 1, 1): 1})
        if hole is not None:
            assert sampler.degenerate > 0


def test_primes_combine_to_rationals_larger_than_one_prime_and_stop_when_a_prime_agrees():
    big = Fraction(3 * 2 ** 40 + 2, 7)
    assert big.denominator == 7
    combiner = PrimeCombiner()
    for k, p in enumerate(PRIMES[1:6]):
        combiner.add(p, [({(1,): big.numerator * pow(7, -1, p) % p}, {(0,): 1})])
        result = combiner.result()
        if result is not None:
            break
    assert result == [({(1,): big}, {(0,): Fraction(1)})]
    # Wang's bound |n|, |d| <= sqrt(M/2) needs three primes of 2^31 for n ~ 3.3e12; a fourth
    # that changes nothing ends it.
    assert combiner.n_primes == 4


def test_compiled_rows_give_the_same_samples_as_the_learned_rows():
    from ibp_evolve.reducer.exact import learn
    from ibp_evolve.reducer.masters import masters_in_sectors
    from ibp_evolve.reducer.modular import random_point
    from ibp_evolve.reducer.ordering import Ordering
    from ibp_evolve.reducer.reconstruct.rows import CompiledRows
    from ibp_evolve.reducer.replay import TrimmedSystem
    from ibp_evolve.reducer.sectors import sector_of
    from ibp_evolve.reducer.system import parameter_residues
    family, target = load_family("kite"), (1, 1, 1, 1, 1)
    masters = masters_in_sectors(family, {sector_of(target)}, Ordering.parse())
    learn_point = random_point(family.parameters, 4)
    _, _, system, learned = learn(family, [target], LaportaBox(6, 1), Ordering.parse(),
                                  masters, learn_point)
    model = TrimmedSystem.learn(system, learned, learn_point)
    rows = CompiledRows(model)
    for k, prime in enumerate(PRIMES[1:4]):
        params = parameter_residues(family, random_point(family.parameters, 10 + k), prime)
        direct = model.sample(params, prime)
        assert direct is not None and model.sample(params, prime, rows.csr(params, prime)) == direct


# -- closed forms -------------------------------------------------------------------------

def G(a, b):
    """Massless one-loop bubble with indices a, b in units of s^(d/2-a-b) (DESIGN.md §5)."""
    return (sympy.gamma(d / 2 - a) * sympy.gamma(d / 2 - b) * sympy.gamma(a + b - d / 2)
            / (sympy.gamma(a) * sympy.gamma(b) * sympy.gamma(d - a - b)))


def test_the_bubble_I21_reduces_to_3_minus_d_over_s_times_I11():
    result = reduce_analytic(load_family("bubble"), [(2, 1)], ["d", "s"])
    assert result["analytic_in"] == ["d", "s"]
    assert same(coefficients(result, (2, 1))[(1, 1)], (3 - d) / s)


def test_bubbles_with_dots_are_gamma_function_ratios_in_d_and_s():
    targets = [(2, 2), (3, 1), (3, 2)]
    result = reduce_analytic(load_family("bubble"), targets, ["d", "s"])
    for a1, a2 in targets:
        closed = sympy.gammasimp(G(a1, a2) / G(1, 1)) * s ** (2 - a1 - a2)
        assert same(coefficients(result, (a1, a2))[(1, 1)], closed), (a1, a2)


def test_tadpole_I3_is_d_over_2_minus_1_times_d_over_2_minus_2_over_2_msq_squared():
    result = reduce_analytic(load_family("tadpole"), [(3,), (4,)], ["d", "msq"])
    ratio = lambda a: (d / 2 - a) / (a * msq)  # noqa: E731   I(a+1)/I(a)
    assert same(coefficients(result, (3,))[(1,)], ratio(1) * ratio(2))
    assert same(coefficients(result, (4,))[(1,)], ratio(1) * ratio(2) * ratio(3))


def sunset(n2, n3, n5):
    """Kite sunset I(0,n2,n3,0,n5): the bubble in k2 (lines 2, 5) inserted into the k1 bubble
    (line 3), in units of s^(d - n2 - n3 - n5)."""
    return G(n2, n5) * G(n2 + n5 - d / 2, n3)


def test_kite_sunsets_with_a_dot_follow_from_bubble_insertions():
    targets = [(0, 2, 1, 0, 1), (0, 1, 2, 0, 1), (0, 1, 1, 0, 2), (2, 1, 1, 1, 0)]
    result = reduce_analytic(load_family("kite"), targets, ["d", "s"])
    for n2, n3, n5 in [(2, 1, 1), (1, 2, 1), (1, 1, 2)]:
        closed = sympy.gammasimp(sunset(n2, n3, n5) / sunset(1, 1, 1)) / s
        assert same(coefficients(result, (0, n2, n3, 0, n5))[(0, 1, 1, 0, 1)], closed)
    # the double bubble is a product of two bubbles: a dot on one of them is (3 - d)/s
    assert same(coefficients(result, (2, 1, 1, 1, 0))[(1, 1, 1, 1, 0)], (3 - d) / s)


def test_the_kite_fully_analytic_matches_its_closed_form():
    result = reduce_analytic(load_family("kite"), [(1, 1, 1, 1, 1)], ["d", "s"])
    got = coefficients(result, (1, 1, 1, 1, 1))
    sun = (3 * d - 10) * (3 * d - 8) / ((d - 4) ** 2 * s ** 2)
    assert same(got[(1, 1, 1, 1, 0)], -2 * (d - 3) / ((d - 4) * s))
    assert same(got[(0, 1, 1, 0, 1)], sun) and same(got[(1, 0, 0, 1, 1)], sun)


def test_equal_mass_sunrise_coefficients_are_singular_only_at_threshold_and_pseudo_threshold():
    result = reduce_analytic(load_family("sunrise"), [(2, 1, 1, 0, 0)], ["d", "s", "msq"],
                             replace_by_one="msq")
    allowed = {s - msq, s - 9 * msq, msq, s}  # pseudo-threshold, threshold, scales
    seen = set()
    for value in coefficients(result, (2, 1, 1, 0, 0)).values():
        _, factors = sympy.factor_list(sympy.denom(sympy.together(value)))
        kinematic = {sympy.expand(f) for f, _ in factors if f.free_symbols & {s, msq}}
        kinematic = {f if sympy.Poly(f, s, msq, d).LC() > 0 else sympy.expand(-f)
                     for f in kinematic}
        assert kinematic <= allowed, kinematic
        seen |= kinematic
    assert {s - msq, s - 9 * msq} <= seen


def test_box_targets_fully_analytic_agree_with_exact_reductions_at_random_points():
    family = load_family("box")
    targets = [(2, 1, 1, 1), (1, 2, 1, 2)]
    result = reduce_analytic(family, targets, ["d", "s", "t"],
                             rng_seed=5)
    assert result["stats"]["primes"] >= 2
    rng = np.random.default_rng(11)
    for _ in range(2):
        point = {k: Fraction(int(rng.integers(1, 90)), int(rng.integers(1, 90)))
                 for k in ("d", "s", "t")}
        # an independent reduction: another seed box, relearned, at a fresh point
        exact = reduce_exact(family, targets, point,
                             plan=LaportaBox(6, 1), rng_seed=7)
        for entry in exact["targets"]:
            got = coefficients(result, entry["target"])
            want = {tuple(c["master"]): Fraction(c["value"]) for c in entry["coefficients"]}
            assert set(got) == set(want)
            for m, v in want.items():
                value = got[m].subs({d: point["d"], s: point["s"], t: point["t"]})
                assert sympy.Rational(v.numerator, v.denominator) == value


def test_symbols_kept_numeric_take_their_fixed_values():
    result = reduce_analytic(load_family("bubble"), [(2, 1)], ["d"], point={"s": Fraction(3)})
    assert result["point"] == {"s": "3"} and result["analytic_in"] == ["d"]
    assert same(coefficients(result, (2, 1))[(1, 1)], (3 - d) / 3)


# -- bad input and budgets ----------------------------------------------------------------

def test_a_symbol_not_in_the_family_is_refused_by_name():
    with pytest.raises(AnalyticSpecError, match="unknown symbol q .*has d, s"):
        parse_analytic("d,q", load_family("kite"))
    assert parse_analytic("all", load_family("box")) == ["d", "s", "t"]
    assert parse_analytic("t,d", load_family("box")) == ["d", "t"]


def test_a_too_small_sample_budget_names_the_coefficient_and_the_option():
    with pytest.raises(NotStableError, match=r"coefficient of I\(1,1\) in I\(2,1\).*5 "
                                             r"samples.*--max-samples"):
        reduce_analytic(load_family("bubble"), [(2, 1)], ["d", "s"], max_samples=5)


def test_one_prime_is_never_enough_and_the_error_says_how_to_raise_it():
    with pytest.raises(NotStableError, match="1 prime .*--max-primes"):
        reduce_analytic(load_family("bubble"), [(2, 1)], ["d"], max_primes=1)


def test_kinematics_where_every_sample_breaks_the_elimination_are_a_degenerate_point():
    with pytest.raises(DegeneratePointError, match="s=0, t=1"):
        reduce_analytic(load_family("box"), [(2, 1, 1, 1)], ["d"],
                        point={"s": Fraction(0), "t": Fraction(1)})


# -- the command --------------------------------------------------------------------------

def test_reduce_analytic_json_keeps_its_keys_and_values_parse_in_sympy(capsys):
    code, out, _ = run(capsys, "reduce", "bubble", "--target", "2,1", "--analytic", "d,s",
                       "--json")
    assert code == 0
    result = json.loads(out)
    assert {"family", "point", "masters", "targets", "stats", "analytic_in"} <= set(result)
    assert result["analytic_in"] == ["d", "s"]
    assert same(result["targets"][0]["coefficients"][0]["value"], (3 - d) / s)


def test_reduce_analytic_mathematica_is_a_replacement_list(capsys):
    code, out, _ = run(capsys, "reduce", "tadpole", "--target", "3", "--analytic", "all",
                       "--format", "mathematica")
    assert code == 0
    rule = out.strip().splitlines()[-1]
    assert rule.startswith("{j[tadpole,3] -> (") and rule.endswith("*j[tadpole,1]}")
    assert "^" in rule and "**" not in rule
    lhs, rhs = rule[1:-1].split(" -> ")
    value = sympy.sympify(rhs.replace("j[tadpole,1]", "1").replace("^", "**"))
    assert same(value, (d - 2) * (d - 4) / (8 * msq ** 2))


def test_reduce_at_a_point_prints_mathematica_too(capsys):
    code, out, _ = run(capsys, "reduce", "bubble", "--target", "2,1", "--at", "d=5,s=2",
                       "--format", "mathematica")
    assert code == 0 and "{j[bubble,2,1] -> (-1)*j[bubble,1,1]}" in out


def test_mathematica_names_are_symbols_without_underscores():
    from ibp_evolve.cli.reduce_output import mathematica_name
    assert mathematica_name("triangle_box") == "triangleBox"  # x_y would be a pattern
    assert mathematica_name("2loop-box") == "j2loopBox"


def test_reduce_analytic_keeps_at_values_of_the_other_symbols(capsys):
    code, out, _ = run(capsys, "reduce", "bubble", "--target", "2,1", "--analytic", "d",
                       "--at", "d=7,s=3", "--json")
    result = json.loads(out)
    assert code == 0 and result["point"] == {"s": "3"}
    assert same(result["targets"][0]["coefficients"][0]["value"], (3 - d) / 3)


def test_reduce_analytic_bad_input_is_one_line_with_exit_2_and_a_budget_miss_exit_1(capsys):
    code, _, err = run(capsys, "reduce", "kite", "--target", "1,1,1,1,1", "--analytic", "m")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "unknown symbol m" in err
    code, _, err = run(capsys, "reduce", "box", "--target", "2,1,1,1", "--analytic", "all",
                       "--max-samples", "5")
    assert code == 1 and err.strip().splitlines()[-1].endswith("raise --max-samples")


@pytest.mark.slow
def test_triangle_box_target_analytic_in_d_agrees_with_exact_reductions():
    family = load_family("triangle_box")
    target = (1, 1, 1, 1, 1, 1, -3)
    fixed = {"m1sq": Fraction(1), "m2sq": Fraction(2), "m3sq": Fraction(5)}
    from ibp_evolve.judge.rule_plan import DEFAULT_RULE, rule_plan
    from ibp_evolve.language.library import resolve_rule
    plan = rule_plan(resolve_rule(DEFAULT_RULE), family)
    result = reduce_analytic(family, [target], ["d"], fixed, plan)
    got = coefficients(result, target)
    for dv in (Fraction(37, 11), Fraction(-5, 3)):
        exact = reduce_exact(family, [target], fixed | {"d": dv}, plan=LaportaBox(6, 3))
        want = {tuple(c["master"]): Fraction(c["value"])
                for c in exact["targets"][0]["coefficients"]}
        assert {m: got[m].subs(d, dv) for m in want} == {
            m: sympy.Rational(v.numerator, v.denominator) for m, v in want.items()}


# -- one scale set to 1, restored by mass dimension ---------------------------------------

def test_restoring_s_by_mass_dimension_turns_3_minus_d_back_into_3_minus_d_over_s():
    from ibp_evolve.reducer.reconstruct.scaling import restore
    # sampled at s = 1: (3 - d); I(2,1) on I(1,1) has mass dimension 2 * (2 - 3)
    num, den = restore({(0,): 3, (1,): -1}, {(0,): 1}, ["d"], "s", "d", -1, ["d", "s"])
    assert num == {(0, 0): 3, (1, 0): -1} and den == {(0, 1): 1}


def test_box_with_s_replaced_by_one_needs_fewer_samples_and_gives_the_same_functions():
    family = load_family("box")
    targets = [(2, 1, 1, 1), (1, 2, 1, 2)]
    plain = reduce_analytic(family, targets, ["d", "s", "t"])
    scaled = reduce_analytic(family, targets, ["d", "s", "t"], replace_by_one="s")
    assert scaled["stats"]["samples"] < plain["stats"]["samples"]
    for target in targets:
        a, b = coefficients(plain, target), coefficients(scaled, target)
        assert set(a) == set(b) and all(same(a[m], b[m]) for m in a)


def test_replace_by_one_is_refused_for_a_numeric_symbol_or_the_dimension(capsys):
    from ibp_evolve.reducer.reconstruct.scaling import ScaleError
    with pytest.raises(ScaleError, match="t would stay numeric"):
        reduce_analytic(load_family("box"), [(2, 1, 1, 1)], ["d", "s"], replace_by_one="s")
    code, _, err = run(capsys, "reduce", "box", "--target", "2,1,1,1", "--analytic", "all",
                       "--replace-by-one", "d")
    assert code == 2 and "not a kinematic symbol" in err and len(err.strip().splitlines()) == 1


def test_an_unreduced_target_gets_no_function_and_the_command_exits_1(capsys):
    code, out, _ = run(capsys, "reduce", "bubble", "--target", "3,2", "--target", "2,1",
                       "--seeds", "laporta:r=3,s=0", "--analytic", "d", "--json")
    result = json.loads(out)
    assert code == 1
    unreduced, reduced = result["targets"]
    assert not unreduced["reduced"] and unreduced["coefficients"] == []
    assert unreduced["survivors"] == [[3, 2]]
    assert reduced["reduced"] and len(reduced["coefficients"]) == 1


def test_masters_and_zero_sectors_are_analytic_too():
    result = reduce_analytic(load_family("bubble"), [(1, 1), (1, 0)], ["d", "s"])
    assert coefficients(result, (1, 1)) == {(1, 1): 1}
    assert coefficients(result, (1, 0)) == {}


def test_progress_lines_go_to_stderr_once_a_reconstruction_runs_long(capsys):
    from ibp_evolve.cli.reduce_output import Progress
    Progress(quiet_for=0, every=0)("prime 1: 200 samples")
    Progress(quiet_for=1e9)("never shown")
    out, err = capsys.readouterr()
    assert out == "" and err == "ibp-evolve reduce: prime 1: 200 samples\n"


def test_rays_traced_by_two_worker_processes_give_the_same_functions():
    family = load_family("box")
    alone = reduce_analytic(family, [(2, 1, 1, 1)], ["d", "s", "t"], rng_seed=2)
    pooled = reduce_analytic(family, [(2, 1, 1, 1)], ["d", "s", "t"], rng_seed=2, workers=2)
    a, b = coefficients(alone, (2, 1, 1, 1)), coefficients(pooled, (2, 1, 1, 1))
    assert set(a) == set(b) and all(same(a[m], b[m]) for m in a)


def test_budgets_and_workers_must_be_positive(capsys):
    code, _, err = run(capsys, "reduce", "bubble", "--target", "2,1", "--analytic", "d",
                       "--workers", "0")
    assert code == 2 and "--workers 0" in err


def test_an_at_value_for_an_analytic_symbol_is_ignored_with_a_note(capsys):
    """`--analytic d --at d=3`: d stays a variable, s is drawn at random as without --at, and
    stderr says the value was ignored (it said 'missing values for symbols: s (point '')')."""
    assert main(["reduce", "bubble", "--target", "2,1", "--analytic", "d", "--at", "d=3",
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert "--at d=3 ignored: analytic in d" in captured.err
    result = json.loads(captured.out)
    assert result["analytic_in"] == ["d"] and list(result["point"]) == ["s"]
