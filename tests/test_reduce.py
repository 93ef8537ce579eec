"""reduce with seeding rules: learn once / evaluate many, regularity in d, shells, targets files,
the exported system, and the command's contract (exit codes, one-line errors, cheap start)."""

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy

from ibp_evolve.cli.main import main
from ibp_evolve.reducer.exact import DegeneratePointError, reduce_exact
from ibp_evolve.reducer.family import load_family
from ibp_evolve.reducer.masters import masters_in_sectors
from ibp_evolve.reducer.modular import PRIMES, random_point
from ibp_evolve.reducer.ordering import Ordering
from ibp_evolve.reducer.plans import LaportaBox, MaskPlan, SeedCapError, shell_seeds
from ibp_evolve.reducer.reduction import reduce_on_seeds
from ibp_evolve.reducer.replay import TrimmedSystem
from ibp_evolve.reducer.sectors import sector_of
from ibp_evolve.reducer.system import build_system
from ibp_evolve.reducer.thiele import GenuinePoleError, values_at_zero

ROOT = Path(__file__).resolve().parents[1]
KITE = (1, 1, 1, 1, 1)
DOUBLE_BUBBLE = (1, 1, 1, 1, 0)
SUNSETS = ((0, 1, 1, 0, 1), (1, 0, 0, 1, 1))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def kite_coefficients(d: Fraction, s: Fraction) -> dict:
    """I(1,1,1,1,1) on the masters of the kite family without symmetries (closed form)."""
    sunset = (3 * d - 10) * (3 * d - 8) / ((d - 4) ** 2 * s ** 2)
    return {DOUBLE_BUBBLE: -2 * (d - 3) / ((d - 4) * s), SUNSETS[0]: sunset, SUNSETS[1]: sunset}


def as_dict(entry) -> dict:
    return {tuple(c["master"]): Fraction(c["value"]) for c in entry["coefficients"]}


# -- regular points, genuine poles ---------------------------------------------------------

def test_kite_at_d6_is_regular_minus_15_4_on_the_double_bubble_125_4_on_each_sunset():
    point = {"d": Fraction(6), "s": Fraction(4, 5)}
    result = reduce_exact(load_family("kite"), [KITE], point)
    assert as_dict(result["targets"][0]) == {DOUBLE_BUBBLE: Fraction(-15, 4),
                                             SUNSETS[0]: Fraction(125, 4),
                                             SUNSETS[1]: Fraction(125, 4)}
    assert as_dict(result["targets"][0]) == kite_coefficients(**point)


def test_kite_at_d3_needs_the_limit_in_d_and_the_double_bubble_drops_out():
    # At d = 3 a pivot of the learned elimination vanishes for every prime, but the result is
    # finite: the coefficients are read off along d -> 3.
    point = {"d": Fraction(3), "s": Fraction(4, 5)}
    result = reduce_exact(load_family("kite"), [KITE], point)
    assert result["timing"]["mode"] == "limit in d"
    expected = {m: v for m, v in kite_coefficients(**point).items() if v}
    assert DOUBLE_BUBBLE not in expected
    assert as_dict(result["targets"][0]) == expected


def test_kite_at_d4_is_a_genuine_pole_and_is_refused():
    with pytest.raises(DegeneratePointError, match=r"in I\(1,1,1,1,1\) has a pole in d at d=4"):
        reduce_exact(load_family("kite"), [KITE], {"d": Fraction(4), "s": Fraction(4, 5)})


def test_a_breakdown_that_does_not_depend_on_d_is_still_a_degenerate_point():
    with pytest.raises(DegeneratePointError, match="special kinematics"):
        reduce_exact(load_family("bubble"), [(2, 1)], {"d": Fraction(17, 3), "s": Fraction(0)})


def test_thiele_reads_a_removable_singularity_and_refuses_a_pole():
    p = PRIMES[3]
    inv = lambda x: pow(x % p, -1, p)  # noqa: E731
    # (t^2 - 3t) / (t^2 + 2t) -> -3/2 at t = 0; 5/t has a pole there
    regular = lambda t: [(t * t - 3 * t) * inv(t * t + 2 * t) % p]  # noqa: E731
    assert values_at_zero(regular, p, range(5, 40)) == [(-3 * inv(2)) % p]
    with pytest.raises(GenuinePoleError):
        values_at_zero(lambda t: [5 * inv(t)], p, range(5, 40))


# -- learn once, evaluate many -------------------------------------------------------------

