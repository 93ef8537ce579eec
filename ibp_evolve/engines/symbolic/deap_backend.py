"""Symbolic regression on DEAP: the backend that needs nothing beyond the core dependencies.

Tree GP over the rule language's arithmetic (``+ - * /`` with the rule language's ``x / 0 = 0``,
``min``, ``max``, ``abs``, negation, small integer and one-decimal constants), evaluated
vectorised with numpy on the whole label table.  Fitness is the weighted squared error on the
+-1 labels *after the best linear scaling* ``a + b f(x)`` (computed in closed form, Keijzer's
linear scaling: GP then only has to find the shape, not the constants; regression on the class
labels is the least-squares classifier, and only the sign of the priority matters to the rule,
whose threshold the solver calibrates) plus a small parsimony term; selection is by tournament with a few
elites.  (Selecting on (loss, size) with NSGA-II collapses the population onto tiny trees.)  An
archive keeps the best formula of every size ever evaluated, and its non-dominated part (loss
against size) is the returned Pareto front.
"""

from __future__ import annotations

import operator
import random
import time
import warnings

import numpy as np
import sympy

from ibp_evolve.engines.symbolic.backends import FrontFormula, symbols_for


def _div(x, y):
    """x / y with the rule language's convention x / 0 = 0 (vectorised)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(x, y, out=np.zeros(np.broadcast(x, y).shape), where=y != 0)
    return out


def _constant():
    return random.choice([random.randint(-5, 5), round(random.uniform(-5, 5), 1)])


_SYMPY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "minimum": sympy.Min, "maximum": sympy.Max,
    "absolute": sympy.Abs, "negative": lambda a: -a,
}


def tree_to_sympy(tree, symbols) -> sympy.Expr:
    """A DEAP PrimitiveTree (prefix order) as a sympy expression."""
    pos = 0

    def build():
        nonlocal pos
        node = tree[pos]
        pos += 1
        if node.arity == 0:
            value = node.value
            if isinstance(value, str):
                if value.startswith("ARG"):
                    return symbols[int(value[3:])]
                value = float(value)
            return sympy.Integer(value) if float(value) == int(value) else sympy.Float(value)
        args = [build() for _ in range(node.arity)]
        return _SYMPY[node.name](*args)

    return build()


class DeapBackend:
    """NSGA-II tree GP on DEAP; see the module docstring."""

    name = "deap"

    def __init__(self, *, seconds: float = 30.0, population_size: int = 400,
                 generations: int = 10_000, max_height: int = 7, seed: int = 0,
                 crossover: float = 0.6, mutation: float = 0.3, parsimony: float = 1e-3,
                 elites: int = 10):
        self.seconds = seconds
        self.population_size = population_size
        self.generations = generations
        self.max_height = max_height
        self.seed = seed
        self.crossover = crossover
        self.mutation = mutation
        self.parsimony = parsimony
        self.elites = elites

    def _toolbox(self, n_features):
        from deap import base, creator, gp, tools

        pset = gp.PrimitiveSet("PRIORITY", n_features)
        pset.addPrimitive(np.add, 2, name="add")
        pset.addPrimitive(np.subtract, 2, name="sub")
        pset.addPrimitive(np.multiply, 2, name="mul")
        pset.addPrimitive(_div, 2, name="div")
        pset.addPrimitive(np.minimum, 2, name="minimum")
        pset.addPrimitive(np.maximum, 2, name="maximum")
        pset.addPrimitive(np.abs, 1, name="absolute")
        pset.addPrimitive(np.negative, 1, name="negative")
        with warnings.catch_warnings():  # re-registering on a second fit is harmless
            warnings.simplefilter("ignore", RuntimeWarning)
            pset.addEphemeralConstant("const", _constant)
            if not hasattr(creator, "IbpSRFitness"):
                creator.create("IbpSRFitness", base.Fitness, weights=(-1.0,))
                creator.create("IbpSRTree", gp.PrimitiveTree, fitness=creator.IbpSRFitness)
        tb = base.Toolbox()
        tb.register("expr", gp.genHalfAndHalf, pset=pset, min_=1, max_=3)
        tb.register("individual", tools.initIterate, creator.IbpSRTree, tb.expr)
        tb.register("population", tools.initRepeat, list, tb.individual)
        tb.register("mate", gp.cxOnePoint)
        tb.register("expr_mut", gp.genFull, min_=0, max_=2)
        tb.register("mutate", gp.mutUniform, expr=tb.expr_mut, pset=pset)
        limit = gp.staticLimit(key=operator.attrgetter("height"), max_value=self.max_height)
        tb.decorate("mate", limit)
        tb.decorate("mutate", limit)
        tb.register("select", tools.selTournament, tournsize=5)
        return pset, tb

    def fit(self, X, y, weight, names) -> list[FrontFormula]:
        from deap import algorithms, gp, tools

        random.seed(self.seed)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        w = np.asarray(weight, dtype=np.float64)
        w = w / w.sum()
        columns = [X[:, k] for k in range(X.shape[1])]
        pset, tb = self._toolbox(X.shape[1])

        archive: dict[int, tuple] = {}  # size -> (loss, best tree, a, b)

        def scaled(f):
            """(loss, a, b) of the weighted least-squares fit y ~ a + b f."""
            mf, my = float(np.sum(w * f)), float(np.sum(w * y))
            df = f - mf
            var = float(np.sum(w * df * df))
            b = float(np.sum(w * df * (y - my))) / var if var > 1e-12 else 0.0
            a = my - b * mf
            return float(np.sum(w * (y - a - b * f) ** 2)), a, b

        def evaluate(ind):
            try:
                with np.errstate(all="ignore"):
                    f = np.broadcast_to(np.asarray(gp.compile(ind, pset)(*columns),
                                                   dtype=np.float64), y.shape)
                if not np.all(np.isfinite(f)) or np.abs(f).max() > 1e12:
                    raise ValueError("non-finite")
                loss, a, b = scaled(f)
            except (OverflowError, ValueError, FloatingPointError, ZeroDivisionError):
                loss, a, b = float("inf"), 0.0, 0.0
            size = len(ind)
            if np.isfinite(loss) and b != 0 and (size not in archive
                                                 or loss < archive[size][0]):
                archive[size] = (loss, tb.clone(ind), a, b)
            return (loss + self.parsimony * size,)

        tb.register("evaluate", evaluate)
        population = tb.population(n=self.population_size)
        for ind in population:
            ind.fitness.values = tb.evaluate(ind)
        deadline = time.perf_counter() + self.seconds
        for _ in range(self.generations):
            if time.perf_counter() > deadline:
                break
            offspring = algorithms.varAnd(population, tb, self.crossover, self.mutation)
            for ind in offspring:
                if not ind.fitness.valid:
                    ind.fitness.values = tb.evaluate(ind)
            pool = population + offspring
            population = tools.selBest(pool, self.elites) + tb.select(
                pool, self.population_size - self.elites)
        symbols = symbols_for(names)
        out, best_loss = [], float("inf")
        for size in sorted(archive):  # non-dominated: each larger tree must fit better
            loss, ind, a, b = archive[size]
            if loss < best_loss:
                best_loss = loss
                expr = sympy.Float(a) + sympy.Float(b) * tree_to_sympy(ind, symbols)
                out.append(FrontFormula(expr, size, loss, self.name))
        return out
