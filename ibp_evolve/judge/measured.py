"""The "Measured" lines of a rule file's header: one format, written and read here.

Every rule in the library (hand-written or evolved) states what the judge measured for it, one
line per suite::

    # Measured on triangle_box_paper: complete (1 target), 92 seeds, 828 equations, 358 trimmed, 26,711 mult-adds
    # Measured on triangle_box_train: incomplete (2 of 5 targets not reduced, 42 non-master
    #   integrals left), 565 seeds, 5,085 equations, 1,742 trimmed, 372,117 mult-adds

(one physical line each; wrapped here for the docstring) optionally followed by one indented
line per target.  A score with sector symmetries says so after the suite's name
(``# Measured on triangle_box_symmetric (symmetries on): ...``); a line without the mark was
measured without them, as the paper's figures and every header written before symmetries.  The figures are sums over the suite's targets (a joint suite's equations are
those of its one joint system).  ``tests/test_rule_headers.py`` re-scores every library rule and
compares, so a header cannot drift from what the judge says; ``benchmarks/rule_scores.py --write``
regenerates them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SuiteMeasurement", "measurement_of", "measured_lines", "parse_measured",
           "replace_measured"]

_LINE = re.compile(
    r"^#\s*Measured on (?P<suite>[\w.-]+)(?P<symmetries> \(symmetries on\))?: "
    r"(?P<state>complete|incomplete)"
    r"(?: \((?P<all_targets>\d+) targets?\))?"
    r"(?: \((?P<unreduced>\d+) of (?P<n_targets>\d+) targets? not reduced"
    r"(?:, (?P<over_cap>\d+) over max_seeds)?, (?P<survivors>[\d,]+) non-master integrals? left\))?"
    r", (?P<seeds>[\d,]+) seeds, (?P<equations>[\d,]+) equations, (?P<trimmed>[\d,]+) trimmed, "
    r"(?P<multiply_adds>[\d,]+) mult-adds\s*$")
_TARGET = re.compile(r"^#\s+(?P<name>I\([-\d,]+\)): (?P<rest>.*)$")


@dataclass(frozen=True)
class SuiteMeasurement:
    """The judge's figures for one rule on one suite, as a header states them."""
    suite: str
    complete: bool
    n_targets_unreduced: int
    n_targets: int
    n_over_cap: int         # targets refused unsolved: the rule chose more than max_seeds seeds
    n_survivors: int        # non-master integrals left in the targets that were solved
    seeds: int
    equations: int
    trimmed_equations: int
    multiply_adds: int
    symmetries: bool = False  # scored with sector symmetries


def measurement_of(report) -> SuiteMeasurement:
    """Sum a judge's ``ScoreReport`` over its targets."""
    targets = report.targets
    unreduced = [t for t in targets if not t.reduced]
    seeds = sum(t.seeds for t in targets)
    if report.joint and targets:
        # every target of a joint suite carries the figures of the one joint system, whose
        # seeds are the targets' choices merged (a seed two targets choose is solved once)
        equations, trimmed, mult = (targets[0].equations, targets[0].trimmed_equations,
                                    targets[0].multiply_adds)
        if getattr(report, "joint_seeds", None) is not None:
            seeds = report.joint_seeds
    else:
        equations = sum(t.equations for t in targets)
        trimmed = sum(t.trimmed_equations for t in targets)
        mult = sum(t.multiply_adds for t in targets)
    over_cap = [t for t in unreduced if t.reason]
    return SuiteMeasurement(report.suite, not unreduced, len(unreduced), len(targets),
                            len(over_cap), sum(t.n_survivors for t in unreduced if not t.reason),
                            seeds, equations, trimmed, mult,
                            bool(getattr(report, "symmetries", False)))


def _integral(indices) -> str:
    return "I(" + ",".join(str(int(a)) for a in indices) + ")"


def _target_line(t) -> str:
    if t.reduced:
        return (f"#   {_integral(t.target)}: reduced, {t.seeds:,} seeds, {t.equations:,} "
                f"equations, {t.trimmed_equations:,} trimmed, {t.multiply_adds:,} mult-adds")
    why = t.reason or _count(t.n_survivors, "non-master integral") + " left"
    return f"#   {_integral(t.target)}: NOT reduced ({why}), {t.seeds:,} seeds"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def measured_lines(report, per_target: bool = False) -> list[str]:
    """The header lines (with their ``#``) stating ``report``."""
    m = measurement_of(report)
    over_cap = f", {m.n_over_cap} over max_seeds" if m.n_over_cap else ""
    state = f"complete ({_count(m.n_targets, 'target')})" if m.complete else (
        f"incomplete ({m.n_targets_unreduced} of {_count(m.n_targets, 'target')} not reduced"
        f"{over_cap}, {_count(m.n_survivors, 'non-master integral')} left)")
    mark = " (symmetries on)" if m.symmetries else ""
    lines = [f"# Measured on {m.suite}{mark}: {state}, {m.seeds:,} seeds, {m.equations:,} equations, "
             f"{m.trimmed_equations:,} trimmed, {m.multiply_adds:,} mult-adds"]
    if per_target:
        lines += [_target_line(t) for t in report.targets]
    return lines


def _int(text: str | None) -> int:
    return int(text.replace(",", "")) if text else 0


def parse_measured(source: str) -> dict[str, SuiteMeasurement]:
    """The suites a rule file's header states figures for, keyed by suite name."""
    found = {}
    for line in source.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        complete = m["state"] == "complete"
        found[m["suite"]] = SuiteMeasurement(
            m["suite"], complete, _int(m["unreduced"]),
            _int(m["n_targets"] or m["all_targets"]),
            _int(m["over_cap"]), _int(m["survivors"]), _int(m["seeds"]), _int(m["equations"]), _int(m["trimmed"]),
            _int(m["multiply_adds"]), m["symmetries"] is not None)
    return found


def replace_measured(source: str, reports, per_target: bool = False) -> str:
    """``source`` with its Measured lines (and their target lines) replaced by ``reports``'.

    The new block goes where the first old Measured line was, or just before the first line of
    code when the header had none.
    """
    lines = source.splitlines()
    kept, insert_at, in_block = [], None, False
    for line in lines:
        if _LINE.match(line):
            insert_at = len(kept) if insert_at is None else insert_at
            in_block = True
            continue
        if in_block and _TARGET.match(line):
            continue
        in_block = False
        kept.append(line)
    if insert_at is None:
        insert_at = next((i for i, line in enumerate(kept) if not line.startswith("#")),
                         len(kept))
    block = [line for report in reports for line in measured_lines(report, per_target)]
    return "\n".join(kept[:insert_at] + block + kept[insert_at:]) + "\n"
