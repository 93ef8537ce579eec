"""Validation inside evolution: the run's best rules scored on suite it never trains on.

A rule evolved on one suite can be small there and incomplete everywhere else (the shipped
``gp_triangle_box_paper_67`` keeps 9 seeds on dotted targets and leaves survivors).  With
``evolve --validate SUITE`` every engine, after each generation, scores the run's few best rules
(distinct seed selections, ``n_rules``, default 3) on the validation suite and records them in
the run database's ``validations`` table; the rule exported as the run's result (``best/``,
``--export``) is then chosen by validation: complete on the validation suite first, then the
validation fitness, then the training fitness.

Determinism.  Which rules are validated after generation g depends only on the database up to
g, and the judge is deterministic, so the validation rows are a function of the run.  They are
written after the generation's candidates and *before* its checkpoint
(:meth:`RunFolder.commit_generation`): a run killed in between redoes the whole generation on
resume, validation included, so a resumed run records what an uninterrupted one would.

Rules written by a language model are untrusted: they are scored in the rule sandbox; the GP's
and symbolic regression's rules are compiled (they are built by this program).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

DEFAULT_VALIDATED = 3
VALIDATION_TIME_LIMIT = 20.0   # seconds of one sandboxed rule's selection on one target


@dataclass
class ValidationRecord:
    """One row of ``validations``: a candidate's score on the validation suite."""
    candidate: int
    generation: int
    suite: str
    objective: str
    status: str                 # ok, or rejected (the rule failed on the validation suite)
    fitness: object = None      # exact: an int or a Fraction (runs/fitness.py)
    complete: bool | None = None
    seeds: int | None = None
    trimmed_equations: int | None = None
    total: str | None = None     # the exact objective total (an integer or a fraction p/q)
    scores: list | None = None
    wall_time: float = 0.0
    reason: str = ""


class Validator:
    """Scores a run's best rules on a validation suite after each generation.

    ``spec`` is the validation suite (:class:`~ibp_evolve.runs.evaluation.SuiteSpec`);
    ``objective`` the run's.  The judge is built on first use, in this process.
    """

    def __init__(self, spec, objective: str = "seeds", n_rules: int = DEFAULT_VALIDATED):
        if n_rules < 1:
            raise ValueError(f"validated rules per generation must be positive, not {n_rules}")
        self.spec, self.objective, self.n_rules = spec, objective, int(n_rules)
        self.suite = spec.load()
        self._judge = None

    def to_json(self) -> dict:
        from ibp_evolve.judge.suites import suite_digest
        return {"suite": self.spec.suite, "ordering": self.spec.ordering,
                "max_seeds": self.spec.max_seeds, "n_rules": self.n_rules,
                "suite_digest": suite_digest(self.suite)}

    @classmethod
    def from_json(cls, data: dict, objective: str) -> "Validator":
        """The validator a run recorded; ValueError when its suite file has changed since
        (an older run, with no digest recorded, is taken as it is)."""
        from ibp_evolve.judge.suites import check_suite_unchanged
        from ibp_evolve.runs.evaluation import SuiteSpec
        validator = cls(SuiteSpec(data["suite"], data["ordering"], data.get("max_seeds")),
                        objective, int(data.get("n_rules", DEFAULT_VALIDATED)))
        check_suite_unchanged(validator.suite, data.get("suite_digest"), data["suite"])
        return validator

    @property
    def judge(self):
        if self._judge is None:
            from ibp_evolve.judge.score import Judge
            from ibp_evolve.reducer.ordering import Ordering
            self._judge = Judge(self.suite, Ordering.parse(self.spec.ordering))
        return self._judge

    def score(self, record, generation: int) -> ValidationRecord:
        """One candidate record on the validation suite; a rule that fails is 'rejected'."""
        from ibp_evolve.language.parse import CandidateError
        from ibp_evolve.runs.fitness import exact
        start = time.perf_counter()
        out = ValidationRecord(record.id, generation, self.suite.name, self.objective, "ok")
        try:
            report = self.judge.score(record.source, self.objective,
                                      sandbox=record.engine == "llm",
                                      time_limit=VALIDATION_TIME_LIMIT)
        except CandidateError as exc:
            # only the rule's own fault is its verdict; the judge's (a bad validation family,
            # a cap) stops the run with its message
            out.status, out.reason = "rejected", f"{type(exc).__name__}: {exc}"[:500]
        except Exception as exc:
            from ibp_evolve.runs.evaluation import JudgeError
            raise JudgeError(f"validation suite '{self.suite.name}': the judge failed (not the "
                             f"candidate's fault): {type(exc).__name__}: {exc}",
                             2 if isinstance(exc, ValueError) else 1) from None
        else:
            out.fitness, out.complete = exact(report.exact_fitness), bool(report.complete)
            out.seeds = int(sum(t.seeds for t in report.targets))
            out.trimmed_equations = int(sum(t.trimmed_equations for t in report.targets))
            out.total = str(report.total)
            out.scores = [_summary(t) for t in report.targets]
        out.wall_time = time.perf_counter() - start
        return out

    def validate(self, db, generation: int) -> list[ValidationRecord]:
        """Validate the run's best rules after ``generation`` that are not validated yet, and
        record them (one transaction)."""
        done = db.validated_ids()
        fresh = [self.score(rec, generation) for rec in db.best(self.n_rules)
                 if rec.id not in done]
        db.add_validations(fresh)
        return fresh


def _summary(t) -> dict:
    return {"target": list(t.target), "seeds": t.seeds, "equations": t.equations,
            "trimmed_equations": t.trimmed_equations, "multiply_adds": t.multiply_adds,
            "reduced": t.reduced, "n_survivors": t.n_survivors, "reason": t.reason}


def make_validator(name: str, ordering: str, objective: str, training_family: str,
                   n_rules: int = DEFAULT_VALIDATED, warn=None) -> Validator:
    """The validator of ``evolve --validate NAME``; a suite that does not load is a one-line
    :class:`~ibp_evolve.runs.store.RunError` naming it, and one of another family than the
    training suite is allowed but said (on stderr, or to ``warn``)."""
    from ibp_evolve.judge.suites import SuiteError
    from ibp_evolve.reducer.family import FamilyError
    from ibp_evolve.runs.evaluation import SuiteSpec
    from ibp_evolve.runs.store import RunError
    try:
        spec = SuiteSpec.of(name, ordering)
        validator = Validator(spec, objective, n_rules)
    except (SuiteError, FamilyError, FileNotFoundError, OSError, ValueError) as exc:
        raise RunError(f"--validate '{name}': {exc}") from None
    family = validator.suite.family.name
    if family != training_family:
        (warn or (lambda m: print(m, file=sys.stderr)))(
            f"note: validation suite '{validator.suite.name}' is of family {family}, the "
            f"training suite of family {training_family}: rules are validated across "
            f"families")
    return validator


def validation_json(record: ValidationRecord) -> tuple:
    """The row of ``validations`` for a record (column order of the table)."""
    from ibp_evolve.runs.fitness import fitness_text
    return (record.candidate, record.generation, record.suite, record.objective,
            record.status, fitness_text(record.fitness),
            None if record.complete is None else int(record.complete), record.seeds,
            record.trimmed_equations, record.total,
            None if record.scores is None else json.dumps(record.scores), record.wall_time,
            record.reason)
