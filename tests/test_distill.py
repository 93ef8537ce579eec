"""Formulas from solver labels: the feature table, formula -> rule export, threshold calibration,
each symbolic-regression backend, and the PySR missing-Julia path (ibp-evolve distill)."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import sympy

from ibp_evolve.cli.main import main
from ibp_evolve.language.library import resolve_rule
from ibp_evolve.language.compile import compile_rule
from ibp_evolve.language.parse import load_rule
from ibp_evolve.judge.score import Judge
from ibp_evolve.judge.suites import load_suite
from ibp_evolve.engines.symbolic.backends import FrontFormula, make_backend
from ibp_evolve.engines.symbolic.distill import Distiller, calibrate, start_masks
from ibp_evolve.engines.symbolic.export import (formula_text, positive_part_equivalent,
                                                rule_source, simplest_between)
from ibp_evolve.engines.symbolic.labels import feature_matrix, feature_source, label_table
from ibp_evolve.engines.symbolic.pysr_backend import JULIA_HELP, JuliaNotFound, PySRBackend, find_julia

S = {n: sympy.Symbol(n, real=True) for n in ("r", "s", "t", "d", "missing", "s_isp", "s_lines",
                                             "a3", "a7", "s_target")}
# improved seeding minus the t = 5 seeds with two numerator powers on absent lines (86 seeds)
HAND_FORMULA = sympy.Min(sympy.Rational(1, 2) - S["d"], sympy.Rational(7, 2) - S["s"]
                         - S["missing"], sympy.Rational(3, 2) - S["s_lines"])


@pytest.fixture(scope="module")
def paper_judge():
    return Judge(load_suite("triangle_box_paper"))


@pytest.fixture(scope="module")
def paper_labels(paper_judge):
    masks = start_masks(paper_judge, "improved_seeding")
    # the minimal sets behind the labels are bounded by swaps, not seconds: the same labels on a
    # fast and on a loaded machine
    return label_table(paper_judge, masks, runs=3, seed=0, swaps=20, seconds=math.inf)


def _priority_values(source, judge):
    compiled = compile_rule(load_rule(source))
    return [np.asarray(compiled.values(f), dtype=np.float64) for f in judge.features]


def test_every_feature_column_is_what_the_rule_language_reads(paper_judge):
    features = paper_judge.features[0]
    table = feature_matrix(features)
    from ibp_evolve.engines.symbolic.labels import feature_names
    for k, name in enumerate(feature_names(paper_judge.family.n)):
        source = f"def priority(seed, target):\n    return {feature_source(name)}\n"
        (values,) = _priority_values(source, paper_judge)
        assert np.array_equal(values, table[:, k]), name


def test_labels_count_minimal_sets_and_weight_the_rare_positives(paper_labels):
    lab = paper_labels
    assert len(lab.minimal_sizes) == 3 and all(s[0] < 78 for s in lab.minimal_sizes)
    pos = lab.positive
    assert 50 < pos.sum() <= 78 < len(lab.X)
    assert np.all(lab.frequency[pos] <= 1) and lab.frequency.max() == 1
    # balanced classes although positives are a few percent of the rows
    assert pos.mean() < 0.05
    assert lab.weight[pos].sum() == pytest.approx(lab.weight[~pos].sum())
    # the target's measures are constant on a one-target suite: nothing to fit there
    varying = [lab.names[k] for k in lab.varying()]
    assert "s_target" not in varying and "s_lines" in varying


def test_formulas_print_as_valid_rules_that_evaluate_like_the_formula(paper_judge):
    features = paper_judge.features[0]
    table = feature_matrix(features)
    from ibp_evolve.engines.symbolic.labels import feature_names
    names = feature_names(paper_judge.family.n)
    col = {n: table[:, names.index(n)] for n in S}
    exprs = [HAND_FORMULA, -2 * S["r"] / (S["s"] + 1) + sympy.Abs(S["a3"]) ** 2 - S["s_target"] / 3,
             sympy.Max(S["a7"], 1.25 * S["t"]) - sympy.Float(0.5) * S["s_isp"] * S["d"],
             (S["r"] - S["t"] + 1) ** -2 - S["missing"]]
    for expr in exprs:
        source = rule_source(expr, ["a test formula"])
        (values,) = _priority_values(source, paper_judge)
        fn = sympy.lambdify(list(S.values()), expr, "numpy")
        expected = np.broadcast_to(np.asarray(fn(*[col[n] for n in S]), float), values.shape)
        assert np.allclose(values, expected), source


def test_sign_simplification_and_readable_thresholds():
    clamp = sympy.Min(0.868, sympy.Max(-1, 2 * S["r"] - 4 * S["s"] - 5)) - 0.2
    assert positive_part_equivalent(clamp) == 2 * S["r"] - 4 * S["s"] - 5.2
    assert positive_part_equivalent(sympy.Max(-1, -S["d"]) + 0.5) == 0.5 - S["d"]
    assert simplest_between(0.31, 0.52) == 0.4
    assert simplest_between(-0.5, 12.5) == 0
    assert 1.0 < simplest_between(1.0, 1.001) < 1.001


def test_calibration_finds_the_highest_complete_threshold(paper_judge):
    # priority = -(s + missing): completeness needs s + missing <= 3 on the undotted seeds
    source = "def priority(seed, target):\n    return 0.5 - seed.d - 0.01 * (seed.s + seed.missing)\n"
    values = _priority_values(source, paper_judge)
    threshold, report = calibrate(paper_judge, values)
    assert report.complete
    kept = values[0] > threshold
    assert paper_judge.score_masks([kept]).complete
    assert report.targets[0].seeds == kept.sum() == 92  # exactly improved seeding
    # one level higher is incomplete
    higher = values[0] > np.min(values[0][kept])
    assert not paper_judge.score_masks([higher]).complete


def test_a_hand_formula_becomes_a_complete_rule_below_the_papers_88_seeds(paper_judge,
                                                                           paper_labels):
    distiller = Distiller(load_suite("triangle_box_paper"), "deap", judge=paper_judge)
    distiller.labels_ = paper_labels
    rule = distiller.rule_from_formula(FrontFormula(HAND_FORMULA, 11, 0.0, "hand"))
    assert rule.complete and rule.seeds == 86
    report = paper_judge.score(load_rule(rule.source))
    assert report.complete and report.targets[0].seeds == 86


def _check_front_becomes_scored_rules(engine, paper_judge, paper_labels, **options):
    distiller = Distiller(load_suite("triangle_box_paper"), engine, judge=paper_judge)
    distiller.labels_ = paper_labels
    cols = paper_labels.varying()
    backend = make_backend(engine, seed=0, **options)
    front = backend.fit(paper_labels.X[:, cols], paper_labels.y, paper_labels.weight,
                        [paper_labels.names[k] for k in cols])
    assert front and all(isinstance(f.expression, sympy.Basic) for f in front)
    rules = [distiller.rule_from_formula(f) for f in front]
    rules = [r for r in rules if r is not None]
    assert rules
    for rule in rules:
        report = paper_judge.score(load_rule(rule.source), sandbox=False)
        assert report.fitness == rule.fitness and report.complete == rule.complete
        assert report.targets[0].seeds == rule.seeds
    return rules


def test_operon_front_formulas_become_valid_rules_that_the_scorer_accepts(paper_judge,
                                                                          paper_labels):
    pytest.importorskip("pyoperon")
    # a generation budget (the hour is only a safety cap of Operon's own clock)
    rules = _check_front_becomes_scored_rules("operon", paper_judge, paper_labels, seconds=3600,
                                              generations=5, population_size=200)
    assert any(r.complete for r in rules)


def test_deap_front_formulas_become_valid_rules_that_the_scorer_accepts(paper_judge,
                                                                        paper_labels):
    rules = _check_front_becomes_scored_rules("deap", paper_judge, paper_labels,
                                              seconds=math.inf, generations=5,
                                              population_size=100)
    assert any(r.complete for r in rules)


@pytest.mark.skipif(find_julia() is None, reason=JULIA_HELP)
@pytest.mark.slow
def test_pysr_front_formulas_become_valid_rules_that_the_scorer_accepts(paper_judge,
                                                                        paper_labels):
    pytest.importorskip("pysr")
    _check_front_becomes_scored_rules("pysr", paper_judge, paper_labels, seconds=60,
                                      niterations=20)


def test_pysr_without_julia_fails_at_once_with_instructions_and_imports_nothing(monkeypatch,
                                                                                 tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PYTHON_JULIAPKG_EXE", raising=False)
    with pytest.raises(JuliaNotFound) as info:
        PySRBackend()
    message = str(info.value)
    assert "Julia" in message and "PYTHON_JULIAPKG_EXE" in message and "PATH" in message
    assert "--engine operon" in message
    monkeypatch.setenv("PYTHON_JULIAPKG_EXE", str(tmp_path / "no-such-julia"))
    with pytest.raises(JuliaNotFound):
        make_backend("pysr")


def test_distill_with_pysr_and_no_julia_exits_3_without_importing_pysr(tmp_path):
    code = ("import sys; from ibp_evolve.cli.main import main; "
            "status = main(['distill', '--engine', 'pysr', '--out', sys.argv[1]]); "
            "assert 'pysr' not in sys.modules and 'juliacall' not in sys.modules; "
            "sys.exit(status)")
    env = {"PATH": str(tmp_path), "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "needs Julia" in done.stderr and "PYTHON_JULIAPKG_EXE" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_fitted_formula_reads_in_the_rule_language_not_in_sympys_printing():
    assert str(HAND_FORMULA).startswith("Min(")
    assert formula_text(HAND_FORMULA) == "min(0.5 - d, 1.5 - s_lines, 3.5 - missing - s)"
    powered = sympy.Max(S["a3"] ** 2 - S["s_target"], sympy.Abs(S["a7"]) - 1.25)
    assert formula_text(powered) == "max(abs(a7) - 1.25, a3 ** 2 - s_target)"


def test_distill_command_writes_scored_rule_files(tmp_path, capsys):
    out = tmp_path / "distilled"
    status = main(["distill", "--suite", "triangle_box_paper", "--engine", "deap",
                   "--from", "improved_seeding", "--runs", "2", "--seconds", "3",
                   "--out", str(out), "--json"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rules"] and (out / "summary.json").is_file()
    judge = Judge(load_suite("triangle_box_paper"))
    for entry in summary["rules"]:
        report = judge.score(resolve_rule(entry["file"]))
        assert report.complete == entry["complete"] and report.fitness == entry["fitness"]
        # formulas as the rule language writes them; the training suite's constants named
        assert not any(f in entry["formula"] + entry["expression"]
                       for f in ("Min(", "Max(", "Abs(", "**2"))
        header = open(entry["file"]).read().split("def priority")[0]
        assert "Fitted formula: " + entry["formula"] in header
        # one target: every target feature the rule reads is constant on this suite
        assert ("_target" in entry["expression"]) == (
            "constant on every target of suite triangle_box_paper" in header)


def test_distill_exits_1_when_no_rule_it_writes_reduces_every_target(tmp_path, capsys,
                                                                     monkeypatch):
    # the judge's verdict stands in for a suite on which no calibrated formula is complete
    fit = Distiller.fit

    def fit_without_a_complete_rule(self):
        fit(self)
        for rule in self.rules_:
            rule.complete = False
        return self

    monkeypatch.setattr(Distiller, "fit", fit_without_a_complete_rule)
    status = main(["distill", "--suite", "triangle_box_paper", "--engine", "deap",
                   "--from", "improved_seeding", "--runs", "2", "--seconds", "2",
                   "--out", str(tmp_path / "d")])
    out = capsys.readouterr().out
    assert status == 1 and out.rstrip().endswith("incomplete: no distilled rule reduces "
                                                 "every target")
    assert (tmp_path / "d" / "rule_00.py").is_file()


@pytest.mark.slow
def test_operon_distils_a_complete_rule_below_the_papers_88_seeds():
    pytest.importorskip("pyoperon")
    # budgets in generations and swaps, not seconds: the same result on a loaded machine
    distiller = Distiller(load_suite("triangle_box_paper"), "operon", seconds=600, runs=8,
                          fits=3, generations=40).fit()
    assert distiller.best_.complete and distiller.best_.seeds < 88
    assert sum(r.complete and r.seeds < 88 for r in distiller.rules_) >= 2


@pytest.mark.slow
def test_symbolic_engine_writes_scored_rounds_to_a_run_folder_and_resumes(tmp_path):
    pytest.importorskip("pyoperon")
    from ibp_evolve.runs.evaluation import SuiteSpec
    from ibp_evolve.runs.store import RunFolder
    from ibp_evolve.engines.symbolic.engine import OperonConfig, SymbolicEngine, engine_entries

    assert set(engine_entries()) == {"operon", "pysr"}
    config = OperonConfig(generations=0, seconds=3, runs=2, population=50)
    run = RunFolder.create(tmp_path / "run", {"engine": "operon",
                                              "engine_config": config.to_json()})
    engine = SymbolicEngine(config).evolve(SuiteSpec.of("triangle_box_paper"), run=run)
    assert engine.stopped_ == "generations" and engine.generation_ == 0
    records = run.db.candidates()
    assert records and all(r.engine == "operon" and r.generation == 0 for r in records)
    best = run.best_files()
    assert best
    judge = Judge(load_suite("triangle_box_paper"))
    top = run.db.best(1)[0]
    assert judge.score(resolve_rule(str(best[0]))).fitness == top.fitness
    run.close()
    # resume: one more round, the first one's rows kept
    run = RunFolder.open(tmp_path / "run")
    config = OperonConfig.from_json({**config.to_json(), "generations": 1})
    engine = SymbolicEngine(config).evolve(SuiteSpec.of("triangle_box_paper"), run=run,
                                           resume=True)
    assert engine.generation_ == 1
    assert {r.generation for r in run.db.candidates()} == {0, 1}
    assert len(run.db.generations()) == 2
    run.close()