def _learned(family, targets, seeds, learn_point):
    masters = masters_in_sectors(family, {sector_of(t) for t in targets}, Ordering.parse())
    system = build_system(family, seeds, learn_point, PRIMES[0], extra_integrals=targets)
    reduction = reduce_on_seeds(system, np.arange(len(seeds)), targets, masters)
    return TrimmedSystem.learn(system, reduction, learn_point), masters


@pytest.mark.parametrize("prime_index, point_seed", [(1, 11), (2, 11), (1, 12)])
def test_trimmed_rows_replayed_at_a_second_prime_or_point_match_a_full_rebuild(
        triangle_box, prime_index, point_seed):
    target = (1, 1, 1, 1, 1, 1, -3)
    seeds = LaportaBox(6, 3).seeds(triangle_box, [target])
    learn_point = random_point(triangle_box.parameters, np.random.default_rng(10))
    model, masters = _learned(triangle_box, [target], seeds, learn_point)
    assert model.n_equations < len(seeds) * 9 / 20  # the trimmed rows are a small part

    prime = PRIMES[prime_index]
    point = random_point(triangle_box.parameters, np.random.default_rng(point_seed))
    full = reduce_on_seeds(build_system(triangle_box, seeds, point, prime,
                                        extra_integrals=[target]),
                           np.arange(len(seeds)), [target], masters)
    replayed = model.sample_at(point, prime)
    assert replayed is not None and full.complete
    assert {m: v for m, v in replayed[0].items() if v} == full.targets[0].coefficients


def test_a_point_that_breaks_the_learned_structure_is_reported_not_reduced():
    bubble = load_family("bubble")
    seeds = LaportaBox(4, 1).seeds(bubble, [(3, 1)])
    model, _ = _learned(bubble, [(3, 1)], seeds, {"d": Fraction(17, 3), "s": Fraction(5, 7)})
    assert model.sample_at({"d": Fraction(17, 3), "s": Fraction(5, 7)}, PRIMES[1]) is not None
    assert model.sample_at({"d": Fraction(17, 3), "s": Fraction(0)}, PRIMES[1]) is None


# -- shells ----------------------------------------------------------------------------------

def test_shell_k_holds_the_targets_subsector_integrals_with_k_more_dots_and_numerators():
    kite = load_family("kite")
    shell = shell_seeds(kite, (1, 1, 1, 1, 1), 1)
    d = (np.where(shell > 0, shell, 0).sum(axis=1) - (shell > 0).sum(axis=1))
    s = -np.where(shell < 0, shell, 0).sum(axis=1)
    assert d.max() == 1 and s.max() == 1 and len(shell) == len(np.unique(shell, axis=0))
    assert (1, 2, 1, 1, 1) in set(map(tuple, shell.tolist()))


def test_a_plan_that_never_reduces_stops_at_the_shell_cap_with_the_target_unreduced():
    """The shell cap ends a reduction that ran: the target comes back unreduced, with its
    survivors, and the notice names the target and the cap to raise."""
    kite = load_family("kite")
    notices = []
    plan = MaskPlan(lambda t: np.array([t]), "rule only_the_target", max_shells=0,
                    notify=notices.append)
    result = reduce_exact(kite, [KITE], {"d": Fraction(17, 3), "s": Fraction(5, 7)}, plan)
    [target] = result["targets"]
    assert target["reduced"] is False and target["survivors"]
    assert len(notices) == 1 and "I(1,1,1,1,1)" in notices[0]
    assert "--max-shells 0: raise it" in notices[0]


# -- the command -----------------------------------------------------------------------------

def test_reduce_json_exits_1_when_a_target_is_not_reduced(capsys):
    code, out, _ = run(capsys, "reduce", "bubble", "--target", "3,1", "--seeds",
                       "laporta:r=2,s=0", "--json")
    assert code == 1 and json.loads(out)["targets"][0]["reduced"] is False


def test_plain_output_prints_no_value_for_an_unreduced_target(capsys):
    code, out, _ = run(capsys, "reduce", "bubble", "--target", "3,1", "--seeds",
                       "laporta:r=2,s=0")
    assert code == 1 and "I(3,1)  NOT REDUCED" in out and "I(3,1) =" not in out


