"""The polish at the end of a GP run (issue 16): the last generations of the budget climb from
the best rule through its neighbours (a clause dropped or added, a bound moved by one, a
feature or operation swapped) instead of breeding."""

from __future__ import annotations


import pytest

from ibp_evolve.engines.gp import DeapEngine, GPConfig, PrimitiveSet, tree_from_source
from ibp_evolve.language.library import resolve_rule
from ibp_evolve.runs.evaluation import LocalEvaluator, SuiteSpec
from ibp_evolve.runs.store import RunFolder

PAPER = SuiteSpec("triangle_box_paper", max_seeds=2000)
IMPROVED = resolve_rule("improved_seeding").source


@pytest.fixture(scope="module")
def evaluator():
    return LocalEvaluator(PAPER)


def test_the_neighbours_of_a_rule_drop_add_and_move_its_clauses():
    engine = DeapEngine(GPConfig())
    engine.setup(PAPER)
    pset = engine.primitives
    tree = engine._new(tree_from_source(IMPROVED, pset))
    formulas = {tuple(PrimitiveSet.names(n)) for n in engine._neighbours(tree)}

    def names(body):
        return tuple(PrimitiveSet.names(tree_from_source(
            f"def keep(seed, target):\n    return {body}\n", pset)))
    assert names("seed.d <= target.d and True") in formulas              # a clause dropped
    assert names("seed.d < target.d and seed.s <= target.s - seed.missing") in formulas
    assert names("seed.d <= target.d and seed.s <= target.s - seed.missing + 1") in formulas
    assert names("(seed.d <= target.d and seed.s <= target.s - seed.missing) "
                 "and seed.a[0] <= seed.a[2]") in formulas                # a clause added
    assert names(IMPROVED.split("return ")[1]) not in formulas            # not itself
    assert len(formulas) == len(engine._neighbours(tree))                 # each once


def test_the_polish_climbs_from_improved_seeding_to_fewer_seeds(tmp_path, evaluator):
    """Improved seeding (92 seeds on the paper's target) as the start rule of a population too
    small to improve on it: the one polish round finds a complete rule with fewer seeds among
    its neighbours, and the run's best rule is that neighbour."""
    config = GPConfig(population=4, generations=4, polish=1, seed=1, stagnation=0,
                      inject_every=0, start_rules=(IMPROVED,))
    run = RunFolder.create(tmp_path / "run", {"engine": "deap"})
    engine = DeapEngine(config).evolve(PAPER, evaluator=evaluator, run=run)
    assert [s.get("polish") for s in engine.logbook_] == [None] * 4 + [1]
    assert engine.logbook_[3]["best_seeds"] == 92
    best = engine.best_
    assert best.complete and best.seeds < 92 and best.generation == 4
    operation, = run.db.conn.execute("SELECT operation FROM candidates WHERE id = ?",
                                     (best.candidate,)).fetchone()
    assert operation == "polish"
    run.close()


def test_a_polish_budget_takes_at_most_a_quarter_of_the_generations():
    def polished(generations, polish=5):
        engine = DeapEngine(GPConfig(generations=generations, polish=polish))
        return [g for g in range(generations + 1) if engine._polishing(g)]
    assert polished(65) == [61, 62, 63, 64, 65]
    assert polished(8) == [7, 8] and polished(3) == [] and polished(65, polish=0) == []


class _Interrupted(LocalEvaluator):
    """Ctrl-C while generation ``at`` is scored."""

    def __init__(self, spec, at):
        super().__init__(spec)
        self.calls, self.at = 0, at

    def evaluate(self, jobs, deadline=None, on_result=None):
        self.calls += 1
        if self.calls > self.at:
            raise KeyboardInterrupt
        return super().evaluate(jobs, deadline, on_result)


def test_a_run_stopped_between_polish_rounds_resumes_as_if_never_stopped(tmp_path, evaluator,
                                                                         candidate_rows):
    """The polish's place (the tree it climbs from, the rules it polished in vain) is in the
    checkpoint: a run stopped after the first of three polish rounds ends as the whole run."""
    config = GPConfig(population=10, generations=12, polish=3, seed=5, stagnation=3,
                      start_rules=(IMPROVED,))

    whole = RunFolder.create(tmp_path / "whole", {"engine": "deap"})
    DeapEngine(config).evolve(PAPER, evaluator=evaluator, run=whole)
    whole.close()
    stopped = RunFolder.create(tmp_path / "stopped", {"engine": "deap"})
    with pytest.raises(KeyboardInterrupt):   # generations 0..10 done, 10 the first polish
        DeapEngine(config).evolve(PAPER, evaluator=_Interrupted(PAPER, 11), run=stopped)
    stopped.close()
    reader = RunFolder.open(tmp_path / "stopped")
    assert "polish" in reader.load_checkpoint()["engine_state"]
    reader.close()
    resumed = RunFolder.open(tmp_path / "stopped", writer=True)
    engine = DeapEngine(config).evolve(PAPER, evaluator=evaluator, run=resumed, resume=True)
    resumed.close()
    assert [s.get("polish") for s in engine.logbook_][-3:] == [1, 1, 1]
    assert candidate_rows(tmp_path / "stopped") == candidate_rows(tmp_path / "whole")


def test_a_run_begun_before_the_polish_resumes_without_it():
    old = {k: v for k, v in GPConfig(generations=60).to_json().items() if k != "polish"}
    assert GPConfig.from_json(old).polish == 0
    assert GPConfig.from_json(GPConfig().to_json()).polish == 5
