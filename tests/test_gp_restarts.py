"""What makes the default GP run reliable (issue 16): a first population of distinct seed
selections, and restarts that bring in the library's improved seeding besides fresh trees."""

from __future__ import annotations

import pytest

from ibp_evolve.cli.evolve import _start_sources
from ibp_evolve.engines.gp import (DeapEngine, GPConfig, GPSourceError, PrimitiveSet,
                                   tree_from_source)
from ibp_evolve.language.library import resolve_rule
from ibp_evolve.runs.evaluation import SuiteSpec, mask_hash, suite_features

PAPER = SuiteSpec("triangle_box_paper", max_seeds=2000)


@pytest.fixture(scope="module")
def improved_mask():
    """The seed selection of improved seeding on the paper's target, as a GP tree selects it."""
    pset = PrimitiveSet(7)
    tree = tree_from_source(resolve_rule("improved_seeding").source, pset)
    return mask_hash(pset.masks(tree, suite_features(PAPER.load())))


def asked(config: GPConfig, generation: int = 0, logbook=()):
    """The candidates an engine proposes for ``generation`` after ``logbook`` (no scoring)."""
    engine = DeapEngine(config)
    engine.setup(PAPER)
    engine.begin(resumed=False)
    engine.logbook_ = list(logbook)
    return engine, engine.ask(generation)


def test_the_first_population_holds_distinct_seed_selections():
    """Plain random trees repeat selections (keep-all, keep-none...) in most slots; re-drawn,
    nearly every slot of the first population selects seeds of its own."""
    def distinct(flag):
        _, candidates = asked(GPConfig(population=100, seed=4, distinct_start=flag))
        assert len(candidates) == 100
        return len({c.digest for c in candidates})
    plain, redrawn = distinct(False), distinct(True)
    assert plain < 50 and redrawn >= 80   # measured: 39 and 87


STAGNANT = [{"population_best": "300", "best_fitness": 300}] * 4   # no progress for 3 gens


def test_a_stagnant_population_restarts_with_improved_seeding_among_fresh_trees(improved_mask):
    engine, candidates = asked(GPConfig(population=40, seed=2, stagnation=3), 4, STAGNANT)
    assert engine._restarted
    starts = [c for c in candidates if c.operation == "start"]
    assert [c.digest for c in starts] == [improved_mask]
    assert {c.operation for c in candidates} == {"start", "restart"}
    assert len({c.digest for c in candidates}) >= 30   # the fresh trees are distinct too (33)


def test_the_first_population_stays_random(improved_mask):
    """Improved seeding rescues a stuck run; it is not where a run starts."""
    _, candidates = asked(GPConfig(population=40, seed=2))
    assert {c.operation for c in candidates} == {"random"}
    assert improved_mask not in {c.digest for c in candidates}


def test_no_restart_rules_means_fresh_trees_only(improved_mask):
    engine, candidates = asked(GPConfig(population=40, seed=2, stagnation=3, restart_rules=()),
                               4, STAGNANT)
    assert engine._restarted and {c.operation for c in candidates} == {"restart"}


def test_a_restart_rule_the_primitive_set_cannot_express_is_left_out():
    """With terminals that lack ``d`` (``--features``), improved seeding is not a GP tree: the
    restart goes on with fresh trees instead of failing the run."""
    config = GPConfig(population=20, seed=2, stagnation=3, features=("s", "s_target", "r"))
    engine, candidates = asked(config, 4, STAGNANT)
    assert engine._restarted and {c.operation for c in candidates} == {"restart"}


def test_a_run_begun_before_restart_rules_resumes_as_it_began():
    """config.json of an older run lacks the new settings: not the new defaults, the old
    behaviour (no restart rules, plain random trees), so its resume matches its start."""
    old = {k: v for k, v in GPConfig(generations=40).to_json().items()
           if k not in ("distinct_start", "restart_rules")}
    config = GPConfig.from_json({k: v for k, v in old.items() if k != "inject_every"})
    assert config.restart_rules == () and not config.distinct_start and not config.inject_every
    assert config.generations == 40
    new = GPConfig.from_json(GPConfig().to_json())
    assert new.restart_rules == ("improved_seeding",) and new.distinct_start