def test_a_target_no_equation_of_the_box_can_contain_is_named_before_solving(capsys):
    # an IBP operator raises r by at most one: I(3,1) (r = 4) is out of reach of r <= 2 ...
    code, _, err = run(capsys, "reduce", "bubble", "--target", "3,1", "--seeds",
                       "laporta:r=2,s=0")
    assert code == 1
    assert "I(3,1) (r=4, s=0) lies outside the reach of laporta:r=2,s=0" in err
    assert "use at least laporta:r=3,s=0" in err
    # ... while I(2,1) (r = 3) can appear in the equations of r <= 2 seeds: no note
    assert LaportaBox(2, 0).out_of_reach([(2, 1)]) == []


def test_default_rule_adds_a_shell_for_the_kite_and_says_so(capsys):
    code, out, err = run(capsys, "reduce", "kite", "--target", "1,1,1,1,1", "--at",
                         "d=6,s=4/5")
    assert code == 0
    # with sector symmetries (the default) the two sunsets are one integral: 2 x 125/4
    assert "(125/2) I(0,1,1,0,1)" in out and "(-15/4) I(1,1,1,1,0)" in out
    from ibp_evolve.judge.rule_plan import DEFAULT_RULE
    assert f"rule {DEFAULT_RULE}" in out and "adding shell 1" in err
    code, out, err = run(capsys, "reduce", "kite", "--target", "1,1,1,1,1", "--at",
                         "d=6,s=4/5", "--symmetries", "off")
    assert code == 0
    assert "(125/4) I(0,1,1,0,1)" in out and "(125/4) I(1,0,0,1,1)" in out
    assert "(-15/4) I(1,1,1,1,0)" in out


def test_reduce_with_a_library_rule_matches_the_closed_form_bubble(capsys):
    code, out, err = run(capsys, "reduce", "bubble", "--target", "2,1", "--at",
                         "d=17/3,s=5/7", "--rule", "improved_seeding", "--json")
    assert code == 0
    assert as_dict(json.loads(out)["targets"][0]) == {(1, 1): Fraction(-56, 15)}


def test_rule_from_a_file_and_from_a_run_folder(tmp_path, capsys):
    rule = "def keep(seed, target):\n    return seed.d <= target.d + 1 and seed.s <= 1\n"
    (tmp_path / "mine.py").write_text(rule)
    (tmp_path / "run" / "best").mkdir(parents=True)
    (tmp_path / "run" / "best" / "rank01.py").write_text(rule)
    for source in (tmp_path / "mine.py", tmp_path / "run"):
        code, out, _ = run(capsys, "reduce", "tadpole", "--target", "3", "--at",
                           "d=13/5,msq=-7/11", "--rule", str(source), "--json")
        assert code == 0
        # I(3)/I(1) = (d/2-1)(d/2-2)/(2 msq^2)
        d, msq = Fraction(13, 5), Fraction(-7, 11)
        assert as_dict(json.loads(out)["targets"][0]) == {(1,): (d / 2 - 1) * (d / 2 - 2)
                                                          / (2 * msq ** 2)}


def test_rule_and_seed_box_are_exclusive(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["reduce", "kite", "--target", "1,1,1,1,1", "--rule", "improved_seeding",
              "--seeds", "laporta:r=3,s=0"])
    assert caught.value.code == 2 and "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--rule", "no_such_rule"], "unknown rule 'no_such_rule'"),
    (["--rule", "RULEFILE"], "selects no seeds"),
    (["--rule", "improved_seeding", "--max-seeds", "1"], "cap --max-seeds 1"),
    (["--rule", "BADFILE"], "rule rejected"),
    (["--max-memory", "1K"], "need about 23.0 KiB, more than the cap --max-memory 1.0 KiB"),
])
def test_bad_rules_and_caps_are_one_line_errors_with_exit_2(tmp_path, capsys, argv, words):
    nothing = tmp_path / "nothing.py"
    nothing.write_text("def keep(seed, target):\n    return seed.r > 100\n")
    bad = tmp_path / "bad.py"
    bad.write_text("import os\ndef keep(seed, target):\n    return True\n")
    argv = [{"RULEFILE": str(nothing), "BADFILE": str(bad)}.get(a, a) for a in argv]
    code, _, err = run(capsys, "reduce", "kite", "--target", "1,1,1,1,1", *argv)
    lines = err.strip().splitlines()
    assert code == 2 and words in lines[-1] and ("error:" in lines[-1] or "rejected" in lines[-1])
    assert "Traceback" not in err and all("error:" not in line for line in lines[:-1])


