"""Rules that generalise: the normalised objective, validation inside evolution, --features."""

from __future__ import annotations

import json
import sqlite3
from fractions import Fraction
from pathlib import Path

import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.judge.score import PENALTY, Judge
from ibp_evolve.judge.suites import parse_suite
from ibp_evolve.language.library import resolve_rule
from ibp_evolve.reports.html import build_report, read_run
from ibp_evolve.runs.store import CandidateRecord, RunDatabase, RunFolder
from ibp_evolve.runs.validation import ValidationRecord

# two small triangle-box targets the paper suite does not contain: one dotted, one in a
# five-line subsector
VALIDATION_TOML = """
name = "small_validation"
family = "triangle_box"
targets = [[1, 1, 1, 1, 2, 1, -1], [1, 1, 1, 1, 1, 0, -2]]
"""


@pytest.fixture(scope="module")
def validation_suite(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("suites") / "small_validation.toml"
    path.write_text(VALIDATION_TOML)
    return path


# ----------------------------------------------------------------------------- the objective

def test_the_reference_rule_scores_one_per_target_exactly():
    """relative_trimmed divides each target's trimmed equations by improved_seeding_dots' own:
    the reference itself scores exactly 1 per target, whatever the targets' sizes."""
    suite = parse_suite(VALIDATION_TOML)
    report = Judge(suite).score(resolve_rule("improved_seeding_dots"), "relative_trimmed")
    assert report.complete
    assert report.total == Fraction(2) and report.fitness == 2.0
    assert all(t.reference_trimmed > 0 for t in report.targets)


def test_relative_trimmed_is_an_exact_sum_of_per_target_ratios():
    suite = parse_suite(VALIDATION_TOML)
    judge = Judge(suite)
    plain = judge.score(resolve_rule("laporta"), "trimmed")
    relative = judge.score(resolve_rule("laporta"), "relative_trimmed")
    ratios = [Fraction(t.trimmed_equations, r) for t, r in
              zip(plain.targets, judge.reference_trimmed)]
    assert isinstance(relative.total, Fraction) and relative.total == sum(ratios)
    # the large target counts as one ratio among two, not as most of the sum
    assert plain.targets[0].trimmed_equations > 2 * plain.targets[1].trimmed_equations
    shown = json.loads(json.dumps(relative.to_json()))
    assert shown["total"] == str(sum(ratios))
    # the JSON fitness is exact too: "p/q" text, not a rounded float
    assert Fraction(shown["fitness"]) == relative.exact_fitness == sum(ratios)


def test_completeness_stays_lexicographically_first_under_relative_trimmed():
    suite = parse_suite(VALIDATION_TOML)
    judge = Judge(suite)
    nothing = judge.score("def keep(seed, target):\n    return seed.t == target.t\n",
                          "relative_trimmed")
    assert not nothing.complete and nothing.fitness >= PENALTY


# ----------------------------------------------------------------------------- the database

def _record(cid, fitness, mask):
    return CandidateRecord(id=cid, engine="deap", operation="random", generation=0,
                           source="def keep(seed, target):\n    return True\n",
                           fitness=fitness, complete=fitness < PENALTY, seeds=10, size=3,
                           mask_hash=mask, objective="seeds", scores=[])


def test_the_exported_rule_is_chosen_by_validation(tmp_path):
    """The best rule on the training suite that is incomplete on the validation suite ranks
    after a worse training rule that is complete there."""
    db = RunDatabase(tmp_path / "run.sqlite")
    db.add_candidates([_record(0, 50.0, "a"), _record(1, 60.0, "b"), _record(2, 70.0, "c")])
    db.add_validations([
        ValidationRecord(0, 0, "v", "seeds", "ok", fitness=2e15, complete=False),
        ValidationRecord(1, 0, "v", "seeds", "ok", fitness=900.0, complete=True),
        ValidationRecord(2, 0, "v", "seeds", "ok", fitness=800.0, complete=True)])
    assert [r.id for r in db.best(3)] == [0, 1, 2]
    ranked = db.best_validated(3)
    assert [r.id for r in ranked] == [2, 1, 0]
    assert ranked[0].validation["complete"] and ranked[0].validation["fitness"] == 800.0


def test_a_resume_forgets_the_validations_of_the_generation_in_progress(tmp_path):
    db = RunDatabase(tmp_path / "run.sqlite")
    db.add_validations([ValidationRecord(0, 0, "v", "seeds", "ok"),
                        ValidationRecord(5, 1, "v", "seeds", "ok")])
    db.truncate_after(0)
    assert db.validated_ids() == {0}


def test_a_run_made_before_validation_is_still_readable(tmp_path):
    run = RunFolder.create(tmp_path / "old", {"engine": "deap", "suite": "triangle_box_paper"})
    run.db.add_candidates([_record(0, 50.0, "a")], generation_stats={
        "generation": 0, "candidates": 1, "evaluations": 1, "cache_hits": 0, "failed": 0})
    run.db.conn.execute("DROP TABLE validations")   # as every run folder written before it
    run.close()
    old = RunFolder.open(tmp_path / "old", writer=True)
    try:
        assert old.db.validations() == [] and [r.id for r in old.best_records(5)] == [0]
        old.db.truncate_after(0)
        # a validation added later creates the table
        old.db.add_validations([ValidationRecord(0, 0, "v", "seeds", "ok", 1.0, True)])
        assert old.db.validated_ids() == {0}
    finally:
        old.close()
    assert read_run(tmp_path / "old").validations[0]["candidate"] == 0


# ----------------------------------------------------------------------------- the command

def _evolve(out, suite, *extra):
    return main(["evolve", "--population", "10", "--workers", "0", "--seed", "1",
                 "--start", "improved_seeding_dots", "--validate", str(suite), "--quiet",
                 "--out", str(out), *extra])


def test_evolve_validate_records_plots_and_exports_by_validation(tmp_path, validation_suite,
                                                                 capsys):
    out = tmp_path / "run"
    assert _evolve(out, validation_suite, "--generations", "1",
                   "--objective", "relative_trimmed") == 0
    capsys.readouterr()
    db = RunDatabase(out / "run.sqlite", create=False)
    validations = db.validations()
    assert {v["generation"] for v in validations} == {0, 1}
    assert all(v["suite"] == "small_validation" for v in validations)
    assert len({v["candidate"] for v in validations}) == len(validations)
    best = db.best_validated(1)[0]
    db.close()
    # the start rule is complete on the validation suite: so is the exported rule
    assert best.validation["complete"]
    header = (out / "best" / "rank01.py").read_text()
    assert "# Measured on triangle_box_paper: complete" in header
    assert "# Measured on small_validation: complete (2 targets)" in header
    assert json.loads((out / "config.json").read_text())["validate"]["n_rules"] == 3
    page = build_report(out, seed_maps=0, baselines=())
    assert "id='validation'" in page and "Training against validation" in page
    assert page.index("id='validity'") < page.index("id='validation'") < page.index(
        "id='pareto'") and "aria-label='validation'" in page


def test_a_run_without_validation_has_no_validation_section(tmp_path):
    out = tmp_path / "plain"
    assert main(["evolve", "--population", "6", "--generations", "0", "--workers", "0",
                 "--quiet", "--out", str(out)]) == 0
    page = build_report(out, seed_maps=0, baselines=())
    assert "id='validation'" not in page and "href='#validation'" not in page


def test_a_resumed_validated_run_matches_an_uninterrupted_one(tmp_path, validation_suite):
    first = tmp_path / "resumed"
    assert _evolve(first, validation_suite, "--generations", "1") == 0
    assert main(["evolve", "--resume", str(first), "--generations", "3", "--workers", "0",
                 "--quiet"]) == 0
    whole = tmp_path / "whole"
    assert _evolve(whole, validation_suite, "--generations", "3") == 0

    def contents(folder):
        db = sqlite3.connect(folder / "run.sqlite")
        validated = db.execute("SELECT candidate, generation, fitness, complete, seeds, "
                               "trimmed_equations, total FROM validations "
                               "ORDER BY candidate").fetchall()
        return validated, (folder / "best" / "rank01.py").read_text().split("\n", 1)[1]
    assert contents(first) == contents(whole)


def test_a_validation_suite_of_another_family_is_allowed_but_said(tmp_path, capsys):
    train = tmp_path / "bubble.toml"
    train.write_text('name = "bubble_train"\nfamily = "bubble"\ntargets = [[2, 1]]\n')
    other = tmp_path / "tadpole.toml"
    other.write_text('name = "tadpole_check"\nfamily = "tadpole"\ntargets = [[3]]\n')
    code = main(["evolve", "--suite", str(train), "--validate", str(other), "--population",
                 "6", "--generations", "0", "--workers", "0", "--quiet",
                 "--out", str(tmp_path / "run")])
    assert code == 0
    assert "family tadpole, the training suite of family bubble" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--validate", "no_such_suite"], "--validate 'no_such_suite'"),
    (["--features", "offset,tueb"], "--features: unknown feature 'tueb'; did you mean 'tube'"),
    (["--engine", "llm", "--features", "tube"], "--features is an option of the deap engine"),
    (["--validate-rules", "2"], "--validate-rules needs --validate SUITE"),
])
def test_bad_validation_and_feature_options_are_one_line_errors(tmp_path, capsys, args,
                                                                message):
    out = tmp_path / "run"
    assert main(["evolve", *args, "--out", str(out), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_features_add_whole_vocabulary_families_to_the_gp_terminals(tmp_path):
    out = tmp_path / "run"
    assert main(["evolve", "--features", "offset,tube", "--population", "6",
                 "--generations", "0", "--workers", "0", "--quiet", "--out", str(out)]) == 0
    features = json.loads((out / "config.json").read_text())["engine_config"]["features"]
    assert features[:7] == [f"a{i}" for i in range(1, 8)]
    assert [f for f in features if f.startswith("offset")] == [f"offset{i}"
                                                                for i in range(1, 8)]
    assert features[-1] == "tube"


# ----------------------------------------------------------------------------- other engines

class _ReplayedModel:
    """Completions chosen by the sampling seed only, like a model sampled with that seed."""
    description = "replayed"
    completions = ["    return seed.d <= target.d and seed.s <= target.s - seed.missing\n",
                   "    return seed.s <= target.s - seed.missing and seed.d == 0\n",
                   "    return seed.s <=\n"]

    def generate(self, prompts, n=1, seed=None):
        return [[self.completions[(seed + 5 * k + j) % 3] for j in range(n)]
                for k in range(len(prompts))]

    def close(self):
        pass


def test_the_llm_engine_validates_its_untrusted_rules_in_the_sandbox(tmp_path,
                                                                    validation_suite):
    from llm_mutator.engine import LLMConfig, LLMEngine
    from ibp_evolve.runs.evaluation import SuiteSpec
    from ibp_evolve.runs.validation import Validator
    run = RunFolder.create(tmp_path / "llm", {"engine": "llm"})
    run.validator = Validator(SuiteSpec.of(str(validation_suite)), "seeds", n_rules=2)
    engine = LLMEngine(LLMConfig(population=4, generations=1, islands=2, samples_per_prompt=2,
                                 prompts_per_batch=1, deterministic=True),
                       backend=_ReplayedModel())
    try:
        engine.evolve(SuiteSpec.of("triangle_box_paper", max_seeds=2000), run=run)
        validations = run.db.validations()
    finally:
        run.close()
    assert {v["generation"] for v in validations} <= {0, 1} and validations
    assert all(v["status"] == "ok" for v in validations)
    header = (tmp_path / "llm" / "best" / "rank01.py").read_text()
    assert "# Chosen by validation on small_validation" in header
