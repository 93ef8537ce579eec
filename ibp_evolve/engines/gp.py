"""Strongly typed genetic programming of seeding rules with DEAP.

The primitive set sees only the *raw* features of the rule language — no composite feature that
already encodes a known rule, so that re-discovering the Kira 3 improved seeding is a real result:

=================  ==========================================================================
integer terminals  ``a1``..``aN`` (the seed's indices, ``seed.a[i-1]``), ``r``, ``s``, ``t``,
                   ``d``, ``missing`` (the seed's), ``r_target``, ``s_target``, ``t_target``,
                   ``d_target``, small integer constants (default -1, 0, 1, 2, 3)
bool terminals     ``True``, ``False``
int -> int         ``add``, ``sub``, ``min``, ``max`` (two arguments), ``abs``,
                   ``if_then_else(bool, int, int)``
int -> bool        ``lt``, ``le``, ``eq``
bool -> bool       ``and``, ``or``, ``not``
=================  ==========================================================================

Both types always have terminals and primitives, so tree generation never fails, and every
variation operator is wrapped in a static height limit.  A tree is a ``keep`` rule (its root is
boolean) and converts to

* a rule file of the shared rule language (:func:`tree_to_source`), loadable by
  ``ibp-evolve score``;
* a readable formula (:func:`tree_to_formula`), and a simplified one through sympy
  (:func:`simplify_tree`), checked to select exactly the same seeds before it is used;
* seed masks, evaluated directly with numpy over every candidate seed at once
  (:meth:`PrimitiveSet.masks`); the tests prove they equal the masks of the compiled rule file.

:class:`DeapEngine` is estimator-shaped: configuration in the constructor (:class:`GPConfig`),
the work in :meth:`DeapEngine.evolve`, results as attributes (``best_``, ``hall_of_fame_``,
``logbook_``...).  Fitness is lexicographic: the judge's fitness first (which already ranks every
complete rule before every incomplete one), the tree size second, so that equally good rules get
simpler; ``selection="nsga2"`` uses NSGA-II on the same two objectives instead.

Reproducibility: DEAP draws from Python's global :mod:`random`, which :meth:`evolve` seeds from
``config.seed`` and saves in every checkpoint, and results come back from the evaluators in job
order whatever the number of workers.  Under a generation budget with a deterministic objective
(all but ``seconds``) a run is therefore reproducible; what can differ between two runs is only
wall-clock dependent: a candidate that hits the per-candidate timeout on one run and not on
another, the ``seconds`` objective, and where a ``--time-limit`` cuts the run.
"""

from __future__ import annotations

import copy
import operator
import random
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np
from deap import base, gp, tools

from ibp_evolve.runs.evaluation import (FAILED_FITNESS, EvalJob, LocalEvaluator, MaskCache, SuiteSpec,
                          mask_hash, suite_features)
from ibp_evolve.runs.store import (BestRule, CandidateRecord, RunFolder, random_state_from_json,
                                   random_state_to_json)

__all__ = ["Int", "Bool", "PrimitiveSet", "GPConfig", "DeapEngine", "BestRule",
           "tree_to_source", "tree_to_formula", "simplify_tree", "tree_from_source",
           "GPSourceError"]

ENGINE = "deap"


class Int:
    """GP type of integer expressions (not Python's int: DEAP treats bool as a subclass)."""


class Bool:
    """GP type of boolean expressions."""


class GPSourceError(ValueError):
    """A rule that the GP primitive set cannot express (for start rules)."""


SEED_FEATURES = ("r", "s", "t", "d", "missing")
TARGET_FEATURES = ("r", "s", "t", "d")
DEFAULT_CONSTANTS = (-1, 0, 1, 2, 3)
MUTATIONS = ("uniform", "node", "insert", "shrink", "conjoin")

# name -> (argument types, return type, numpy function)
_PRIMITIVES = {
    "add": ((Int, Int), Int, np.add),
    "sub": ((Int, Int), Int, np.subtract),
    "min": ((Int, Int), Int, np.minimum),
    "max": ((Int, Int), Int, np.maximum),
    "abs": ((Int,), Int, np.abs),
    "if_then_else": ((Bool, Int, Int), Int, np.where),
    "lt": ((Int, Int), Bool, np.less),
    "le": ((Int, Int), Bool, np.less_equal),
    "eq": ((Int, Int), Bool, np.equal),
    "and": ((Bool, Bool), Bool, np.logical_and),
    "or": ((Bool, Bool), Bool, np.logical_or),
    "not": ((Bool,), Bool, np.logical_not),
}


def _placeholder(*args):  # DEAP wants a callable per primitive; we never call it
    raise NotImplementedError