def test_a_shell_cap_reached_is_a_reduction_that_ran_but_is_incomplete(capsys):
    """Exit 1 (ran, incomplete), not 2 (refused): the cap is met after the system was solved;
    stderr names the target and the cap, the output shows the survivors."""
    code, out, err = run(capsys, "reduce", "kite", "--target", "1,1,1,1,1", "--max-shells", "0")
    assert code == 1 and "NOT REDUCED (survivors:" in out
    assert "I(1,1,1,1,1)" in err and "--max-shells 0: raise it" in err
    assert "error:" not in err and "Traceback" not in err


def test_targets_file_reduces_many_integrals_in_one_system(tmp_path, capsys):
    listing = tmp_path / "targets.txt"
    listing.write_text("# the bubble\nI(2,1)\n1,2\n\n3,1  # a comment\n")
    code, out, _ = run(capsys, "reduce", "bubble", "--targets", str(listing), "--at",
                       "d=17/3,s=5/7", "--json")
    data = json.loads(out)
    assert code == 0 and [t["target"] for t in data["targets"]] == [[2, 1], [1, 2], [3, 1]]
    d, s = Fraction(17, 3), Fraction(5, 7)
    assert as_dict(data["targets"][0]) == as_dict(data["targets"][1]) == {(1, 1): (3 - d) / s}


def test_targets_file_may_be_a_suite(capsys):
    suite = ROOT / "ibp_evolve" / "judge" / "suite_files" / "triangle_box_paper.toml"
    code, out, _ = run(capsys, "reduce", "triangle_box", "--targets", str(suite), "--json")
    assert code == 0 and json.loads(out)["targets"][0]["target"] == [1, 1, 1, 1, 1, 1, -3]


def test_a_bad_line_in_a_targets_file_names_the_file_and_line(tmp_path, capsys):
    listing = tmp_path / "targets.txt"
    listing.write_text("2,1\n2,x\n")
    code, _, err = run(capsys, "reduce", "bubble", "--targets", str(listing))
    assert code == 2 and "targets.txt' line 2" in err


# -- the exported system ---------------------------------------------------------------------

def _bubble_value(a1: int, a2: int, d, s):
    """I(a1,a2)/I(1,1) of the massless bubble (Gamma functions), zero for a non-positive index."""
    if a1 <= 0 or a2 <= 0:
        return sympy.Integer(0)
    g = sympy.gamma

    def integral(x, y):
        return (s ** (d / 2 - x - y) * g(d / 2 - x) * g(d / 2 - y) * g(x + y - d / 2)
                / (g(x) * g(y) * g(d - x - y)))

    return sympy.gammasimp(sympy.powsimp(integral(a1, a2) / integral(1, 1), force=True))


def test_every_exported_equation_holds_for_the_gamma_function_bubble(tmp_path, capsys):
    path = tmp_path / "system.jsonl"
    code, _, _ = run(capsys, "reduce", "bubble", "--target", "3,2", "--at", "d=17/3,s=5/7",
                     "--export-system", str(path))
    assert code == 0
    header, *equations = [json.loads(line) for line in path.read_text().splitlines()]
    assert header["parameters"] == ["d", "s"] and header["equations"] == len(equations) > 0
    d, s = sympy.symbols("d s", positive=True)
    for eq in equations:
        total = sum(sympy.sympify(poly.replace("^", "**"), locals={"d": d, "s": s})
                    * _bubble_value(*integral, d, s) for integral, poly in eq["terms"])
        assert sympy.simplify(sympy.gammasimp(total)) == 0, eq


def test_mathematica_export_is_a_list_of_equations(tmp_path, capsys):
    path = tmp_path / "system.m"
    code, _, _ = run(capsys, "reduce", "bubble", "--target", "2,1", "--export-system", str(path),
                     "--export-format", "mathematica")
    text = path.read_text()
    assert code == 0 and text.startswith("{") and text.rstrip().endswith("}")
    assert "j[bubble, 2, 1]" in text and "== 0" in text and "**" not in text


# -- start-up --------------------------------------------------------------------------------

