"""Bad input found by the adversarial sweep ends in one line and exit status 2, not a traceback."""

import pytest

from ibp_evolve.cli.main import main


@pytest.fixture
def cache_is_a_file(tmp_path, monkeypatch):
    path = tmp_path / "not-a-folder"
    path.write_text("")
    monkeypatch.setenv("IBP_EVOLVE_CACHE", str(path))
    return path


def _one_line_error(capsys, argv, *expected):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in err, err


def test_a_rule_file_that_is_not_utf8_is_refused_in_one_line(tmp_path, capsys):
    rule = tmp_path / "latin1.py"
    rule.write_bytes(b"def keep(seed, target):\n    return seed.d == 0  # \xff\xfe\n")
    _one_line_error(capsys, ["score", str(rule)], "latin1.py", "not UTF-8")


@pytest.mark.parametrize("argv", [["reduce", "bubble", "--target", "2,1"],
                                  ["score", "improved_seeding"],
                                  ["evolve", "--generations", "1", "--population", "20"]])
def test_a_cache_folder_that_is_a_file_is_refused_in_one_line(cache_is_a_file, capsys, argv,
                                                               tmp_path):
    if argv[0] == "evolve":
        argv = argv + ["--out", str(tmp_path / "run")]
    _one_line_error(capsys, argv, str(cache_is_a_file), "is a file, not a folder")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option, value", [("--documents", "0"), ("--steps", "-3"),
                                           ("--minutes", "nan"), ("--heads", "0")])
def test_train_mutator_refuses_empty_budgets_in_one_line(tmp_path, capsys, option, value):
    _one_line_error(capsys, ["train-mutator", "--out", str(tmp_path / "m"), option, value],
                    option)


