"""Symbolic-regression backends: one shape for every engine.

A backend is configured in its constructor and does its work in ``fit(X, y, weight, names)``,
where ``y`` is +1 for a seed that minimal sets keep and -1 otherwise and ``weight`` carries the
class and sampling weights of :class:`~ibp_evolve.engines.symbolic.labels.LabelTable`.  It returns its
Pareto front (accuracy against size) as :class:`FrontFormula` objects whose ``expression`` is a
sympy expression in symbols named after the feature columns; :mod:`.export` turns each into a
rule file.  The operators every backend uses are those of the rule language:
``+ - * /``, ``min``, ``max``, ``abs`` and constants.

=========  ===================================================================================
engine     what it is
=========  ===================================================================================
operon     pyoperon (Operon, C++): NSGA-II over (squared error, length) with local constant
           optimisation; no sample weights, so rows are drawn with probability ~ weight
deap       strongly typed GP on DEAP (always installed): weighted logistic loss on the +-1
           labels, size-penalised, Pareto front over tree size
pysr       PySR (Julia): weighted L1-hinge loss; needs a Julia installation (see
           :mod:`.pysr_backend`)
=========  ===================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

__all__ = ["ENGINES", "FrontFormula", "BackendUnavailable", "make_backend"]

ENGINES = ("operon", "deap", "pysr")


class BackendUnavailable(RuntimeError):
    """The chosen engine cannot run here; the message says what to install or set."""


@dataclass
class FrontFormula:
    """One formula of an engine's Pareto front."""

    expression: sympy.Expr
    complexity: int             # engine's size measure (nodes)
    loss: float                 # engine's training loss (lower is better)
    engine: str = ""


def make_backend(engine: str, **options):
    """An unfitted backend by name; options go to its constructor."""
    if engine == "operon":
        from ibp_evolve.engines.symbolic.operon_backend import OperonBackend
        return OperonBackend(**options)
    if engine == "deap":
        from ibp_evolve.engines.symbolic.deap_backend import DeapBackend
        return DeapBackend(**options)
    if engine == "pysr":
        from ibp_evolve.engines.symbolic.pysr_backend import PySRBackend
        return PySRBackend(**options)
    raise ValueError(f"unknown symbolic-regression engine '{engine}' (choose from "
                     f"{', '.join(ENGINES)})")


def symbols_for(names) -> list[sympy.Symbol]:
    return [sympy.Symbol(n, real=True) for n in names]
