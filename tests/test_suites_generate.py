"""Suites of many targets: drawn reproducibly, inside their ranges, never in a zero sector."""

import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.judge.generate import Range, generate_targets
from ibp_evolve.judge.score import Judge
from ibp_evolve.judge.suites import SuiteError, builtin_suites, load_suite
from ibp_evolve.language.library import resolve_rule
from ibp_evolve.reducer.family import load_family
from ibp_evolve.reducer.sectors import measures, sector_of, zero_sectors


def _draw(family="triangle_box", count=8, seed=0, **kw):
    ranges = {k: Range.parse(kw.pop(k, v), k) for k, v in (("r", "6..9"), ("s", "2..6"),
                                                              ("d", "0..2"))}
    return generate_targets(load_family(family), count, seed=seed, **ranges, **kw)


def test_the_same_seed_draws_the_same_suite_and_another_seed_another():
    assert _draw(seed=3) == _draw(seed=3)
    assert _draw(seed=3) != _draw(seed=4)


def test_drawn_targets_are_distinct_inside_their_ranges_and_in_non_zero_sectors():
    family = load_family("triangle_box")
    targets = _draw(count=40, seed=1)
    assert len(set(targets)) == 40
    zero = zero_sectors(family)   # Lee's criterion, computed independently of the drawing
    assert zero, "the triangle-box has zero sectors to avoid"
    m = measures(targets)
    assert all(6 <= r <= 9 for r in m["r"]) and all(2 <= s <= 6 for s in m["s"])
    assert all(0 <= d <= 2 for d in m["d"]) and all(t >= 5 for t in m["t"])
    assert not any(sector_of(t) in zero for t in targets)
    assert len(set(zip(m["t"], m["r"], m["s"]))) >= 10   # stratified: spread, not piled up


def test_excluded_targets_are_never_drawn():
    train = load_suite("triangle_box_train").targets
    drawn = _draw(family="triangle_box", count=30, seed=2, r="6..7", s="1..4", d="0..1",
                  exclude=train)
    assert not set(drawn) & set(train)


def test_asking_for_more_targets_than_the_ranges_hold_names_the_count():
    with pytest.raises(SuiteError, match="only 85 integrals.*600 were asked for"):
        _draw(family="box", count=600, r="0..8", s="0..4", d="0..1", min_lines=3)


@pytest.mark.parametrize("text", ["6..x", "9..6", "-1", "1..2..3", "40"])
def test_a_malformed_range_is_refused(text):
    with pytest.raises(SuiteError, match="--r"):
        Range.parse(text, "r")


def test_builtin_validation_suites_are_disjoint_from_their_training_suites():
    names = builtin_suites()
    for family in ("triangle_box", "box", "kite"):
        assert f"{family}_validation" in names
        train = "triangle_box_train" if family == "triangle_box" else f"{family}_train"
        overlap = set(load_suite(train).targets) & set(load_suite(f"{family}_validation").targets)
        assert not overlap, (family, overlap)


def test_improved_seeding_with_dots_reduces_every_box_validation_target():
    report = Judge(load_suite("box_validation")).score(resolve_rule("improved_seeding_dots"))
    assert report.complete, [t.target for t in report.targets if not t.reduced]


def test_suites_command_lists_and_generates(tmp_path, capsys):
    assert main(["suites"]) == 0
    assert "triangle_box_validation" in capsys.readouterr().out
    out = tmp_path / "mine.toml"
    argv = ["suites", "generate", "kite", "--count", "4", "--r", "5..7", "--s", "0..2",
            "--d", "0..2", "--seed", "9", "--out", str(out)]
    assert main(argv) == 0
    suite = load_suite(out)
    assert suite.name == "mine" and len(suite.targets) == 4
    first = out.read_text()
    assert main(argv) == 0 and out.read_text() == first
    assert main(argv[:-1] + [str(tmp_path / "mine.txt")]) == 2
    assert main(["suites", "generate", "kite", "--count", "4", "--d", "3..1",
                 "--out", str(out)]) == 2
    assert "--d '3..1'" in capsys.readouterr().err
