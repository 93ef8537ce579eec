"""`score` (the judge, what evolution optimises) and `reduce` (the real reduction) report the same
system for a target: seeds, equations, trimmed equations and multiply-adds, with sector
symmetries on as with them off.  A rule header's figure is then what the reduction costs.

With symmetries both solve the seeds' images in unique sectors plus the relation rows of
:func:`~ibp_evolve.reducer.symmetry_rows.with_symmetry_rows`, automorphism rows only where
:func:`~ibp_evolve.reducer.symmetry_rows.family_automorphism_region` puts them (reduce used to
put them in every sector with a self-map: twice the multiply-adds on the paper target).
`reduce --targets` joins its targets into one system while a suite scores each target alone,
so a multi-target suite is compared target by target.
"""

import json

import pytest

from ibp_evolve.cli.main import main

FIGURES = ("seeds", "equations", "trimmed_equations", "multiply_adds")
TRIANGLE_BOX_POINT = "d=37/11,m1sq=3/7,m2sq=5/13,m3sq=-2/9"


def _scored(capsys, rule: str, suite: str, symmetries: str) -> dict:
    """{target: figures} of `score RULE --suite SUITE --json`."""
    assert main(["score", rule, "--suite", suite, "--symmetries", symmetries, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["symmetries"] == (symmetries == "on")
    return {tuple(t["target"]): {k: t[k] for k in FIGURES} for t in report["targets"]}


def _reduced(capsys, rule: str, family: str, target, symmetries: str, at: str) -> dict:
    """The figures of `reduce FAMILY --target T --rule RULE --json`, and its stats."""
    assert main(["reduce", family, "--target", ",".join(map(str, target)), "--rule", rule,
                 "--at", at, "--symmetries", symmetries, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)["stats"]
    return {k: stats[k] for k in FIGURES}, stats


# the paper's target; I(1,0,1,0,-1,1,-1) lies in mirror sector 37 (it maps onto 14, the
# sunset whose copy is the 16th master without symmetries); I(1,1,1,0,-1,1,-2) in mirror
# sector 39, which maps onto 15
SYMMETRIC_TARGETS = [(1, 1, 1, 1, 1, 1, -3), (1, 0, 1, 0, -1, 1, -1), (1, 1, 1, 0, -1, 1, -2)]


@pytest.mark.parametrize("symmetries", ["on", "off"])
def test_score_and_reduce_report_the_same_system_for_the_paper_and_mirror_sector_targets(
        capsys, symmetries):
    scored = _scored(capsys, "tube_seeding", "triangle_box_symmetric", symmetries)
    for target in SYMMETRIC_TARGETS:
        figures, stats = _reduced(capsys, "tube_seeding", "triangle_box", target, symmetries,
                                  TRIANGLE_BOX_POINT)
        assert figures == scored[target], target
        assert ("symmetry_equations" in stats) == (symmetries == "on")


def test_the_paper_target_with_symmetries_costs_the_judges_multiply_adds_not_twice_them(
        capsys):
    """Automorphism rows in every sector with a self-map (reduce's old region) used the
    triangle-box's automorphisms where they relate no masters: 753 relation rows instead of
    88, and 37,168 multiply-adds instead of the judge's 18,398, for the same coefficients."""
    figures, stats = _reduced(capsys, "tube_seeding", "triangle_box", SYMMETRIC_TARGETS[0],
                              "on", TRIANGLE_BOX_POINT)
    assert figures == {"seeds": 73, "equations": 657, "trimmed_equations": 319,
                       "multiply_adds": 18_398}
    assert stats["symmetry_equations"] < 100


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["tube_seeding", "rank_path"])
@pytest.mark.parametrize("suite", ["triangle_box_symmetric", "triangle_box_rank_train",
                                   "triangle_box_rank_validation"])
def test_every_target_of_a_multi_target_symmetric_suite_scores_what_it_reduces_to(
        capsys, rule, suite):
    scored = _scored(capsys, rule, suite, "on")
    assert len(scored) > 1
    for target, expected in scored.items():
        figures, _ = _reduced(capsys, rule, "triangle_box", target, "on", TRIANGLE_BOX_POINT)
        assert figures == expected, target


def test_a_double_box_mirror_sector_target_scores_what_it_reduces_to(capsys, tmp_path):
    """I(1,1,-1,1,2,1,1,0,-1) lies in a mirror sector of the double box, whose automorphisms
    (unlike the triangle-box's) relate masters: the region keeps their rows, in both paths."""
    target = [1, 1, -1, 1, 2, 1, 1, 0, -1]
    suite = tmp_path / "mirror.toml"
    suite.write_text(f'name = "mirror"\nfamily = "double_box"\ntargets = [{target}]\n'
                     "symmetries = true\n")
    scored = _scored(capsys, "tube_seeding", str(suite), "on")
    figures, _ = _reduced(capsys, "tube_seeding", "double_box", target, "on",
                          "d=37/11,s=3/7,t=5/13")
    assert figures == scored[tuple(target)]
