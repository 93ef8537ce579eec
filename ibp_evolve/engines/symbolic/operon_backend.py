"""The Operon backend (``pyoperon``, the Python bindings of the Operon C++ library).

Why Operon is the default engine: it installs from PyPI as a wheel (no compiler, no Julia), it is
fast (a C++ NSGA-II with Levenberg-Marquardt tuning of the constants), it returns a genuine Pareto
front over (error, length), and its operator set covers the rule language exactly
(add, sub, mul, div, fmin, fmax, abs).  It fits least squares to the +-1 labels (regression on the
class labels, a classification loss in disguise; the rule keeps a seed when the formula is
positive after the solver calibrates the threshold).  Operon takes no sample weights, so the
training rows are drawn from the label table with probability proportional to their weight.
"""

from __future__ import annotations

import numpy as np
import sympy

from ibp_evolve.engines.symbolic.backends import BackendUnavailable, FrontFormula, symbols_for

OPERATORS = "add,sub,mul,div,fmin,fmax,abs,constant,variable"


def _import_operon():
    try:
        import pyoperon
        from pyoperon.sklearn import SymbolicRegressor
    except ImportError as exc:
        raise BackendUnavailable(
            "the operon engine needs pyoperon: pip install 'ibp-evolve[operon]' "
            f"(or pip install pyoperon); import failed: {exc}") from None
    return pyoperon, SymbolicRegressor


def tree_to_sympy(tree, symbol_of_hash: dict) -> sympy.Expr:
    """Translate an Operon tree (postfix node list) to sympy.

    In Operon's postfix layout the first child of node i sits at i - 1 and each next sibling
    at (previous child) - (its Length) - 1; a variable node carries a weight (``Value``).
    """
    nodes = tree.Nodes

    def build(i):
        node = nodes[i]
        # node.Name, not node.Type: pyoperon 0.6.2 swaps the Fmin/Fmax enum labels
        kind = node.Name
        if node.IsConstant:
            return sympy.Float(float(node.Value))
        if node.IsVariable:
            weight = float(node.Value)
            sym = symbol_of_hash[node.HashValue]
            return sym if weight == 1.0 else sympy.Float(weight) * sym
        children, j = [], i - 1
        for _ in range(node.Arity):
            children.append(build(j))
            j -= nodes[j].Length + 1
        if kind == "+":
            return sympy.Add(*children)
        if kind == "*":
            return sympy.Mul(*children)
        if kind == "-":
            return children[0] - sympy.Add(*children[1:]) if len(children) > 1 else -children[0]
        if kind == "/":
            if len(children) == 1:
                return 1 / children[0]
            return children[0] / sympy.Mul(*children[1:])
        if kind == "fmin":
            return sympy.Min(*children)
        if kind == "fmax":
            return sympy.Max(*children)
        if kind == "abs":
            return sympy.Abs(children[0])
        if kind == "square":
            return children[0] ** 2
        raise ValueError(f"operon node {kind} is outside the rule language")

    return build(len(nodes) - 1)


class OperonBackend:
    """Operon NSGA-II symbolic regression; see the module docstring."""

    name = "operon"

    def __init__(self, *, seconds: float = 30.0, population_size: int = 500,
                 generations: int = 200, max_length: int = 25, rows: int = 4000,
                 seed: int = 0, threads: int = 1):
        _import_operon()  # fail at once when pyoperon is missing
        self.seconds = seconds
        self.population_size = population_size
        self.generations = generations
        self.max_length = max_length
        self.rows = rows
        self.seed = seed
        self.threads = threads

    def fit(self, X, y, weight, names) -> list[FrontFormula]:
        _, SymbolicRegressor = _import_operon()
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        w = np.asarray(weight, dtype=np.float64)
        rng = np.random.default_rng(self.seed)
        rows = rng.choice(len(y), size=self.rows, replace=True, p=w / w.sum())
        model = SymbolicRegressor(
            allowed_symbols=OPERATORS, objectives=["mse", "length"],
            max_length=self.max_length, max_depth=8, population_size=self.population_size,
            generations=self.generations, max_evaluations=10 ** 9, optimizer_iterations=5,
            n_threads=self.threads, random_state=self.seed,
            max_time=max(1, int(round(self.seconds))))
        model.fit(X[rows], y[rows])
        symbols = symbols_for(names)
        by_name = dict(zip([f"X{k + 1}" for k in range(len(names))], symbols))
        symbol_of_hash = {h: by_name[v] for h, v in model.variables_.items()}
        self.model_ = model
        front = []
        for entry in model.pareto_front_:
            expr = tree_to_sympy(entry["tree"], symbol_of_hash)
            front.append(FrontFormula(expr, int(entry["length"]),
                                      float(entry["mean_squared_error"]), self.name))
        return front
