"""A calm command line (issue 16): interrupts, closed pipes, help, the end-of-run summary."""

import subprocess
import sys
from pathlib import Path

from ibp_evolve.cli.main import main
from ibp_evolve.runs.progress import verdict

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, **kw):
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, **kw)


def test_ctrl_c_in_any_verb_exits_130_with_one_line():
    # a real SIGINT, delivered while the `families` verb runs (no timing involved)
    proc = _python("import os, signal, sys\n"
                   "import ibp_evolve.cli.main as m\n"
                   "m.cmd_families = lambda args: os.kill(os.getpid(), signal.SIGINT)\n"
                   "sys.exit(m.main(['families']))\n")
    assert proc.returncode == 130
    assert proc.stderr.strip() == "ibp-evolve families: interrupted"
    assert "Traceback" not in proc.stderr


def test_ctrl_c_inside_a_numba_call_is_an_interrupt_not_a_traceback(monkeypatch, capsys):
    """A SIGINT that lands in numba's dispatcher comes out as a SystemError caused by the
    KeyboardInterrupt (seen in `reduce --analytic`): still exit 130 and one line."""
    import ibp_evolve.cli.main as cli

    def numba_interrupted(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("CPUDispatcher(<function _order_keys>) returned a result with "
                              "an exception set") from exc

    monkeypatch.setattr(cli, "cmd_families", numba_interrupted)
    assert cli.main(["families"]) == 130
    assert capsys.readouterr().err.strip() == "ibp-evolve families: interrupted"


def test_a_closed_pipe_ends_quietly():
    # `ibp-evolve families | head -0`: the reader is gone before the table is written
    proc = subprocess.Popen([sys.executable, "-m", "ibp_evolve.cli.main", "families"],
                            cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() in (0, 141)
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_top_level_help_describes_the_program(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "Evolve and judge seeding rules" in out and "130 interrupted" in out
    assert '"""' not in out and "``" not in out


def test_an_incomplete_rule_says_what_it_leaves_not_its_penalty():
    from ibp_evolve.judge.score import fitness_of
    assert verdict(92, True) == "complete"
    # read back from the penalised fitness alone ...
    assert verdict(fitness_of(400, 3, 45), False) == \
        "incomplete: 3 targets not reduced, 45 survivors"
    # ... or from the per-target scores, which also know a target refused over max_seeds
    targets = [{"reduced": False, "n_survivors": 1, "reason": ""},
               {"reduced": True, "n_survivors": 0, "reason": ""},
               {"reduced": False, "n_survivors": 2500, "reason": "max_seeds exceeded"}]
    assert verdict(2e15, False, targets) == \
        "incomplete: 2 targets not reduced (1 over max_seeds), 1 survivor"


def test_evolve_ends_with_the_best_rule_beside_the_baselines(tmp_path, capsys):
    from tests.test_inspect import SUITE
    suite = tmp_path / "box_small.toml"
    suite.write_text(SUITE)
    run = tmp_path / "run"
    assert main(["evolve", "--suite", str(suite), "--population", "8", "--generations", "1",
                 "--workers", "0", "--start", "improved_seeding_dots", "--out", str(run),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("rank"))
    # the fitness of a seeds run is its seed count: one column, not two
    assert header.split()[:5] == ["rank", "status", "seeds", "trimmed", "mult-adds"]
    assert "fitness" not in header
    assert any(line.startswith("improved seeding (Kira 3)") for line in lines)
    assert any(line.startswith("Laporta ") for line in lines)
    assert "arXiv:2502.05121" not in out          # the paper's 88 belongs to the paper suite
    assert f"next: ibp-evolve report {run}" in out
    best = next(line for line in lines if line.startswith("this run's best rule"))
    assert best.split()[4] == "complete"
    # reading the finished run (as `report` does) leaves no -wal/-shm files beside it
    from ibp_evolve.reports.html import read_run
    assert read_run(run).best(1)
    assert not [p.name for p in run.iterdir() if p.name.endswith(("-wal", "-shm"))]


def test_a_time_limit_alone_evolves_until_the_deadline(tmp_path, capsys):
    import json

    import pytest

    from ibp_evolve.engines.gp import DeapEngine, GPConfig
    from tests.test_inspect import SUITE
    with pytest.raises(ValueError, match="needs a time_limit"):
        DeapEngine(GPConfig(generations=None))
    suite = tmp_path / "box_small.toml"
    suite.write_text(SUITE)
    run = tmp_path / "run"
    assert main(["evolve", "--suite", str(suite), "--population", "6", "--time-limit", "2",
                 "--workers", "0", "--out", str(run), "--quiet", "--no-baselines"]) == 0
    assert "time limit reached" in capsys.readouterr().out   # not a generation budget
    config = json.loads((run / "config.json").read_text())
    assert config["engine_config"]["generations"] is None


def test_a_stagnant_population_restarts_from_fresh_trees_and_the_start_rules():
    from ibp_evolve.engines.gp import DeapEngine, GPConfig
    from ibp_evolve.language.library import resolve_rule
    from tests.test_inspect import SUITE
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        suite = Path(folder) / "box_small.toml"
        suite.write_text(SUITE)
        start = resolve_rule("improved_seeding_dots").source
        engine = DeapEngine(GPConfig(population=8, generations=3, seed=1, stagnation=1,
                                     start_rules=(start,))).evolve(str(suite))
    # the start rule is optimal here: the best cannot improve, so generation 2 restarts
    restarted = [s["generation"] for s in engine.logbook_ if s.get("restarted")]
    assert restarted and restarted[0] == 2
    ops = {ind.operation for ind in engine.population_}
    assert "start" in ops or "restart" in ops
    # the best rule survives the restart in the hall of fame
    assert engine.best_.complete


def test_compare_refuses_a_suite_typo_before_building_anything(capsys):
    assert main(["compare", "improved_seeding", "--suite", "typo"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown suite 'typo'" in err
    assert "judge" not in err


def test_the_eta_comes_from_measured_generations_not_the_cold_start():
    import io

    from ibp_evolve.runs.progress import Progress
    out = io.StringIO()
    progress = Progress(stream=out, live=False)
    progress.begin(None, done_generations=0, total_generations=41, time_limit=None)

    def stats(g, seconds):
        return {"generation": g, "seconds": seconds, "best_fitness": 92, "best_seeds": 92,
                "best_complete": 1, "best_size": 9, "share_complete": 0.5,
                "evals_per_second": 10, "evaluations": 5, "cache_hits": 0}
    progress.generation(stats(0, 50.0))     # compilation and judges: no estimate from this
    progress.generation(stats(1, 2.0))
    first, second = out.getvalue().splitlines()
    assert "ETA" not in first
    assert second.endswith("ETA 1m18s")     # 39 generations left at 2 s each
    # the best of a seeds run is its seed count, said once
    assert "best 92 seeds, size 9" in second and second.count("92") == 1


def test_a_restart_is_recorded_in_the_run_folder(tmp_path, capsys):
    import sqlite3

    from tests.test_inspect import SUITE
    suite = tmp_path / "box_small.toml"
    suite.write_text(SUITE)
    run = tmp_path / "run"
    assert main(["evolve", "--suite", str(suite), "--population", "6", "--generations", "3",
                 "--workers", "0", "--start", "improved_seeding_dots", "--stagnation", "1",
                 "--out", str(run), "--quiet", "--no-baselines"]) == 0
    db = sqlite3.connect(run / "run.sqlite")
    try:
        ops = {row[0] for row in db.execute("SELECT operation FROM candidates "
                                            "WHERE generation = 2")}
    finally:
        db.close()
    assert ops <= {"restart", "start"} and "start" in ops


def test_a_restarted_population_climbs_while_it_improves_on_its_own_best():
    """Stagnation after a restart is judged by the fresh population's own best: one that is
    still improving is not restarted again merely because it has not yet overtaken the run's
    best (the previous basin)."""
    from ibp_evolve.engines.gp import DeapEngine, GPConfig
    engine = DeapEngine(GPConfig(population=8, seed=1, stagnation=2))
    engine.logbook_ = [{"best_fitness": 100, "population_best": "100"},
                       {"best_fitness": 100, "population_best": "100"},
                       {"best_fitness": 100, "population_best": "500", "restarted": 1},
                       {"best_fitness": 100, "population_best": "400"},
                       {"best_fitness": 100, "population_best": "300"}]
    assert not engine._stagnant()
    engine.logbook_ += [{"best_fitness": 100, "population_best": "300"}] * 2
    assert engine._stagnant()
    # a logbook written before population_best reads the run's best
    engine.logbook_ = [{"best_fitness": 100}, {"best_fitness": 100}, {"best_fitness": 100}]
    assert engine._stagnant()


def test_ctrl_c_inside_a_numba_call_in_evolve_is_an_interrupt(monkeypatch, tmp_path, capsys):
    """The same disguised Ctrl-C in `evolve` (in-process scoring) stops like a plain one:
    exit 130, nothing kept before the first generation, no traceback."""
    from ibp_evolve.engines.gp import DeapEngine

    def numba_interrupted(self, *args, **kw):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("returned a result with an exception set") from exc

    monkeypatch.setattr(DeapEngine, "evolve", numba_interrupted)
    out = tmp_path / "run"
    assert main(["evolve", "--population", "12", "--generations", "1", "--workers", "0",
                 "--quiet", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted before the first generation" in err and "Traceback" not in err
    assert not out.exists()


def test_every_verb_with_a_suite_names_its_default_and_where_suites_are_listed(capsys):
    import pytest
    for verb in ("score", "evolve", "minimize", "distill"):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "ibp-evolve suites lists them" in text and "(default triangle_box_paper)" in text


def test_suites_show_lists_a_suites_targets_with_their_measures(capsys):
    """The paper's suite: one target I(1,1,1,1,1,1,-3), six lines, r = 6, s = 3, no dots."""
    assert main(["suites", "show", "triangle_box_paper"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("suite triangle_box_paper: family triangle_box, 1 target;")
    assert "sector symmetries off" in out[0]
    assert out[-1].split() == ["I(1,1,1,1,1,1,-3)", "6", "6", "3", "0"]
