"""The PySR backend (SymbolicRegression.jl through juliacall).

PySR needs a Julia installation.  Importing ``pysr`` without one makes juliacall/juliapkg
*download* Julia, which must never happen behind a user's back (nor in our tests or at CLI
start-up), so this module imports nothing from PySR at load time and :func:`find_julia` checks
for a Julia executable first: ``$PYTHON_JULIAPKG_EXE`` (juliapkg's own setting) or ``julia`` on
the ``PATH``.  Without one, :class:`JuliaNotFound` is raised at once with instructions.

The fit is a real ``PySRRegressor``: operators matching the rule language
(``+ - * /``, ``min``, ``max``, ``abs``), the margin loss ``L1HingeLoss()`` of LossFunctions.jl on
the +-1 labels with the label table's weights, and the hall of fame exported through sympy
(``model.sympy(i)``) as the Pareto front.
"""

from __future__ import annotations

import os
import shutil

import sympy

from ibp_evolve.engines.symbolic.backends import BackendUnavailable, FrontFormula, symbols_for

JULIA_HELP = (
    "the pysr engine needs Julia, and no Julia executable was found (neither "
    "$PYTHON_JULIAPKG_EXE nor 'julia' on PATH). Install Julia >= 1.10 (e.g. with juliaup: "
    "curl -fsSL https://install.julialang.org | sh, or from https://julialang.org/downloads/), "
    "then either put 'julia' on PATH or set PYTHON_JULIAPKG_EXE=/path/to/bin/julia, and "
    "pip install 'ibp-evolve[pysr]'. ibp-evolve never lets PySR download Julia by itself. "
    "Without Julia use --engine operon (or --engine deap).")


class JuliaNotFound(BackendUnavailable):
    """No Julia executable: PySR cannot run (and must not download one)."""


def find_julia() -> str | None:
    """The Julia executable PySR would use, or None.  Never imports juliacall."""
    configured = os.environ.get("PYTHON_JULIAPKG_EXE")
    if configured:
        return configured if os.path.isfile(configured) and os.access(configured, os.X_OK) \
            else None
    return shutil.which("julia")


def require_julia() -> str:
    julia = find_julia()
    if julia is None:
        raise JuliaNotFound(JULIA_HELP)
    return julia


class PySRBackend:
    """PySRRegressor with a classification loss; see the module docstring."""

    name = "pysr"

    def __init__(self, *, seconds: float = 60.0, niterations: int = 100, maxsize: int = 25,
                 populations: int = 15, seed: int = 0, procs: int = 0):
        require_julia()  # fail at once, before any work (and before any import of pysr)
        self.seconds = seconds
        self.niterations = niterations
        self.maxsize = maxsize
        self.populations = populations
        self.seed = seed
        self.procs = procs

    def fit(self, X, y, weight, names) -> list[FrontFormula]:
        julia = require_julia()
        # Point juliapkg at this Julia: with it set, juliapkg uses it instead of fetching one.
        os.environ.setdefault("PYTHON_JULIAPKG_EXE", julia)
        try:
            from pysr import PySRRegressor
        except ImportError as exc:
            raise BackendUnavailable(
                f"the pysr engine needs the pysr package: pip install 'ibp-evolve[pysr]' ({exc})"
            ) from None
        model = PySRRegressor(
            binary_operators=["+", "-", "*", "/", "max", "min"],
            unary_operators=["abs"],
            elementwise_loss="L1HingeLoss()",  # margin loss for labels in {-1, +1}
            maxsize=self.maxsize, niterations=self.niterations, populations=self.populations,
            timeout_in_seconds=self.seconds, random_state=self.seed,
            deterministic=self.procs == 0, parallelism="serial" if self.procs == 0 else
            "multiprocessing", procs=self.procs or None, progress=False, verbosity=0,
            model_selection="best", temp_equation_file=True)
        model.fit(X, y, weights=weight, variable_names=list(names))
        symbols = dict(zip(names, symbols_for(names)))
        front = []
        equations = model.equations_
        for i in range(len(equations)):
            expr = sympy.sympify(model.sympy(i))
            expr = expr.xreplace({s: symbols.get(s.name, s) for s in expr.free_symbols})
            front.append(FrontFormula(expr, int(equations["complexity"].iloc[i]),
                                      float(equations["loss"].iloc[i]), self.name))
        self.model_ = model
        return front