@pytest.mark.parametrize("symmetries", ["on", "off"])
def test_reducing_a_small_family_with_warm_caches_loads_neither_numba_nor_sympy(symmetries):
    # The reduction itself, not a first discovery of the family's masters (which may use the
    # compiled solver once, then caches its list): warm the session's cache and share it.
    # With the family, its templates, zero sectors, masters and sector symmetries cached,
    # nothing needs sympy, whose import alone takes longer than the whole small reduction:
    # the mappings are checked at the point on cached U and F tables, their constants read by
    # our own grammar (symmetries on is the default; the kite relates its two sunsets).
    import os
    from ibp_evolve.reducer.family import load_family
    from ibp_evolve.reducer.masters import family_masters
    from ibp_evolve.reducer.ordering import Ordering
    family_masters(load_family("kite"), Ordering.parse(), symmetries=symmetries == "on")
    code = ("import sys; from ibp_evolve.cli.main import main; "
            "rc = main(['reduce', 'kite', '--target', '1,1,1,1,1', '--json', "
            f"'--symmetries', '{symmetries}']); "
            "print(rc, 'numba' in sys.modules, 'ibp_evolve.judge.score' in sys.modules, "
            "'sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                        "HOME": str(Path.home()),
                                        "IBP_EVOLVE_CACHE": os.environ["IBP_EVOLVE_CACHE"]})
    assert out.stdout.split()[-4:] == ["0", "False", "False", "False"], out.stderr[-2000:]


def test_the_parsers_copies_of_objectives_and_ordering_match_the_judge():
    from ibp_evolve.cli import main as cli
    from ibp_evolve.judge.score import OBJECTIVES
    from ibp_evolve.reducer.ordering import DEFAULT_ORDERING
    assert cli.OBJECTIVES == OBJECTIVES and cli.DEFAULT_ORDERING == DEFAULT_ORDERING


def test_score_accepts_a_run_folder(tmp_path, capsys):
    (tmp_path / "run" / "best").mkdir(parents=True)
    (tmp_path / "run" / "best" / "rank01.py").write_text(
        (ROOT / "rules" / "improved_seeding.py").read_text())
    code, out, _ = run(capsys, "score", str(tmp_path / "run"), "--json")
    assert code == 0 and json.loads(out)["targets"][0]["seeds"] == 92


def test_a_target_in_a_zero_sector_is_zero_and_the_output_says_why(capsys):
    """I(1,1,0,0,0) of the kite is a product of two scaleless one-loop tadpoles: it vanishes,
    with no master and no seed, and the masters line says why it is empty."""
    code, out, err = run(capsys, "reduce", "kite", "--target", "1,1,0,0,0")
    assert code == 0 and "I(1,1,0,0,0) = 0" in out
    assert "masters (with sector symmetries) (0): none: every target lies in a zero" in out


def test_export_system_makes_the_folder_it_writes_into(tmp_path, capsys):
    out = tmp_path / "new" / "folder" / "bubble.jsonl"
    code, _, err = run(capsys, "reduce", "bubble", "--target", "2,1", "--export-system",
                       str(out))
    assert code == 0 and out.is_file(), err
    assert not list(out.parent.glob(".*.tmp"))


@pytest.mark.parametrize("analytic", [[], ["--analytic", "d"]])
def test_a_master_target_is_its_own_reduction_without_a_system(capsys, analytic):
    # (the pentabox's top-sector corner, a master, used to build 4,043 seeds' equations)
    import json
    code, out, _ = run(capsys, "reduce", "triangle_box", "--target", "0,1,1,1,1,0,0",
                       "--target", "1,1,1,1,1,0,0", "--json", *analytic)
    result = json.loads(out)
    assert code == 0
    for target in result["targets"]:
        assert target["target"] in result["masters"] and target["reduced"]
        assert target["coefficients"] == [{"master": target["target"], "value": "1"}]
    assert result["stats"]["seeds"] == 0 and result["stats"]["multiply_adds"] == 0
    # a master beside a target that is not: the system is built, the master still is itself
    # (a master outside the other target's sectors, whose seeds the rule would add)
    code, out, _ = run(capsys, "reduce", "triangle_box", "--target", "1,1,0,1,0,1,0",
                       "--target", "1,1,1,1,1,0,-2", "--at", "d=17/3,m1sq=3/7,m2sq=5/11,m3sq=2",
                       "--json", *analytic)
    result = json.loads(out)
    master, other = result["targets"]
    assert master["coefficients"] == [{"master": [1, 1, 0, 1, 0, 1, 0], "value": "1"}]
    assert other["reduced"] and len(other["coefficients"]) > 1
    # the master brings no seeds of its own into the system
    code, out, _ = run(capsys, "reduce", "triangle_box", "--target", "1,1,1,1,1,0,-2", "--at",
                       "d=17/3,m1sq=3/7,m2sq=5/11,m3sq=2", "--json", *analytic)
    alone = json.loads(out)
    assert alone["targets"] == [other] and alone["stats"]["seeds"] == result["stats"]["seeds"]
