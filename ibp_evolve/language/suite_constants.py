"""What a suite never varied: the parts of a rule that are constant on every target of a suite.

A rule evolved or distilled on one suite is only tested there.  When every training target has
``d_target == 0``, a clause such as ``d <= d_target`` or ``d == min(a3, d_target)`` was never
asked what to do with a dotted target, and a simplifier that is exact cannot drop it, nor can a
reader tell from the formula that it only ever saw one value.  This module says so, in board
names:

* the **target features** the rule reads that take one value on every target of the suite
  (``d_target = 0``): the formula is untested for other values;
* the **clauses** (comparisons) that are true, or false, for every candidate seed of every
  target: they never decided a seed there, and may decide on another suite.

Both are measured on the suite's candidate features (one ``SeedFeatures`` per target, as the
judge holds them), by evaluating each part as a rule of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ibp_evolve.language.compile import CompiledRule
from ibp_evolve.language.ir import FLOAT, Compare, Feature, Generator, IndexCall, RuleProgram
from ibp_evolve.language.parse import RuleError
from ibp_evolve.language.printer import (expression_text, inline, keep_program, program_of,
                                         rule_from_program)

__all__ = ["SuiteConstant", "suite_constants", "constants_line"]


@dataclass(frozen=True)
class SuiteConstant:
    """One part of a rule with a single value on a suite: ``text`` in board names, ``value``
    (a number for a target feature, True/False for a clause), ``clause``: a comparison."""

    text: str
    value: object
    clause: bool

    def __str__(self) -> str:
        if self.clause:
            return f"{self.text} ({'always true' if self.value else 'never true'})"
        return f"{self.text} = {self.value}"


def _nodes(node, inside_generator: bool = False):
    """Every IR node under ``node`` with whether a generator's loop variable may be in scope
    (such a node cannot be evaluated on its own)."""
    if isinstance(node, tuple):
        for x in node:
            yield from _nodes(x, inside_generator)
        return
    if not hasattr(node, "__dataclass_fields__"):
        return
    yield node, inside_generator
    inner = inside_generator or isinstance(node, Generator)
    for name in node.__dataclass_fields__:
        if name != "type":
            yield from _nodes(getattr(node, name), inner)


def _reads(node, owner: str) -> bool:
    """Whether ``node`` reads a feature of ``owner`` ("seed" or "target")."""
    return any(isinstance(n, (Feature, IndexCall)) and n.owner == owner
               for n, _ in _nodes(node))


def _values(node, kind: str, features_list) -> np.ndarray | None:
    """``node`` evaluated on every candidate seed of every target (one array), or None when it
    cannot be evaluated on its own."""
    try:
        compiled = CompiledRule(rule_from_program(keep_program(node, kind)))
        parts = [np.asarray(compiled.values(f)).ravel() for f in features_list]
    except (RuleError, ValueError, KeyError):
        return None
    return np.concatenate(parts) if parts else None


def suite_constants(rule, features_list) -> list[SuiteConstant]:
    """The target features and clauses of ``rule`` (a Rule, RuleProgram or source) with one
    value on the suite whose candidate features are ``features_list``; see the module
    docstring.  Target features first, then clauses, each once, in the order they occur."""
    program: RuleProgram = program_of(rule)
    expression = inline(program)
    body = expression if expression is not None else program.body
    found: dict[str, SuiteConstant] = {}
    for node, in_generator in _nodes(body):
        if in_generator:
            continue
        if isinstance(node, (Feature, IndexCall)) and node.owner == "target":
            kind, clause = "priority", False
        elif isinstance(node, Compare) and (_reads(node, "target") or _reads(node, "seed")):
            kind, clause = "keep", True
        else:
            continue
        text = expression_text(node)
        if text in found:
            continue
        values = _values(node, kind, features_list)
        if values is None or not len(values) or not (values == values[0]).all():
            continue
        value = (bool(values[0]) if clause else
                 values[0].item() if node.type == FLOAT else int(values[0]))
        found[text] = SuiteConstant(text, value, clause)
    return sorted(found.values(), key=lambda c: c.clause)


def constants_line(constants: list[SuiteConstant], suite: str) -> str | None:
    """One line for a rule's header or summary, or None when nothing is constant."""
    if not constants:
        return None
    return (f"constant on every target of suite {suite} (untested beyond it): "
            + "; ".join(str(c) for c in constants))