class PrimitiveSet:
    """The typed primitive set for a family with ``n_indices`` indices, plus the evaluators
    that turn its trees into masks, rule sources and formulas."""

    def __init__(self, n_indices: int, constants=DEFAULT_CONSTANTS):
        self.n_indices = int(n_indices)
        self.constants = tuple(int(c) for c in constants)
        pset = gp.PrimitiveSetTyped("keep", [], Bool)
        for name, (args, ret, _) in _PRIMITIVES.items():
            pset.addPrimitive(_placeholder, list(args), ret, name=name)
        self.index_terminals = [f"a{i + 1}" for i in range(self.n_indices)]
        self.seed_terminals = list(SEED_FEATURES)
        self.target_terminals = [f"{f}_target" for f in TARGET_FEATURES]
        for name in self.index_terminals + self.seed_terminals + self.target_terminals:
            pset.addTerminal(name, Int, name=name)
        for c in self.constants:
            pset.addTerminal(c, Int, name=str(c))
        pset.addTerminal(True, Bool, name="True")
        pset.addTerminal(False, Bool, name="False")
        self.pset = pset

    # -- (de)serialisation -----------------------------------------------------------------
    def from_names(self, names) -> list:
        try:
            return [self.pset.mapping[n] for n in names]
        except KeyError as exc:
            raise GPSourceError(f"unknown GP node {exc.args[0]!r}") from None

    @staticmethod
    def names(tree) -> list[str]:
        return [node.name for node in tree]

    # -- numpy evaluation ------------------------------------------------------------------
    def _terminal(self, name: str, features):
        if name[0] == "a" and name[1:].isdigit():
            return features.a[:, int(name[1:]) - 1]
        if name.endswith("_target"):
            return int(features.target_features[name[:-len("_target")]])
        if name in SEED_FEATURES:
            return getattr(features, name)
        if name == "True":
            return True
        if name == "False":
            return False
        return int(name)

    def mask(self, tree, features) -> np.ndarray:
        """The tree's keep-mask over one target's candidate seeds (vectorised)."""
        stack = []
        for node in reversed(tree):
            if node.arity == 0:
                stack.append(self._terminal(node.name, features))
            else:
                func = _PRIMITIVES[node.name][2]
                args = [stack.pop() for _ in range(node.arity)]
                stack.append(func(*args))
        value = np.asarray(stack.pop(), dtype=bool)
        return np.broadcast_to(value, (features.n_seeds,)).copy() if value.ndim == 0 else value

    def masks(self, tree, features_list) -> list[np.ndarray]:
        return [self.mask(tree, f) for f in features_list]


# ----------------------------------------------------------------------------- printing

# Python precedence of what each node prints as (higher binds tighter).
_PREC = {"or": 1, "and": 2, "not": 3, "lt": 4, "le": 4, "eq": 4, "add": 6, "sub": 6,
         "if_then_else": 0}
_CMP = {"lt": "<", "le": "<=", "eq": "=="}


def _source_name(name: str) -> str:
    if name[0] == "a" and name[1:].isdigit():
        return f"seed.a[{int(name[1:]) - 1}]"
    if name.endswith("_target"):
        return f"target.{name[:-len('_target')]}"
    if name in SEED_FEATURES:
        return f"seed.{name}"
    return name


def _render(tree, rename) -> str:
    """Infix text of a prefix tree, parenthesised only where Python needs it (plus around
    comparisons under ``not`` and conditionals anywhere inside, for the reader)."""
    stack = []
    for node in reversed(tree):
        name = node.name
        if node.arity == 0:
            text = rename(name)
            stack.append((text, 7 if text.startswith("-") else 9))
            continue
        args = [stack.pop() for _ in range(node.arity)]

        def wrap(arg, min_prec):
            return arg[0] if arg[1] >= min_prec else f"({arg[0]})"

        if name in ("min", "max", "abs"):
            stack.append((f"{name}({', '.join(a[0] for a in args)})", 9))
        elif name == "add":
            stack.append((f"{wrap(args[0], 6)} + {wrap(args[1], 7)}", 6))
        elif name == "sub":
            stack.append((f"{wrap(args[0], 6)} - {wrap(args[1], 7)}", 6))
        elif name in _CMP:
            stack.append((f"{wrap(args[0], 5)} {_CMP[name]} {wrap(args[1], 5)}", 4))
        elif name in ("and", "or"):
            p = _PREC[name]
            stack.append((f"{wrap(args[0], p)} {name} {wrap(args[1], p)}", p))
        elif name == "not":
            stack.append((f"not {wrap(args[0], 5)}", 3))
        elif name == "if_then_else":
            cond, x, y = args
            stack.append((f"{wrap(x, 1)} if {wrap(cond, 1)} else {wrap(y, 1)}", 0))
        else:  # pragma: no cover - every primitive is handled above
            raise ValueError(name)
    return stack.pop()[0]


def tree_to_formula(tree) -> str:
    """The tree as a plain formula: ``d <= d_target and s <= s_target - missing``."""
    return _render(tree, str)


def tree_to_expression(tree) -> str:
    """The tree as a rule-language expression over ``seed``/``target``."""
    return _render(tree, _source_name)


def rule_source(expression: str, comment: str | None = None) -> str:
    lines = [f"# {comment}\n"] if comment else []
    return "".join(lines) + f"def keep(seed, target):\n    return {expression}\n"


def tree_to_source(tree) -> str:
    """A rule file of the shared rule language (what ``ibp-evolve score`` reads)."""
    return rule_source(tree_to_expression(tree))


# ----------------------------------------------------------------------------- sympy

def _sympy_of(tree, symbols):
    import sympy as sp
    funcs = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "min": sp.Min,
             "max": sp.Max, "abs": sp.Abs, "lt": sp.Lt, "le": sp.Le, "eq": sp.Eq,
             "and": sp.And, "or": sp.Or, "not": sp.Not,
             "if_then_else": lambda c, x, y: sp.Piecewise((x, c), (y, True))}
    stack = []
    for node in reversed(tree):
        name = node.name
        if node.arity == 0:
            if name == "True":
                stack.append(sp.true)
            elif name == "False":
                stack.append(sp.false)
            elif name in symbols:
                stack.append(symbols[name])
            else:
                stack.append(sp.Integer(int(name)))
        else:
            args = [stack.pop() for _ in range(node.arity)]
            stack.append(funcs[name](*args))
    return stack.pop()