def test_an_unknown_restart_rule_is_a_one_line_error():
    with pytest.raises(GPSourceError, match="restart rule 'improved_seedng': unknown rule"):
        asked(GPConfig(population=4, restart_rules=("improved_seedng",)))


def test_a_population_that_never_restarts_still_meets_improved_seeding(tmp_path, improved_mask):
    """Every ``inject_every`` generations the restart rules join the offspring (here at 2 and 4),
    so a run climbing slowly in a poor basin, never stagnant, is not left there."""
    from ibp_evolve.runs.evaluation import LocalEvaluator
    from ibp_evolve.runs.store import RunFolder
    run = RunFolder.create(tmp_path / "run", {"engine": "deap"})
    DeapEngine(GPConfig(population=12, generations=4, seed=1, stagnation=0, inject_every=2,
                        polish=0)   # (a polish round at 4 would not breed: no visit)
               ).evolve(PAPER, evaluator=LocalEvaluator(PAPER), run=run)
    rows = run.db.conn.execute("SELECT generation, mask_hash FROM candidates "
                               "WHERE operation = 'start'").fetchall()
    assert sorted(tuple(r) for r in rows) == [(2, improved_mask), (4, improved_mask)]


def test_a_selection_that_stays_old_is_kept_after_the_last_redraw():
    """The one redraw rule of first trees and offspring: up to ``retries`` more draws, then
    the last one is taken (a slot is never left empty)."""
    engine, _ = asked(GPConfig(population=4, seed=3, retries=2))
    drawn = []

    def draw():
        drawn.append(engine._new(engine.toolbox.expr_init(), "random"))
        return drawn[-1]
    assert engine._redrawn(draw, lambda ind: False) is drawn[-1] and len(drawn) == 3
    drawn.clear()
    assert engine._redrawn(draw, lambda ind: ind.digest is not None) is drawn[0]
    assert len(drawn) == 1


def _evolve_box(tmp_path, *options):
    """``evolve`` on the small box suite (a restart at generation 2: the start rule there is
    optimal, so the best cannot improve); returns (exit status, run folder)."""
    from ibp_evolve.cli.main import main
    from tests.test_inspect import SUITE
    tmp_path.mkdir(exist_ok=True)
    suite = tmp_path / "box_small.toml"
    suite.write_text(SUITE)
    run = tmp_path / "run"
    status = main(["evolve", "--suite", str(suite), "--population", "6", "--generations", "3",
                   "--workers", "0", "--start", "improved_seeding_dots", "--stagnation", "1",
                   "--out", str(run), "--quiet", "--no-baselines", *options])
    return status, run


def _rules_at_restart(run) -> set:
    """The rule sources that join the restart at generation 2 (not fresh trees)."""
    import sqlite3
    db = sqlite3.connect(run / "run.sqlite")
    try:
        return {row[0] for row in db.execute("SELECT source FROM candidates WHERE "
                                             "generation = 2 AND operation = 'start'")}
    finally:
        db.close()


def test_restart_rules_are_chosen_on_the_command_line_and_recorded(tmp_path):
    """``--restart-rules none``: the restart holds fresh trees and the run's own start rule
    only; a named rule (here Laporta's box) joins it besides; config.json says which."""
    import json
    runs = {}
    for option in ("none", "laporta_start"):
        status, runs[option] = _evolve_box(tmp_path / option, "--restart-rules", option)
        assert status == 0
    config = {k: json.loads((run / "config.json").read_text())["engine_config"]
              for k, run in runs.items()}
    assert config["none"]["restart_rules"] == []
    assert config["laporta_start"]["restart_rules"] == [_start_sources(["laporta_start"])[0]]
    assert len(_rules_at_restart(runs["none"])) == 1            # the start rule
    assert len(_rules_at_restart(runs["laporta_start"])) == 2   # and Laporta's


@pytest.mark.parametrize("option, message", [
    ("improved_seedng", "--restart-rules: unknown rule 'improved_seedng'"),
    ("tube_seeding_start", "--restart-rules: 'tube_seeding_start' is not one GP tree"),
])
def test_a_restart_rule_the_run_cannot_use_is_refused_in_one_line(tmp_path, capsys, option,
                                                                   message):
    status, run = _evolve_box(tmp_path, "--restart-rules", option)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and message in err
    assert not run.exists()