def test_a_suite_over_the_candidate_cap_stops_evolve_in_one_line_from_a_pool_worker(
        tmp_path, capsys):
    suite = tmp_path / "huge.toml"
    suite.write_text('name = "huge"\nfamily = "triangle_box"\n'
                     'targets = [[30, 30, 30, 1, 1, 1, 0]]\n')
    code = main(["evolve", "--suite", str(suite), "--generations", "1", "--population", "20",
                 "--workers", "1", "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "could not build its judge: suite 'huge', target [30, 30, 30, 1, 1, 1, 0]" in err
    assert not (tmp_path / "run").exists()


def test_evolve_takes_the_judges_size_options_to_its_workers(tmp_path, capsys):
    # the candidate cap named in the refusal above can be raised on evolve's command line;
    # the worker then applies the memory cap it was given
    suite = tmp_path / "huge.toml"
    suite.write_text('name = "huge"\nfamily = "triangle_box"\n'
                     'targets = [[30, 30, 30, 1, 1, 1, 0]]\n')
    code = main(["evolve", "--suite", str(suite), "--generations", "1", "--population", "20",
                 "--workers", "1", "--max-candidates", "3000000000", "--max-memory", "1K",
                 "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "more than --max-memory 1.0 KiB" in err
    assert main(["evolve", "--max-candidates", "x", "--out", str(tmp_path / "r2")]) == 2
    assert "--max-candidates 'x'" in capsys.readouterr().err


@pytest.mark.parametrize("verb", [["score"], ["inspect", "--quiet"], ["compare", "--quiet"],
                                  ["minimize"], ["reduce", "kite", "--target", "1,1,1,1,1",
                                                 "--rule"]])
def test_a_rule_the_validator_refuses_is_bad_input_in_every_verb(tmp_path, capsys, verb):
    """Exit 2 (bad input) and one line naming the file and the construct, whichever verb
    reads the rule; 3 is kept for a missing dependency or service."""
    rule = tmp_path / "uses_os.py"
    rule.write_text("import os\ndef keep(seed, target):\n    return True\n")
    _one_line_error(capsys, [*verb, str(rule)], "rule rejected", "uses_os.py", "import")


@pytest.mark.parametrize("verb", [["inspect", "--quiet"], ["compare", "--quiet"],
                                  ["score"]])
def test_a_folder_that_is_not_a_run_is_named_as_such(tmp_path, capsys, verb):
    """An empty folder given as RULE is not 'a rule file that does not exist'."""
    folder = tmp_path / "not_a_run"
    folder.mkdir()
    assert main([*verb, str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "not_a_run' is a folder, neither a rule file nor a run folder" in err


def test_a_suite_file_given_as_the_rule_points_to_suite(tmp_path, capsys):
    suite = tmp_path / "mine.toml"
    suite.write_text('name = "mine"\nfamily = "kite"\ntargets = [[1, 1, 1, 1, 1]]\n')
    _one_line_error(capsys, ["score", str(suite)], "mine.toml' is a TOML file, not a rule",
                    "--suite")


@pytest.mark.parametrize("verb", [["score", "improved_seeding"],
                                  ["minimize", "improved_seeding"],
                                  ["distill"],
                                  ["reduce", "bubble", "--target", "2,1"]])
@pytest.mark.parametrize("value", ["-1", "0", "nan", "soon"])
def test_a_time_limit_that_is_not_a_positive_number_is_refused(capsys, verb, value):
    """It reached the rule sandbox as a ValueError traceback (exit 1) in score."""
    try:
        code = main([*verb, "--time-limit", value])
    except SystemExit as stop:   # argparse's own refusal
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"--time-limit: '{value}': expected a positive number of seconds" in err


def test_rank_zero_of_a_run_is_refused_not_the_last_rule(tmp_path, capsys):
    from ibp_evolve.reports.html import read_run
    from ibp_evolve.runs.store import RunError
    run = tmp_path / "run"
    assert main(["evolve", "--population", "8", "--generations", "0", "--workers", "0",
                 "--quiet", "--no-baselines", "--out", str(run)]) == 0
    capsys.readouterr()
    with pytest.raises(RunError, match="--rank 0: ranks start at 1"):
        read_run(run).rule(0)
    assert main(["inspect", str(run), "--rank", "0", "--quiet"]) == 2
    assert "ranks start at 1" in capsys.readouterr().err


@pytest.mark.parametrize("argv, named", [
    (["evolve", "--objective", "nosuch"], "invalid choice: 'nosuch'"),
    (["reduce", "bubble", "--target", "2,1", "--format", "latex"], "invalid choice: 'latex'"),
    (["families", "show", "bubble", "--symmetries", "maybe"], "invalid choice: 'maybe'"),
    (["suites", "generate", "kite", "--count", "three", "--out", "x.toml"], "'three'"),
    (["score"], "required: rule"),
    (["nosuchverb"], "invalid choice: 'nosuchverb'"),
])
def test_a_mistyped_option_is_one_line_naming_it_not_a_usage_block(capsys, argv, named):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.count("\n") == 1 and named in err and "usage:" not in err, err


def test_a_readme_path_to_a_shipped_start_rule_names_the_shipped_file_from_another_folder(
        tmp_path, monkeypatch, capsys):
    """`--start seeds/improved_seeding_start.py` (the README's words) works only inside a
    checkout; elsewhere the one line says where the file that ships with the package is."""
    from ibp_evolve.resources import seeds_dir
    monkeypatch.chdir(tmp_path)
    shipped = seeds_dir() / "improved_seeding_start.py"
    _one_line_error(capsys, ["score", "seeds/improved_seeding_start.py"],
                    "'seeds/improved_seeding_start.py' does not exist here", str(shipped))
    _one_line_error(capsys, ["score", "seeds/no_such_start.py"], "does not exist")
    assert main(["score", str(shipped), "--json"]) == 0


def test_a_start_rule_reading_a_feature_the_gp_lacks_names_the_rule_and_the_option(
        tmp_path, capsys):
    """`--start tube_seeding_start` without `--features tube` said only 'seed.tube is not in
    the GP primitive set'."""
    run = tmp_path / "run"
    _one_line_error(capsys, ["evolve", "--start", "tube_seeding_start", "--population", "6",
                             "--generations", "1", "--workers", "0", "--out", str(run),
                             "--quiet", "--no-baselines"],
                    "start rule 1 of 1: seed.tube is not in the GP primitive set", "--features")
    assert not run.exists()


def test_a_target_copied_from_the_output_as_I_of_indices_is_read_as_in_a_targets_file(capsys):
    """`reduce` prints I(2,1); `--target I(2,1)` was refused while a --targets file took it."""
    at = ["--at", "d=17/3,s=5/7", "--json"]
    assert main(["reduce", "bubble", "--target", "I(2,1)", *at]) == 0
    written = capsys.readouterr().out
    assert main(["reduce", "bubble", "--target", "2,1", *at]) == 0
    assert written.split('"seconds"')[0] == capsys.readouterr().out.split('"seconds"')[0]


def test_a_bad_line_of_a_targets_file_is_named_once(tmp_path, capsys):
    targets = tmp_path / "targets.txt"
    targets.write_text("I(2,1)\nfoo\n")
    _one_line_error(capsys, ["reduce", "bubble", "--targets", str(targets)],
                    f"--targets '{targets}' line 2 'foo': expected comma-separated integers")
    targets.write_text("# three indices for a two-index family\nI(2,1,1)\n")
    _one_line_error(capsys, ["reduce", "bubble", "--targets", str(targets)],
                    "line 2 [2, 1, 1]: family 'bubble' has 2 indices, got 3")
    assert capsys.readouterr().err == ""
    main(["reduce", "bubble", "--targets", str(targets)])
    assert capsys.readouterr().err.count("--targets") == 1
