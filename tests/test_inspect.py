"""Seed maps: the kept seeds are the rule's, the needed seeds are exactly the seeds of the
mark-and-sweep-trimmed equations, and the pictures are valid PNG and SVG files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.reports.inspect import (draw_seed_map, inspect_rule, judge_for, rule_formula,
                                sector_label, seed_maps)
from ibp_evolve.language.library import resolve_rule
from ibp_evolve.reducer.reduction import reduce_on_seeds
from ibp_evolve.language.parse import load_rule
from ibp_evolve.reducer.sectors import measures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SUITE = """name = "box_small"
family = "box"
targets = [[1, 1, 1, 1], [2, 1, 1, 1]]
max_seeds = 400
symmetries = false
"""


@pytest.fixture(scope="module")
def box_suite(tmp_path_factory):
    path = tmp_path_factory.mktemp("suites") / "box_small.toml"
    path.write_text(SUITE)
    return path


@pytest.fixture(scope="module")
def joint_suite(tmp_path_factory):
    path = tmp_path_factory.mktemp("suites") / "box_joint.toml"
    path.write_text(SUITE.replace("box_small", "box_joint") + "joint = true\n")
    return path


def test_improved_seeding_map_of_the_paper_target_keeps_92_seeds():
    ins = inspect_rule("improved_seeding", "triangle_box_paper")
    (m,) = ins.seed_maps
    assert m.n_kept == 92 == ins.report.targets[0].seeds and ins.report.complete
    cells = m.cells()
    assert sum(c["universe"] for c in cells) == m.n_universe == 26425
    assert sum(c["kept"] for c in cells) == 92
    # the rule keeps no dotted seed, and one numerator power fewer per missing line
    assert all(c["kept"] == 0 for c in cells if c["d"] > 0)
    assert all(c["kept"] == 0 for c in cells if c["s"] > 3 - (6 - c["t"]))
    # in the top sector it keeps exactly I(1,1,1,1,1,1,-s) for s = 0..3, and all are needed
    top = [c for c in cells if c["t"] == 6 and c["kept"]]
    assert sorted((c["d"], c["s"], c["kept"]) for c in top) == [(0, s, 1) for s in range(4)]
    assert 0 < m.n_needed <= 92 and not (m.needed & ~m.kept).any()
    assert ins.formula == "d <= d_target and s <= s_target - missing"


def test_needed_seeds_are_exactly_the_seeds_of_the_trimmed_equations(box_suite):
    judge = judge_for(str(box_suite))
    rule = resolve_rule("laporta")
    masks = judge.masks(rule)
    maps = seed_maps(judge, masks)
    for i, (m, mask) in enumerate(zip(maps, masks)):
        assert np.array_equal(m.kept, mask)
        red = reduce_on_seeds(judge.systems[i], np.flatnonzero(mask), [m.target],
                              judge.masters)
        system = judge.systems[i]
        expected = set(np.unique(system.seed_of_equation(red.solution.trimmed_equations)))
        assert set(np.flatnonzero(m.needed)) == expected
        # needed seeds are seed integrals the rule kept, by their indices
        kept_rows = {tuple(r) for r in m.universe[m.kept]}
        assert {tuple(r) for r in system.seeds[sorted(expected)]} <= kept_rows
    # laporta keeps seeds the reduction never touches: the map must show the difference
    assert sum(m.n_kept for m in maps) > sum(m.n_needed for m in maps)


def test_with_symmetries_the_needed_seeds_are_those_whose_images_score_solves():
    # score solves a seed's images in the unique sectors, not the seed: the needed seeds
    # alone give score's trimmed system (solving the seeds as they are marked other seeds:
    # I(1,1,1,0,-1,1,-2), in a mirror sector, then had 73 trimmed equations, not 66)
    from ibp_evolve.judge.suites import load_suite
    from ibp_evolve.judge.score import Judge
    judge = Judge(load_suite("triangle_box_symmetric"))
    masks = judge.masks(resolve_rule("tube_seeding"))
    report = judge.score_masks(masks)
    for i, m in enumerate(seed_maps(judge, masks)):
        assert not (m.needed & ~m.kept).any() and m.reduced
        alone = judge.score_masks([m.needed if k == i else masks[k]
                                   for k in range(len(masks))]).targets[i]
        assert alone.reduced
        assert alone.trimmed_equations == report.targets[i].trimmed_equations, m.target


# tube_seeding: on seeds sorted by their indices the box pair's joint solve needs 6 of them,
# in the order `score` solves them 5
@pytest.mark.parametrize("rule", ["improved_seeding_dots", "tube_seeding"])
def test_joint_suite_marks_seeds_needed_by_the_joint_solve(joint_suite, rule):
    judge = judge_for(str(joint_suite))
    masks = judge.masks(resolve_rule(rule))
    maps = seed_maps(judge, masks)
    union = judge.joint_ids(masks)   # the seeds as `score` and `reduce --targets` number them
    system = judge.systems[0]
    red = reduce_on_seeds(system, union, judge.suite.targets, judge.masters,
                          ties_in_given_order=True)
    # the system `score` reports, trimmed equation for trimmed equation
    assert red.trimmed_equations == judge.score_masks(masks).targets[0].trimmed_equations
    needed = set(np.unique(system.seed_of_equation(red.solution.trimmed_equations)))
    marked = set()
    for i, m in enumerate(maps):
        assert not (m.needed & ~m.kept).any()
        marked |= set(judge.joint_index[i][m.needed].tolist())
    assert marked == needed


def test_a_selection_over_max_seeds_is_drawn_but_not_solved(tmp_path):
    suite = tmp_path / "tiny_cap.toml"
    suite.write_text(SUITE.replace("max_seeds = 400", "max_seeds = 5"))
    ins = inspect_rule("laporta", str(suite))
    assert not any(m.solved for m in ins.seed_maps)
    assert all(m.n_needed == 0 and m.n_kept > 5 for m in ins.seed_maps)
    assert "not solved" in "".join(t.get_text() for t in ins.figure(0).texts)


def test_cells_count_every_candidate_once(box_suite):
    judge = judge_for(str(box_suite))
    (m, _) = seed_maps(judge, judge.masks(resolve_rule("improved_seeding_dots")))
    meas = measures(m.universe)
    for c in m.cells():
        here = (meas["sector"] == c["sector"]) & (meas["d"] == c["d"]) & (meas["s"] == c["s"])
        assert c["universe"] == here.sum() and c["kept"] == (here & m.kept).sum()
        assert c["needed"] == (here & m.needed).sum() and c["t"] == meas["t"][here][0]


def test_formulas_read_like_the_board():
    judge = judge_for("triangle_box_paper")
    assert rule_formula(resolve_rule("laporta"), judge) == "r <= r_target and s <= s_target"
    two_lines = load_rule(
        "def keep(seed, target):\n    x = seed.s + seed.d\n    return x <= target.s\n")
    assert rule_formula(two_lines, judge) == "s + d <= s_target"  # the local is inlined
    with_index = load_rule(
        "def keep(seed, target):\n    return seed.a[6] >= -2 and seed.d == 0\n")
    assert "a7" in rule_formula(with_index, judge)
    assert sector_label(0b0111111, 7) == "1111110"


def test_seed_map_files_are_valid_png_and_svg(box_suite, tmp_path):
    ins = inspect_rule("improved_seeding_dots", str(box_suite))
    written = ins.save(tmp_path)
    names = sorted(p.name for p in written)
    assert names == ["improved_seeding_dots.json",
                     "improved_seeding_dots.seedmap-1.png", "improved_seeding_dots.seedmap-1.svg",
                     "improved_seeding_dots.seedmap-2.png", "improved_seeding_dots.seedmap-2.svg"]
    for i in (1, 2):
        assert (tmp_path / f"improved_seeding_dots.seedmap-{i}.png").read_bytes()[:8] == PNG_MAGIC
        root = ET.parse(tmp_path / f"improved_seeding_dots.seedmap-{i}.svg").getroot()
        assert root.tag.endswith("svg")
        text = "".join(root.itertext())
        assert "t = 4" in text and "kept" in text and "1111" in text  # the top sector
    data = json.loads((tmp_path / "improved_seeding_dots.json").read_text())
    assert data["score"]["complete"] is True
    assert [m["kept"] for m in data["seed_maps"]] == [t["seeds"] for t in data["score"]["targets"]]
    # a notebook shows the summary and the first map inline
    html = ins._repr_html_()
    assert "<svg" in html and "improved_seeding_dots" in html


def test_inspect_command_on_a_library_rule(box_suite, tmp_path, capsys, monkeypatch):
    import tempfile
    (tmp_path / "cwd").mkdir()
    (tmp_path / "tmp").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    code = main(["inspect", "improved_seeding_dots", "--suite", str(box_suite), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert "formula: d <= d_target and s <= max(s_target - missing, d_target)" in out
    assert "I(2,1,1,1)" in out and "\ncomplete  fitness (seeds)" in out
    paths = [Path(line[len("wrote "):]) for line in out.splitlines() if line.startswith("wrote ")]
    assert len(paths) == 5 and all(p.is_file() for p in paths)
    # nothing lands in the folder the user stands in: a fresh temporary folder, named
    assert list((tmp_path / "cwd").iterdir()) == []
    folder = paths[0].parent
    assert all(p.parent == folder for p in paths) and folder.is_absolute()
    assert folder.name.startswith("ibp-evolve-inspect-improved_seeding_dots-")


def test_inspect_command_on_a_run_writes_into_the_run(box_suite, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["evolve", "--suite", str(box_suite), "--population", "10", "--generations",
                 "1", "--workers", "0", "--start", "improved_seeding_dots", "--out", str(run),
                 "--quiet"]) == 0
    capsys.readouterr()
    code = main(["inspect", str(run), "--formats", "svg"])
    out, err = capsys.readouterr()
    assert code == 0 and "mark and sweep" in err  # progress on stderr
    paths = [Path(line[len("wrote "):]) for line in out.splitlines() if line.startswith("wrote ")]
    assert paths and all(p.parent == run / "inspect" and p.is_file() for p in paths)
    assert {p.suffix for p in paths} == {".svg", ".json"}
    assert "suite box_small" in out  # the run's suite, not the default one


@pytest.mark.parametrize("argv, status, words", [
    (["inspect", "no_such_rule"], 2, "unknown rule 'no_such_rule'"),
    (["inspect", "laporta", "--suite", "no_such_suite"], 2, "no_such_suite"),
    (["inspect", "laporta", "--formats", "gif"], 2, "unknown image format 'gif'"),
])
def test_inspect_bad_input(argv, status, words, capsys):
    assert main(argv + ["--quiet"]) == status
    assert words in capsys.readouterr().err


def test_inspect_rejects_a_forbidden_rule(tmp_path, capsys, box_suite):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\ndef keep(seed, target):\n    return True\n")
    assert main(["inspect", str(bad), "--suite", str(box_suite), "--quiet"]) == 2
    assert "rule rejected" in capsys.readouterr().err


def test_draw_handles_a_rule_that_keeps_nothing(box_suite):
    judge = judge_for(str(box_suite))
    maps = seed_maps(judge, [np.zeros(len(u), bool) for u in judge.universes])
    fig = draw_seed_map(maps[0])
    assert "0 seeds kept" in "".join(t.get_text() for t in fig.texts)


def test_an_unreduced_target_turns_only_its_verdict_red(box_suite):
    """The seed map of a target that a rule leaves unreduced says so in red, and only that
    line: the title and the reading guide stay black."""
    from ibp_evolve.reports.inspect import UNREDUCED_COLOR
    judge = judge_for(str(box_suite))
    maps = seed_maps(judge, [np.zeros(len(u), bool) for u in judge.universes])
    unreduced = next(m for m in maps if not m.reduced)
    fig = draw_seed_map(unreduced, title="rule nothing on suite box_small")
    colors = {t.get_text().split(":")[0].split(" on ")[0]: t.get_color() for t in fig.texts}
    red = [text for text, color in colors.items() if color == UNREDUCED_COLOR]
    assert len(red) == 1 and red[0].startswith("target I(")
    assert colors["rule nothing"] == "black"


def test_every_file_inspect_and_compare_write_is_written_atomically(box_suite, tmp_path,
                                                                     monkeypatch, capsys):
    """Seed maps, the rule's JSON and compare's chart go through the atomic writer (a reader
    never sees half a PNG), and no temporary file is left behind."""
    import ibp_evolve.reports.compare as compare_module
    import ibp_evolve.reports.inspect as inspect_module
    from ibp_evolve.runs.store import atomic_write_bytes
    written = []

    def recording(path, data):
        written.append(Path(path))
        atomic_write_bytes(path, data)

    monkeypatch.setattr(inspect_module, "atomic_write_bytes", recording)
    monkeypatch.setattr(compare_module, "atomic_write_bytes", recording)
    out = tmp_path / "maps"
    # exit 1: improved seeding leaves the dotted I(2,1,1,1) unreduced (the files are written)
    assert main(["inspect", "improved_seeding", "--suite", str(box_suite), "--out", str(out),
                 "--quiet"]) == 1
    chart = tmp_path / "charts" / "chart.png"
    assert main(["compare", "improved_seeding", "--suite", str(box_suite), "--no-baselines",
                 "--chart", str(chart), "--quiet"]) == 1
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert files and sorted(written) == files
    assert not [p for p in files if p.name.endswith(".tmp")]


def test_inspect_exits_1_when_the_rule_leaves_a_target_unreduced(box_suite, tmp_path, capsys):
    # convention of every verb: 1 = ran, but incomplete; the maps are still written
    corner = tmp_path / "corner_only.py"
    corner.write_text("def keep(seed, target):\n    return seed.t == 4 and seed.r == 4\n")
    code = main(["inspect", str(corner), "--suite", str(box_suite), "--out",
                 str(tmp_path / "maps"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1 and "incomplete" in out
    assert (tmp_path / "maps" / "corner_only.json").is_file()