# sympy's automatic evaluation of nested min/max/abs grows steeply with size (seconds at ~100
# nodes): larger trees are shown unsimplified.
MAX_SIMPLIFY_SIZE = 100


class _SympyPrinter:
    """sympy expression -> rule-language / formula text (``and``, ``min(...)``, ...)."""

    def __init__(self, rename):
        self.rename = rename

    def __call__(self, e) -> str:
        return self.p(e)[0]

    def p(self, e):
        import sympy as sp
        if e is sp.true:
            return "True", 9
        if e is sp.false:
            return "False", 9
        if isinstance(e, sp.Symbol):
            return self.rename(e.name), 9
        if isinstance(e, sp.Integer):
            v = int(e)
            return str(v), (9 if v >= 0 else 7)
        if isinstance(e, sp.Add):
            terms = sorted(e.args, key=lambda x: (x.could_extract_minus_sign(), sp.default_sort_key(x)))
            out = ""
            for k, term in enumerate(terms):
                neg = term.could_extract_minus_sign()
                body = self.wrap(-term if neg else term, 7 if (neg or k) else 6)
                out += (("- " if not k else " - ") if neg else ("" if not k else " + ")) + body
            return out.strip(), 6
        if isinstance(e, sp.Mul):
            coeff, rest = e.as_coeff_Mul()
            if coeff == -1:
                return f"-{self.wrap(rest, 8)}", 7
            if coeff.is_Integer:
                return f"{int(coeff)} * {self.wrap(rest, 8)}", 7
            raise ValueError(f"cannot print {e}")
        if isinstance(e, (sp.Min, sp.Max, sp.Abs)):
            name = {sp.Min: "min", sp.Max: "max", sp.Abs: "abs"}[type(e)]
            return f"{name}({', '.join(self(a) for a in e.args)})", 9
        if isinstance(e, sp.core.relational.Relational):
            op = {sp.StrictLessThan: "<", sp.LessThan: "<=", sp.StrictGreaterThan: ">",
                  sp.GreaterThan: ">=", sp.Equality: "==", sp.Unequality: "!="}[type(e)]
            return f"{self.wrap(e.lhs, 5)} {op} {self.wrap(e.rhs, 5)}", 4
        if isinstance(e, sp.And):
            return " and ".join(self.wrap(a, 3) for a in self._ordered(e.args)), 2
        if isinstance(e, sp.Or):
            return " or ".join(self.wrap(a, 2) for a in self._ordered(e.args)), 1
        if isinstance(e, sp.Not):
            return f"not {self.wrap(e.args[0], 5)}", 3
        if isinstance(e, sp.Piecewise):
            *pieces, (last, cond) = e.args
            text = self.wrap(last, 1) if cond is sp.true else None
            if text is None:
                raise ValueError("Piecewise without a default branch")
            for value, c in reversed(pieces):
                text = f"{self.wrap(value, 1)} if {self.wrap(c, 1)} else {text}"
            return text, 0
        raise ValueError(f"cannot print {type(e).__name__}: {e}")

    @staticmethod
    def _ordered(args):
        import sympy as sp
        return sorted(args, key=lambda a: (sp.count_ops(a), str(a)))

    def wrap(self, e, min_prec) -> str:
        text, prec = self.p(e)
        return text if prec >= min_prec else f"({text})"


def simplify_tree(tree, pset: PrimitiveSet | None = None, features_list=None):
    """(formula, rule expression) of the tree simplified with sympy.

    sympy folds what GP leaves behind (``min(s, s)``, ``x - x``, ``not not``, tautologies,
    repeated clauses; boolean minimisation when there are at most 5 distinct comparisons).  When
    ``features_list`` is given the simplified rule is checked to select exactly the same seeds
    on every target; if it does not (or sympy fails), the unsimplified text is returned.
    """
    import sympy as sp
    names = set(n.name for n in tree if n.arity == 0)
    symbols = {n: sp.Symbol(n, integer=True) for n in names
               if not n.lstrip("-").isdigit() and n not in ("True", "False")}
    plain = (tree_to_formula(tree), tree_to_expression(tree))
    if len(tree) > MAX_SIMPLIFY_SIZE:
        return plain
    try:
        expr = _sympy_of(tree, symbols)
        options = [expr]
        atoms = expr.atoms(sp.core.relational.Relational)
        # boolean minimisation is exponential in the number of comparisons: small rules only
        if 0 < len(atoms) <= 5 and isinstance(expr, sp.logic.boolalg.Boolean):
            options.append(sp.simplify_logic(expr, force=False, deep=False))
        best = min(options, key=lambda e: (sp.count_ops(e), len(str(e))))
        formula = _SympyPrinter(str)(best)
        expression = _SympyPrinter(_source_name)(best)
    except Exception:
        return plain
    if len(formula) >= len(plain[0]):
        return plain
    if features_list is not None and pset is not None:
        from ibp_evolve.language.compile import compile_rule
        from ibp_evolve.language.parse import RuleError, load_rule
        try:
            compiled = compile_rule(load_rule(rule_source(expression)))
            same = all(np.array_equal(np.asarray(compiled(f), dtype=bool), pset.mask(tree, f))
                       for f in features_list)
        except (RuleError, ValueError):
            same = False
        if not same:
            return plain
    return formula, expression


