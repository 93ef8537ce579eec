"""The reduce and families commands, including every kind of bad command-line input."""

import json

import pytest

from ibp_evolve.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_reduce_json_has_exactly_the_documented_shape(capsys):
    code, out, _ = run(capsys, "reduce", "bubble", "--target", "2,1", "--at", "d=17/3,s=5/7",
                       "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"family", "point", "symmetries", "masters", "targets", "stats"}
    assert data["family"] == "bubble" and data["point"] == {"d": "17/3", "s": "5/7"}
    assert data["masters"] == [[1, 1]] and data["symmetries"] is True  # the default
    assert data["targets"] == [{"target": [2, 1], "reduced": True,
                                "coefficients": [{"master": [1, 1], "value": "-56/15"}]}]
    assert set(data["stats"]) == {"seeds", "equations", "trimmed_equations", "multiply_adds",
                                  "seconds", "symmetry_equations", "trimmed_symmetry_equations"}
    code, out, _ = run(capsys, "reduce", "bubble", "--target", "2,1", "--at", "d=17/3,s=5/7",
                       "--json", "--symmetries", "off")
    off = json.loads(out)
    assert off["symmetries"] is False and off["targets"] == data["targets"]
    assert set(off["stats"]) == {"seeds", "equations", "trimmed_equations", "multiply_adds",
                                 "seconds"}


@pytest.mark.parametrize("form", [["--target", "-1,1,1,1,1"], ["--target=-1,1,1,1,1"]])
def test_targets_may_start_with_a_negative_index(capsys, form):
    code, out, _ = run(capsys, "reduce", "kite", *form, "--json")
    assert code == 0
    assert json.loads(out)["targets"][0]["target"] == [-1, 1, 1, 1, 1]


def test_readable_table_and_explicit_seed_box(capsys):
    code, out, _ = run(capsys, "reduce", "tadpole", "--target", "3", "--seeds", "laporta:r=3,s=0")
    assert code == 0
    assert "I(3) = (" in out and "laporta:r=3,s=0" in out


def test_too_small_seed_box_reports_survivors_and_exit_1(capsys):
    code, out, _ = run(capsys, "reduce", "bubble", "--target", "3,1", "--seeds",
                       "laporta:r=2,s=0")
    assert code == 1 and "NOT REDUCED" in out


def test_families_lists_every_builtin(capsys):
    code, out, _ = run(capsys, "families")
    assert code == 0
    for name in ("bubble", "tadpole", "box", "kite", "sunrise", "triangle_box", "double_box"):
        assert name in out
    assert "d, m1sq, m2sq, m3sq" in out


@pytest.mark.parametrize("argv, words", [
    (["reduce", "nope", "--target", "1,1"], "unknown family 'nope'"),
    (["reduce", "bubble", "--target", "1,1,1"], "has 2 indices, got 3"),
    (["reduce", "bubble", "--target", "1,x"], "comma-separated integers"),
    (["reduce", "bubble", "--target", "1.5,1"], "comma-separated integers"),
    (["reduce", "bubble", "--target", "1,1", "--at", "d=3"], "missing values for symbols: s"),
    (["reduce", "bubble", "--target", "1,1", "--at", "d=3,s=1,q=2"], "unknown symbol 'q'"),
    (["reduce", "bubble", "--target", "1,1", "--at", "d=3,s=1/0"], "malformed number"),
    (["reduce", "bubble", "--target", "2,1", "--at", "d=17/3,s=0"], "degenerate point"),
    (["reduce", "bubble", "--target", "1,1", "--seeds", "box:7"], "laporta:r=R,s=S"),
    (["reduce", "sunrise", "--target", "1,1,1,1,0"], "is an ISP"),
    (["reduce", "bubble", "--target", "1,1", "--ordering", "t,colour"], "unknown criterion"),
])
def test_bad_command_line_input_is_a_clear_error(capsys, argv, words):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert words in err


def test_score_exits_0_for_a_complete_rule_and_1_for_an_incomplete_one(capsys):
    # the README's exit-status table: 1 means "ran, but a target is not reduced"
    assert main(["score", "improved_seeding_dots", "--suite", "box_train", "--json"]) == 0
    assert main(["score", "improved_seeding", "--suite", "box_train", "--json"]) == 1
    assert main(["score", "improved_seeding", "--suite", "box_train"]) == 1
    assert "incomplete: " in capsys.readouterr().out


def test_families_listing_shows_masters_both_ways_where_cached_and_derives_nothing(
        capsys, monkeypatch, tmp_path):
    """The plain listing reads caches only: on an empty cache every count is '?', and no
    search for symmetries or masters runs; once `families show kite` derived them, the kite
    row reads 4 unique sectors of 8 and 2 masters with symmetries, 3 without."""
    from ibp_evolve.reducer import masters, symmetries, symmetry_search
    monkeypatch.setenv("IBP_EVOLVE_CACHE", str(tmp_path))

    def forget():  # what a fresh process would know: the disk only
        monkeypatch.setattr(symmetries, "_MEMORY", {})
        monkeypatch.setattr(masters, "_MEMORY", {})

    def kite_row(out):  # name, loops, indices, ISPs, "d, s", then the counts
        return next(line for line in out.splitlines() if line.startswith("kite ")).split()[6:]

    def refuse(*args, **kwargs):
        raise AssertionError("the listing started a derivation")

    forget()
    with monkeypatch.context() as patched:
        patched.setattr(symmetry_search, "find_symmetries", refuse)
        patched.setattr(masters, "discover_masters", refuse)
        code, out, _ = run(capsys, "families")
    assert code == 0 and kite_row(out)[:2] == ["?", "?/?"] and "not derived yet" in out
    assert run(capsys, "families", "show", "kite")[0] == 0
    forget()
    code, out, _ = run(capsys, "families")
    assert code == 0 and kite_row(out)[:4] == ["4", "of", "8", "2/3"]