# ----------------------------------------------------------------------------- start rules

def tree_from_source(source: str, pset: PrimitiveSet) -> list:
    """A GP tree (list of DEAP nodes) for a rule that the primitive set can express.

    The rule must be ``def keep(seed, target): return EXPR`` with EXPR built from the GP's
    features and operations (comparisons may be chained and use ``> >= !=``; ``and``/``or``
    with any number of operands; ``min``/``max`` with two or more; integer constants outside
    the constant set are built from sums).
    """
    import ast

    from ibp_evolve.language.parse import load_rule
    rule = load_rule(source)
    if rule.kind != "keep":
        raise GPSourceError("only keep rules can start a GP run")
    fn = ast.parse(rule.source).body
    fn = [s for s in fn if isinstance(s, ast.FunctionDef)][0]
    body = [s for s in fn.body if not (isinstance(s, ast.Expr)
                                       and isinstance(s.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        raise GPSourceError("a start rule must be a single 'return EXPR'")
    m = pset.pset.mapping

    def fail(node, what):
        raise GPSourceError(f"line {getattr(node, 'lineno', '?')}: {what} is not in the GP "
                            f"primitive set")

    def const(v: int) -> list:
        if str(v) in m:
            return [m[str(v)]]
        big, small = max(pset.constants), min(pset.constants)
        if v > 0 and big > 1:
            return [m["add"]] + const(big) + const(v - big)
        if v < 0 and small < -1:
            return [m["add"]] + const(small) + const(v - small)
        if v < 0 and big > 0:
            return [m["sub"]] + const(v + big) + const(big)
        raise GPSourceError(f"constant {v} cannot be built from the constants {pset.constants}")

    def integer(node) -> list:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return const(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            if isinstance(node.operand, ast.Constant) and type(node.operand.value) is int:
                return const(-node.operand.value)
            return [m["sub"]] + const(0) + integer(node.operand)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, attr = node.value.id, node.attr
            if owner == "seed" and attr in SEED_FEATURES:
                return [m[attr]]
            if owner == "target" and attr in TARGET_FEATURES:
                return [m[f"{attr}_target"]]
            fail(node, f"{owner}.{attr}")
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                and isinstance(node.value.value, ast.Name) and node.value.value.id == "seed"
                and node.value.attr == "a"):
            idx = node.slice
            sign = 1
            if isinstance(idx, ast.UnaryOp) and isinstance(idx.op, ast.USub):
                idx, sign = idx.operand, -1
            if isinstance(idx, ast.Constant) and type(idx.value) is int:
                i = sign * idx.value
                i = i + pset.n_indices if i < 0 else i
                if 0 <= i < pset.n_indices:
                    return [m[f"a{i + 1}"]]
            fail(node, "this index expression")
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            name = "add" if isinstance(node.op, ast.Add) else "sub"
            return [m[name]] + integer(node.left) + integer(node.right)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            f, args = node.func.id, node.args
            if f == "abs" and len(args) == 1:
                return [m["abs"]] + integer(args[0])
            if f in ("min", "max") and len(args) >= 2:
                out = integer(args[-1])
                for a in reversed(args[:-1]):
                    out = [m[f]] + integer(a) + out
                return out
        if isinstance(node, ast.IfExp):
            return [m["if_then_else"]] + boolean(node.test) + integer(node.body) + integer(
                node.orelse)
        fail(node, ast.unparse(node))

    def compare(op, left, right) -> list:
        if isinstance(op, ast.Lt):
            return [m["lt"]] + left + right
        if isinstance(op, ast.LtE):
            return [m["le"]] + left + right
        if isinstance(op, ast.Gt):
            return [m["lt"]] + right + left
        if isinstance(op, ast.GtE):
            return [m["le"]] + right + left
        if isinstance(op, ast.Eq):
            return [m["eq"]] + left + right
        if isinstance(op, ast.NotEq):
            return [m["not"], m["eq"]] + left + right
        raise GPSourceError(f"comparison {type(op).__name__} is not in the GP primitive set")

    def boolean(node) -> list:
        if isinstance(node, ast.Constant) and type(node.value) is bool:
            return [m[str(node.value)]]
        if isinstance(node, ast.BoolOp):
            name = "and" if isinstance(node.op, ast.And) else "or"
            out = boolean(node.values[-1])
            for v in reversed(node.values[:-1]):
                out = [m[name]] + boolean(v) + out
            return out
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return [m["not"]] + boolean(node.operand)
        if isinstance(node, ast.Compare):
            operands = [node.left] + node.comparators
            parts = [compare(op, integer(a), integer(b))
                     for op, a, b in zip(node.ops, operands[:-1], operands[1:])]
            out = parts[-1]
            for p in reversed(parts[:-1]):
                out = [m["and"]] + p + out
            return out
        fail(node, ast.unparse(node))

    return boolean(body[0].value)


# ----------------------------------------------------------------------------- the engine

@dataclass
class GPConfig:
    """Settings of a GP run (all have defaults that finish in minutes on a laptop)."""
    population: int = 300
    generations: int = 40
    seed: int = 0
    objective: str = "seeds"
    selection: str = "lexicographic"     # or "nsga2"
    tournament_size: int = 5
    crossover_rate: float = 0.5          # share of offspring made by crossover
    mutation_rate: float = 0.5           # chance a crossover child is also mutated (the
                                         # others are always mutated)
    elite: int = 5                       # best distinct rules copied unchanged (lexicographic)
    init_min_height: int = 1
    init_max_height: int = 4
    max_height: int = 8                  # static limit on every variation operator
    constants: tuple = DEFAULT_CONSTANTS
    mutation_weights: dict = field(default_factory=lambda: {m: 1.0 for m in MUTATIONS})
    conjoin_height: int = 3              # height of the condition the conjoin mutation adds
    retries: int = 3                     # re-draws of an offspring whose mask is a duplicate
    start_rules: tuple = ()              # rule sources injected into the first generation
    n_best: int = 5                      # best rules kept in RUN/best/
    time_limit: float | None = None      # seconds (hard deadline), per invocation

    def to_json(self) -> dict:
        d = asdict(self)
        d["constants"] = list(self.constants)
        d["start_rules"] = list(self.start_rules)
        return d

    @classmethod
    def from_json(cls, data: dict) -> "GPConfig":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in data.items() if k in known}
        if "constants" in d:
            d["constants"] = tuple(d["constants"])
        if "start_rules" in d:
            d["start_rules"] = tuple(d["start_rules"])
        return cls(**d)


def cx_one_point(ind1, ind2):
    """Typed one-point crossover, as DEAP's ``cxOnePoint`` but reproducible across processes:
    DEAP picks the crossover type from a ``set`` of type classes, whose order follows their
    memory addresses."""
    if len(ind1) < 2 or len(ind2) < 2:
        return ind1, ind2
    spots1, spots2 = {}, {}
    for idx, node in enumerate(ind1[1:], 1):
        spots1.setdefault(node.ret, []).append(idx)
    for idx, node in enumerate(ind2[1:], 1):
        spots2.setdefault(node.ret, []).append(idx)
    common = sorted((t for t in spots1 if t in spots2), key=lambda t: t.__name__)
    if common:
        typ = random.choice(common)
        slice1 = ind1.searchSubtree(random.choice(spots1[typ]))
        slice2 = ind2.searchSubtree(random.choice(spots2[typ]))
        ind1[slice1], ind2[slice2] = ind2[slice2], ind1[slice1]
    return ind1, ind2


class TreeFitness(base.Fitness):
    weights = (-1.0, -1.0)   # (judge fitness, tree size), both minimised


class Individual(gp.PrimitiveTree):
    """A GP tree with its fitness and its ancestry (candidate id, operation, parents)."""

    def __init__(self, content):
        super().__init__(content)
        self.fitness = TreeFitness()
        self.cid = None
        self.operation = "random"
        self.parents = ()
        self.digest = None
        self.evaluation = None
        self.generation = None
        self.masks = None
        self.error = None

    def __deepcopy__(self, memo):
        # Nodes are immutable and shared; the evaluation is never modified: copy references.
        new = self.__class__(self)
        new.__dict__.update(self.__dict__)
        new.fitness = TreeFitness()
        if self.fitness.valid:
            new.fitness.values = self.fitness.values
        return new


class DeapEngine:
    """Strongly typed GP over the raw rule features (see the module docstring).

    ``DeapEngine(GPConfig(...)).evolve(suite)`` runs the evolution; afterwards ``best_`` (a
    :class:`BestRule`), ``hall_of_fame_`` (best distinct rules), ``logbook_`` (one dict of
    statistics per generation), ``population_``, ``n_candidates_``, ``n_evaluations_``,
    ``generation_`` (last finished generation), ``stopped_`` (``generations``, ``time_limit``)
    and ``elapsed_`` hold the results.
    """
    name = ENGINE

    def __init__(self, config: GPConfig | None = None, **overrides):
        config = config or GPConfig()
        if overrides:
            config = GPConfig(**{**asdict(config), **overrides})
        if config.selection not in ("lexicographic", "nsga2"):
            raise ValueError(f"selection must be 'lexicographic' or 'nsga2', got "
                             f"{config.selection!r}")
        if config.population < 2:
            raise ValueError("population must be at least 2")
        self.config = config

    # -- set-up ----------------------------------------------------------------------------
    def _setup(self, spec: SuiteSpec):
        cfg = self.config
        self.spec = spec
        self.suite = spec.load()
        self.features = suite_features(self.suite)
        self.primitives = PrimitiveSet(self.suite.family.n, cfg.constants)
        pset = self.primitives.pset
        tb = base.Toolbox()
        tb.register("expr_init", gp.genHalfAndHalf, pset=pset, min_=cfg.init_min_height,
                    max_=cfg.init_max_height)
        tb.register("expr_mut", gp.genGrow, min_=0, max_=2)
        tb.register("mate", cx_one_point)
        tb.register("mut_uniform", gp.mutUniform, expr=tb.expr_mut, pset=pset)
        tb.register("mut_node", gp.mutNodeReplacement, pset=pset)
        tb.register("mut_insert", gp.mutInsert, pset=pset)
        tb.register("mut_shrink", gp.mutShrink)
        tb.register("mut_conjoin", self._mut_conjoin)
        limit = gp.staticLimit(key=operator.attrgetter("height"), max_value=cfg.max_height)
        self.mutations = tuple(f"mut_{m}" for m in MUTATIONS)
        for op in ("mate",) + self.mutations:
            tb.decorate(op, limit)
        self.toolbox = tb
        self.mutation_weights = [cfg.mutation_weights.get(m, 1.0) for m in MUTATIONS]

    def _new(self, nodes, operation="random", parents=()) -> Individual:
        ind = Individual(nodes)
        ind.operation, ind.parents = operation, tuple(parents)
        return ind

    # -- evaluation ------------------------------------------------------------------------
    def _evaluate(self, individuals, generation, evaluator, deadline, progress):
        """Score the individuals (identical masks once); returns their records."""
        jobs, waiting, records = [], {}, []
        for ind in individuals:
            ind.cid, ind.generation = self.n_candidates_, generation
            self.n_candidates_ += 1
            if getattr(ind, "masks", None) is None and getattr(ind, "error", None) is None:
                self._compute_masks(ind)
            masks, ind.masks = ind.masks, None
            if masks is None:
                ind.evaluation = None
                ind.fitness.values = (FAILED_FITNESS, len(ind))
                records.append(self._record(ind, generation, None, None, reason=ind.error))
                continue
            hit = self.cache.get(ind.digest)
            if hit is not None:
                self._assign(ind, *hit)
                records.append(self._record(ind, generation, hit[0], hit[1], cached=True))
            elif ind.digest in waiting:
                waiting[ind.digest][1].append(ind)
            else:
                jobs.append(EvalJob(self.n_evaluations_, masks=masks))
                waiting[ind.digest] = (self.n_evaluations_, [ind])
                self.n_evaluations_ += 1
        if progress:
            progress.start_batch(len(jobs), len(individuals))
        results = evaluator.evaluate(jobs, deadline=deadline,
                                     on_result=progress.result if progress else None)
        by_index = {ev.key: ev for ev in results}
        stopped = False
        for digest, (index, inds) in waiting.items():
            ev = by_index[index]
            if ev.status == "stopped":
                stopped = True
                for ind in inds:
                    ind.fitness.values = (FAILED_FITNESS, len(ind))
                    ind.evaluation = ev
                continue
            self.cache.put(digest, index, ev)
            for k, ind in enumerate(inds):
                self._assign(ind, index, ev)
                records.append(self._record(ind, generation, index, ev, cached=k > 0))
        records.sort(key=lambda r: r.id)
        return records, stopped

    @staticmethod
    def _assign(ind, index, ev):
        ind.evaluation = ev
        ind.fitness.values = (ev.fitness, len(ind))

    def _record(self, ind, generation, index, ev, cached=False, reason=None):
        cfg = self.config
        rec = CandidateRecord(
            id=ind.cid, engine=ENGINE, operation=ind.operation, parents=list(ind.parents),
            generation=generation, eval_index=index, source=tree_to_source(ind),
            formula=tree_to_formula(ind), size=len(ind), mask_hash=ind.digest,
            objective=cfg.objective, cached=cached)
        if ev is None:
            rec.status, rec.reject_reason, rec.fitness = "rejected", reason, FAILED_FITNESS
            return rec
        rec.status = ev.status
        rec.reject_reason = ev.reason or None
        rec.fitness, rec.complete, rec.seeds = ev.fitness, ev.complete, ev.seeds
        rec.objective_value = ev.objective_value
        rec.scores = ev.targets
        rec.wall_time = 0.0 if cached else ev.wall_time
        return rec

    # -- variation and selection -------------------------------------------------------------
    def _mut_conjoin(self, ind):
        """Add a condition: a boolean subtree b becomes ``b and new`` or ``b or new``."""
        pset = self.primitives.pset
        spots = [i for i, node in enumerate(ind) if node.ret is Bool]
        i = random.choice(spots)
        where = ind.searchSubtree(i)
        extra = gp.genGrow(pset, 1, self.config.conjoin_height, type_=Bool)
        op = pset.mapping["and" if random.random() < 0.7 else "or"]
        ind[where] = [op] + (ind[where] + extra if random.random() < 0.5 else
                             extra + ind[where])
        return ind,

    def _child(self, population):
        """One offspring: tournament parents, crossover and/or mutation."""
        cfg, tb = self.config, self.toolbox
        if random.random() < cfg.crossover_rate:
            a, b = [copy.deepcopy(p) for p in self._select_parents(population, 2)]
            child = tb.mate(a, b)[random.randrange(2)]
            ops, parents = ["crossover"], [a.cid, b.cid]
            if random.random() >= cfg.mutation_rate:
                return self._new(list(child), "crossover", parents)
        else:
            (child,) = [copy.deepcopy(p) for p in self._select_parents(population, 1)]
            ops, parents = [], [child.cid]
        name = random.choices(self.mutations, weights=self.mutation_weights)[0]
        (child,) = getattr(tb, name)(child)
        ops.append("mutation:" + name[4:])
        return self._new(list(child), "+".join(ops), parents)

    def _vary(self, population, n, keep) -> list:
        """``n`` offspring whose seed selections are new to the next population (``keep``
        and the offspring so far), retrying a few times: identical masks are wasted slots.
        A copy of a known mask is still admitted when it is a smaller tree."""
        cfg = self.config
        smallest = {}
        for ind in keep:
            if ind.digest is not None:
                smallest[ind.digest] = min(len(ind), smallest.get(ind.digest, 1 << 30))
        offspring = []
        while len(offspring) < n:
            for attempt in range(cfg.retries + 1):
                child = self._child(population)
                self._compute_masks(child)
                known = smallest.get(child.digest)
                if child.digest is None or known is None or len(child) < known:
                    break
            if child.digest is not None:
                smallest[child.digest] = min(len(child), smallest.get(child.digest, 1 << 30))
            offspring.append(child)
        return offspring

    def _compute_masks(self, ind) -> None:
        try:
            ind.masks = self.primitives.masks(ind, self.features)
            ind.digest = mask_hash(ind.masks)
        except Exception as exc:  # should not happen for well-typed trees
            ind.masks, ind.digest, ind.error = None, None, f"{type(exc).__name__}: {exc}"

    def _select_parents(self, population, n):
        return tools.selTournament(population, n, self.config.tournament_size)

    def _survivors(self, population, offspring):
        cfg = self.config
        if cfg.selection == "nsga2":
            return tools.selNSGA2(population + offspring, cfg.population)
        return self._elites + offspring

    @staticmethod
    def _distinct_best(individuals, n):
        out, seen = [], set()
        for ind in sorted(individuals, key=lambda i: (i.fitness.values, i.cid)):
            key = ind.digest or ("id", ind.cid)
            if key not in seen:
                seen.add(key)
                out.append(ind)
            if len(out) >= n:
                break
        return out

    # -- checkpoints -----------------------------------------------------------------------
    def _state(self) -> dict:
        def pack(ind):
            return {"nodes": PrimitiveSet.names(ind), "fitness": ind.fitness.values,
                    "cid": ind.cid, "generation": ind.generation, "operation": ind.operation,
                    "parents": list(ind.parents),
                    "digest": ind.digest,
                    "evaluation": None if ind.evaluation is None else ind.evaluation.to_json()}
        return {"engine": ENGINE, "generation": self.generation_,
                "population": [pack(i) for i in self.population_],
                "hall_of_fame": [pack(i) for i in self.hall_of_fame_],
                "random_state": random_state_to_json(random.getstate()),
                "n_candidates": self.n_candidates_,
                "n_evaluations": self.n_evaluations_, "elapsed": self.elapsed_,
                "logbook": self.logbook_, "config": self.config.to_json()}

    def _restore(self, state: dict) -> None:
        """Continue from a checkpoint's plain data: trees from their node names (looked up in
        the primitive set, nothing evaluated), the random state from its integers."""
        from ibp_evolve.runs.evaluation import Evaluation

        if state.get("engine") != ENGINE:
            raise ValueError(f"the checkpoint is of engine {state.get('engine')!r}")

        def unpack(d):
            ind = self._new(self.primitives.from_names(d["nodes"]), d["operation"],
                            d["parents"])
            ind.cid, ind.digest, ind.generation = d["cid"], d["digest"], d["generation"]
            ind.fitness.values = tuple(d["fitness"])
            ind.evaluation = None if d["evaluation"] is None else Evaluation(**d["evaluation"])
            return ind
        self.generation_ = state["generation"]
        self.population_ = [unpack(d) for d in state["population"]]
        self.hall_of_fame_ = [unpack(d) for d in state["hall_of_fame"]]
        random.setstate(random_state_from_json(state["random_state"]))
        self.n_candidates_ = state["n_candidates"]
        self.n_evaluations_ = state["n_evaluations"]
        self.elapsed_ = state["elapsed"]
        self.logbook_ = list(state["logbook"])

    def _rebuild_cache(self, run: RunFolder) -> None:
        from ibp_evolve.runs.evaluation import Evaluation
        for rec in run.db.candidates("WHERE cached = 0 AND mask_hash IS NOT NULL"):
            if rec.status in ("ok", "rejected") and rec.eval_index is not None:
                self.cache.put(rec.mask_hash, rec.eval_index, Evaluation(
                    rec.eval_index, rec.status, rec.fitness, bool(rec.complete),
                    rec.seeds or 0, rec.objective_value or 0.0, rec.scores or [],
                    rec.reject_reason or "", rec.wall_time or 0.0))

    # -- the run ---------------------------------------------------------------------------
    def evolve(self, suite, evaluator=None, run: RunFolder | None = None, progress=None,
               resume: bool = False):
        """Evolve rules on ``suite`` (a suite name, a path or a :class:`SuiteSpec`).

        ``evaluator`` defaults to scoring in this process; ``run`` makes the run durable
        (database, checkpoints, best rules); ``resume`` continues from the run's checkpoint.
        Returns ``self``.
        """
        cfg = self.config
        spec = suite if isinstance(suite, SuiteSpec) else SuiteSpec.of(str(suite))
        self._setup(spec)
        own_evaluator = evaluator is None
        evaluator = evaluator or LocalEvaluator(spec, cfg.objective)
        self.cache = MaskCache()
        self.population_, self.hall_of_fame_, self.logbook_ = [], [], []
        self.n_candidates_ = self.n_evaluations_ = 0
        self.generation_ = -1
        self.elapsed_ = 0.0
        self.stopped_ = None
        self.run_ = run
        started = time.monotonic()
        deadline = None if cfg.time_limit is None else started + cfg.time_limit
        if run is not None:
            run.lock()   # one writer per run folder
        state = run.load_checkpoint() if (run is not None and resume) else None
        if state:
            try:
                self._restore(state)
            except (KeyError, TypeError, ValueError, IndexError, GPSourceError) as exc:
                raise run.checkpoint_error(exc) from None
        if run is not None:
            # rows of the generation that was in progress when the run stopped are redone
            run.db.truncate_after(state["generation"] if state else -1)
        if state:
            self._rebuild_cache(run)
        else:
            random.seed(cfg.seed)
        elapsed_before = self.elapsed_
        if progress:
            progress.begin(self, done_generations=self.generation_ + 1,
                           total_generations=cfg.generations + 1, time_limit=cfg.time_limit)
        try:
            while self.generation_ < cfg.generations:
                if deadline is not None and time.monotonic() >= deadline:
                    self.stopped_ = "time_limit"
                    break
                g = self.generation_ + 1
                gen_start = time.monotonic()
                if g == 0:
                    candidates = self._initial_population()
                else:
                    keep = [] if cfg.selection == "nsga2" else self._distinct_best(
                        self.population_, min(cfg.elite, cfg.population - 1))
                    self._elites = keep
                    candidates = self._vary(self.population_, cfg.population - len(keep),
                                            keep if keep else self.population_)
                hits_before, evals_before = self.cache.hits, self.n_evaluations_
                records, stopped = self._evaluate(candidates, g, evaluator, deadline, progress)
                if stopped:
                    # The deadline cut this generation: keep what was scored (for the best
                    # rules), but write no checkpoint; a resume redoes the generation.
                    if run is not None and records:
                        run.db.add_candidates(records)
                    self._update_hall_of_fame(candidates)
                    self.stopped_ = "time_limit"
                    break
                if g == 0:
                    self.population_ = candidates
                    if cfg.selection == "nsga2":
                        self.population_ = tools.selNSGA2(candidates, cfg.population)
                else:
                    self.population_ = self._survivors(self.population_, candidates)
                self._update_hall_of_fame(candidates)
                self.elapsed_ = elapsed_before + (time.monotonic() - started)
                stats = self._statistics(g, candidates, records, time.monotonic() - gen_start,
                                         self.n_evaluations_ - evals_before,
                                         self.cache.hits - hits_before)
                self.logbook_.append(stats)
                self.generation_ = g
                if run is not None:
                    run.commit_generation(records, stats, self._state())
                if progress:
                    progress.generation(stats)
            if self.stopped_ is None:
                self.stopped_ = "generations"
        finally:
            self.elapsed_ = elapsed_before + (time.monotonic() - started)
            if own_evaluator:
                evaluator.close()
        self._finish(run)
        return self

    def _initial_population(self) -> list:
        cfg = self.config
        out = []
        for k, src in enumerate(cfg.start_rules):
            out.append(self._new(tree_from_source(src, self.primitives), "start"))
        while len(out) < cfg.population:
            out.append(self._new(self.toolbox.expr_init(), "random"))
        return out[:max(cfg.population, len(cfg.start_rules))]

    def _update_hall_of_fame(self, candidates) -> None:
        pool = self.hall_of_fame_ + [c for c in candidates if c.evaluation is not None
                                     and c.evaluation.ok]
        self.hall_of_fame_ = [copy.deepcopy(i) for i in
                              self._distinct_best(pool, max(self.config.n_best, 1))]

    def _statistics(self, g, candidates, records, seconds, n_evals, n_hits) -> dict:
        pop = self.population_
        best = self.hall_of_fame_[0] if self.hall_of_fame_ else None
        ev = best.evaluation if best is not None else None
        complete = [i for i in pop if i.evaluation is not None and i.evaluation.complete]
        failed = sum(1 for r in records if r.status not in ("ok",))
        return {"generation": g, "candidates": len(candidates), "evaluations": n_evals,
                "cache_hits": n_hits, "failed": failed,
                "best_fitness": None if best is None else best.fitness.values[0],
                "best_seeds": None if ev is None else ev.seeds,
                "best_complete": None if ev is None else int(ev.complete),
                "best_size": None if best is None else len(best),
                "share_complete": len(complete) / max(1, len(pop)),
                "mean_size": float(np.mean([len(i) for i in pop])) if pop else 0.0,
                "evals_per_second": n_evals / seconds if seconds > 0 else 0.0,
                "seconds": seconds, "elapsed": self.elapsed_,
                "complete_best_seeds": min((i.evaluation.seeds for i in complete),
                                           default=None)}

    def _finish(self, run: RunFolder | None) -> None:
        """Simplify the best rules' formulas, set ``best_`` and write ``RUN/best``."""
        self.best_rules_ = []
        for ind in self.hall_of_fame_:
            formula, expression = simplify_tree(ind, self.primitives, self.features)
            ev = ind.evaluation
            self.best_rules_.append(BestRule(
                rule_source(expression), formula, ev.fitness, ev.complete, ev.seeds, len(ind),
                ind.cid, ind.generation, ev.targets))
        self.best_ = self.best_rules_[0] if self.best_rules_ else None
        if run is None:
            return
        records = run.db.best(self.config.n_best)
        simplified = {r.candidate: r for r in self.best_rules_}
        for rec in records:
            rule = simplified.get(rec.id)
            if rule is None:
                tree = self.primitives.from_names(_names_of_source(rec, self.primitives))
                formula, expression = simplify_tree(tree, self.primitives, self.features)
            else:
                formula, expression = rule.formula, rule.source.split("return ", 1)[1].strip()
            rec.formula = formula
            rec.source = rule_source(expression)
            run.db.set_formula(rec.id, formula)
        run.write_best(records, self.suite.name)
        run.db.set_meta(status="finished" if self.stopped_ == "generations" else "stopped",
                        stopped=self.stopped_ or "", generation=str(self.generation_))


def _names_of_source(rec: CandidateRecord, primitives: PrimitiveSet) -> list[str]:
    """Node names of a recorded GP candidate (its source is a GP-expressible rule)."""
    return PrimitiveSet.names(tree_from_source(rec.source, primitives))
