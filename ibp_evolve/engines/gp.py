"""Strongly typed genetic programming of seeding rules with DEAP.

The primitive set sees only *raw* features of the one vocabulary
(:mod:`ibp_evolve.language.features`) — no composite feature that already encodes a known rule,
so that re-discovering the Kira 3 improved seeding is a real result:

=================  ==========================================================================
integer terminals  by default ``a1``..``aN`` (the seed's indices, ``seed.a[i-1]``), ``r``,
                   ``s``, ``t``, ``d``, ``missing`` (the seed's), ``r_target``, ``s_target``,
                   ``t_target``, ``d_target``; ``GPConfig.features`` can add any other
                   feature by its display name (``tube``, ``offset7``, ``dots2``,
                   ``a7_target`` ...); small integer constants (default -1, 0, 1, 2, 3)
bool terminals     ``True``, ``False``
int -> int         ``add``, ``sub``, ``min``, ``max`` (two arguments), ``abs``,
                   ``if_then_else(bool, int, int)``
int -> bool        ``lt``, ``le``, ``eq``
bool -> bool       ``and``, ``or``, ``not``
=================  ==========================================================================

Both types always have terminals and primitives, so tree generation never fails, and every
variation operator is wrapped in a static height limit.  A tree is a ``keep`` rule (its root is
boolean) and compiles to the rule language's IR (:func:`tree_to_ir`): its seed masks come from
the one vectorised compiler, its rule file and its formula from the one printer
(:mod:`ibp_evolve.language.printer`), simplified and checked to select the same seeds.

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

from ibp_evolve.language import features as vocabulary
from ibp_evolve.language.compile import CompiledRule
from ibp_evolve.language.ir import (
    BOOL, INT, Binary, Builtin, Compare, Const, Feature, FamilySize, IfElse, IndexCall, Logic,
    Unary, binary, builtin, compare, if_else, logic, unary,
)
from ibp_evolve.language.parse import RuleError, parse_rule
from ibp_evolve.language.printer import (expression_text, inline, keep_program, program_source,
                                         simplify)
from ibp_evolve.language.printer import formula as printer_formula
from ibp_evolve.runs.evaluation import (FAILED_FITNESS, EvalJob, LocalEvaluator, MaskCache, SuiteSpec,
                          mask_hash, suite_features)
from ibp_evolve.runs.store import (BestRule, CandidateRecord, RunFolder, random_state_from_json,
                                   random_state_to_json)

__all__ = ["Int", "Bool", "PrimitiveSet", "GPConfig", "DeapEngine", "BestRule",
           "tree_to_ir", "tree_to_source", "tree_to_formula", "simplify_tree",
           "tree_from_source", "GPSourceError", "DEFAULT_FEATURES"]

ENGINE = "deap"


class Int:
    """GP type of numeric expressions (not Python's int: DEAP treats bool as a subclass)."""


class Bool:
    """GP type of boolean expressions."""


class GPSourceError(ValueError):
    """A rule that the GP primitive set cannot express (for start rules)."""


SEED_FEATURES = ("r", "s", "t", "d", "missing")
TARGET_FEATURES = ("r", "s", "t", "d")
DEFAULT_CONSTANTS = (-1, 0, 1, 2, 3)
MUTATIONS = ("uniform", "node", "insert", "shrink", "conjoin")


def default_features(n_indices: int) -> tuple[str, ...]:
    """The classic terminals, in the order that fixes a seed's run: a1..aN, the seed's r, s,
    t, d, missing, the target's r, s, t, d."""
    return (tuple(vocabulary.display_name("seed", "a", i) for i in range(n_indices))
            + SEED_FEATURES + tuple(vocabulary.display_name("target", f)
                                    for f in TARGET_FEATURES))


DEFAULT_FEATURES = None   # GPConfig.features = None: default_features(N)

# name -> (argument types, return type, IR builder)
_PRIMITIVES = {
    "add": ((Int, Int), Int, lambda x, y: binary("add", x, y)),
    "sub": ((Int, Int), Int, lambda x, y: binary("sub", x, y)),
    "min": ((Int, Int), Int, lambda x, y: builtin("min", (x, y))),
    "max": ((Int, Int), Int, lambda x, y: builtin("max", (x, y))),
    "abs": ((Int,), Int, lambda x: builtin("abs", (x,))),
    "if_then_else": ((Bool, Int, Int), Int, if_else),
    "lt": ((Int, Int), Bool, lambda x, y: compare(("lt",), (x, y))),
    "le": ((Int, Int), Bool, lambda x, y: compare(("le",), (x, y))),
    "eq": ((Int, Int), Bool, lambda x, y: compare(("eq",), (x, y))),
    "and": ((Bool, Bool), Bool, lambda x, y: logic("and", (x, y))),
    "or": ((Bool, Bool), Bool, lambda x, y: logic("or", (x, y))),
    "not": ((Bool,), Bool, lambda x: unary("not", x)),
}


def _placeholder(*args):  # DEAP wants a callable per primitive; we never call it
    raise NotImplementedError


class PrimitiveSet:
    """The typed primitive set for a family with ``n_indices`` indices; its terminals are
    vocabulary features named by their display names (``features``, default
    :func:`default_features`)."""

    def __init__(self, n_indices: int, constants=DEFAULT_CONSTANTS, features=None):
        self.n_indices = int(n_indices)
        self.constants = tuple(int(c) for c in constants)
        self.features = tuple(features) if features else default_features(self.n_indices)
        self.terminal_nodes = {}
        for name in self.features:
            try:
                self.terminal_nodes[name] = vocabulary.feature_node(name, self.n_indices)
            except ValueError as exc:
                raise ValueError(f"GP feature: {exc}") from None
        pset = gp.PrimitiveSetTyped("keep", [], Bool)
        for name, (args, ret, _) in _PRIMITIVES.items():
            pset.addPrimitive(_placeholder, list(args), ret, name=name)
        for name in self.features:
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

    # -- the rule language -----------------------------------------------------------------
    def terminal(self, name: str):
        """The IR of a terminal: a feature, an integer constant or a boolean."""
        if name in self.terminal_nodes:
            return self.terminal_nodes[name]
        return _terminal_node(name, self.n_indices)

    def mask(self, tree, features) -> np.ndarray:
        """The tree's keep-mask over one target's candidate seeds (the vectorised compiler)."""
        return CompiledRule(keep_program(tree_to_ir(tree, self)))(features)

    def masks(self, tree, features_list) -> list[np.ndarray]:
        compiled = CompiledRule(keep_program(tree_to_ir(tree, self)))
        return [compiled(f) for f in features_list]


def tree_to_ir(tree, pset: PrimitiveSet | None = None):
    """The tree (prefix list of DEAP nodes) as a rule-language expression (IR)."""
    n = pset.n_indices if pset is not None else _n_indices(tree)
    stack = []
    for node in reversed(tree):
        if node.arity == 0:
            stack.append(pset.terminal(node.name) if pset is not None
                         else _terminal_node(node.name, n))
        else:
            args = [stack.pop() for _ in range(node.arity)]
            stack.append(_PRIMITIVES[node.name][2](*args))
    return stack.pop()


def _terminal_node(name: str, n_indices: int):
    if name in ("True", "False"):
        return Const(name == "True", BOOL)
    if not _is_feature(name):
        return Const(int(name), INT)
    return vocabulary.feature_node(name, n_indices)


def _is_feature(name: str) -> bool:
    return name not in ("True", "False") and not name.lstrip("-").isdigit()


def _n_indices(tree) -> int:
    """The smallest family size that a tree's per-index terminals fit (for printing a tree
    without its primitive set)."""
    n = 1
    for node in tree:
        if node.arity == 0 and _is_feature(node.name):
            digits = "".join(ch for ch in node.name.replace("_target", "") if ch.isdigit())
            if digits:
                n = max(n, int(digits))
    return n


def tree_to_formula(tree, pset: PrimitiveSet | None = None) -> str:
    """The tree as a plain (unsimplified) formula: ``d <= d_target and s <= s_target -
    missing``."""
    return expression_text(tree_to_ir(tree, pset))


def tree_to_source(tree, pset: PrimitiveSet | None = None) -> str:
    """A rule file of the shared rule language (what ``ibp-evolve score`` reads)."""
    return program_source(keep_program(tree_to_ir(tree, pset)))


def simplify_tree(tree, pset: PrimitiveSet | None = None, features_list=None):
    """(formula, rule source) of the tree simplified by the printer; given ``features_list``
    the simplified rule is checked to keep the same seeds on every target."""
    expression = simplify(tree_to_ir(tree, pset), check=features_list)
    return expression_text(expression), program_source(keep_program(expression))


# ----------------------------------------------------------------------------- start rules

def tree_from_source(source: str, pset: PrimitiveSet) -> list:
    """A GP tree (list of DEAP nodes) for a rule that the primitive set can express.

    The rule must be a ``keep`` rule that is one expression (local variables and ``if`` are
    inlined) built from the primitive set's features and operations (comparisons may be
    chained and use ``> >= !=``; ``and``/``or`` with any number of operands; ``min``/``max``
    with two or more; integer constants outside the constant set are built from sums).
    """
    try:
        program = parse_rule(source)
    except RuleError as exc:
        raise GPSourceError(str(exc)) from None
    if program.kind != "keep":
        raise GPSourceError("only keep rules can start a GP run")
    if len(program.body) != 1:
        raise GPSourceError("a start rule must be a single 'return EXPR'")
    expression = inline(program)
    m = pset.pset.mapping
    by_node = {node: name for name, node in pset.terminal_nodes.items()}

    def fail(what):
        raise GPSourceError(f"{what} is not in the GP primitive set")

    def const_(v: int) -> list:
        if str(v) in m:
            return [m[str(v)]]
        big, small = max(pset.constants), min(pset.constants)
        if v > 0 and big > 1:
            return [m["add"]] + const_(big) + const_(v - big)
        if v < 0 and small < -1:
            return [m["add"]] + const_(small) + const_(v - small)
        if v < 0 and big > 0:
            return [m["sub"]] + const_(v + big) + const_(big)
        raise GPSourceError(f"constant {v} cannot be built from the constants {pset.constants}")

    def integer(node) -> list:
        if isinstance(node, Const) and type(node.value) is int:
            return const_(node.value)
        if isinstance(node, IndexCall) and isinstance(node.index, Const) \
                and type(node.index.value) is int and -pset.n_indices <= node.index.value < 0:
            node = IndexCall(node.owner, node.method, Const(node.index.value + pset.n_indices,
                                                            INT))
        if isinstance(node, (Feature, IndexCall, FamilySize)):
            if node in by_node:
                return [m[by_node[node]]]
            fail(expression_text(node, board=False))
        if isinstance(node, Unary) and node.op == "neg" and node.type == INT:
            return [m["sub"]] + const_(0) + integer(node.operand)
        if isinstance(node, Binary) and node.op in ("add", "sub") and node.type == INT:
            return [m[node.op]] + integer(node.left) + integer(node.right)
        if isinstance(node, Builtin) and node.type == INT:
            if node.func == "abs":
                return [m["abs"]] + integer(node.args[0])
            out = integer(node.args[-1])
            for a in reversed(node.args[:-1]):
                out = [m[node.func]] + integer(a) + out
            return out
        if isinstance(node, IfElse) and node.type == INT:
            return [m["if_then_else"]] + boolean(node.cond) + integer(node.then) + integer(
                node.orelse)
        fail(expression_text(node, board=False))

    def comparison(op, left, right) -> list:
        if op in ("lt", "le", "eq"):
            return [m[op]] + left + right
        if op in ("gt", "ge"):
            return [m["lt" if op == "gt" else "le"]] + right + left
        return [m["not"], m["eq"]] + left + right

    def boolean(node) -> list:
        if isinstance(node, Const) and type(node.value) is bool:
            return [m[str(node.value)]]
        if isinstance(node, Logic):
            out = boolean(node.values[-1])
            for v in reversed(node.values[:-1]):
                out = [m[node.op]] + boolean(v) + out
            return out
        if isinstance(node, Unary) and node.op == "not":
            return [m["not"]] + boolean(node.operand)
        if isinstance(node, Compare):
            parts = [comparison(op, integer(a), integer(b)) for op, a, b in
                     zip(node.ops, node.operands[:-1], node.operands[1:])]
            out = parts[-1]
            for p in reversed(parts[:-1]):
                out = [m["and"]] + p + out
            return out
        fail(expression_text(node, board=False))

    return boolean(expression)


# ----------------------------------------------------------------------------- the engine

@dataclass
class GPConfig:
    """Settings of a GP run (all have defaults that finish in minutes on a laptop)."""
    population: int = 300
    generations: int | None = 40         # None: until the time limit
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
    features: tuple = ()                 # terminal features by display name; () = the classic
                                         # set, default_features(N)
    stagnation: int = 8                  # generations without a better best rule before the
                                         # population restarts from fresh random trees and the
                                         # start rules (the best rules stay in the hall of
                                         # fame); 0: never restart

    def to_json(self) -> dict:
        d = asdict(self)
        d["constants"] = list(self.constants)
        d["start_rules"] = list(self.start_rules)
        d["features"] = list(self.features)
        return d

    @classmethod
    def from_json(cls, data: dict) -> "GPConfig":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in data.items() if k in known}
        if "constants" in d:
            d["constants"] = tuple(d["constants"])
        if "start_rules" in d:
            d["start_rules"] = tuple(d["start_rules"])
        if "features" in d:
            d["features"] = tuple(d["features"])
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
        if config.generations is None and config.time_limit is None:
            raise ValueError("generations=None (run until the deadline) needs a time_limit")
        if config.stagnation < 0:
            raise ValueError("stagnation must be a non-negative number of generations")
        self.config = config

    # -- set-up ----------------------------------------------------------------------------
    def _setup(self, spec: SuiteSpec):
        cfg = self.config
        self.spec = spec
        self.suite = spec.load()
        self.features = suite_features(self.suite)
        self.primitives = PrimitiveSet(self.suite.family.n, cfg.constants, cfg.features)
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
            generation=generation, eval_index=index, source=tree_to_source(ind, self.primitives),
            formula=tree_to_formula(ind, self.primitives), size=len(ind), mask_hash=ind.digest,
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
                           total_generations=None if cfg.generations is None
                           else cfg.generations + 1, time_limit=cfg.time_limit)
        try:
            while cfg.generations is None or self.generation_ < cfg.generations:
                if deadline is not None and time.monotonic() >= deadline:
                    self.stopped_ = "time_limit"
                    break
                g = self.generation_ + 1
                gen_start = time.monotonic()
                restarted = g > 0 and self._stagnant()
                if g == 0 or restarted:
                    # a restart leaves the basin the population has settled in: a fresh start,
                    # while the hall of fame (and the run's database) keep the best rules
                    candidates = self._initial_population()
                    self._elites = []
                    if restarted:
                        for ind in candidates:
                            ind.operation = "restart" if ind.operation == "random" else "start"
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
                if g == 0 or restarted:
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
                if restarted:
                    stats["restarted"] = 1
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

    def _stagnant(self) -> bool:
        """Whether the best rule has not improved for ``stagnation`` generations since the
        last improvement or restart.  Read from the logbook alone, so that a resumed run
        restarts exactly where the uninterrupted one would."""
        if not self.config.stagnation:
            return False
        best, since = float("inf"), 0
        for stats in self.logbook_:
            fitness = stats.get("best_fitness")
            if fitness is not None and fitness < best:
                best, since = fitness, 0
            elif stats.get("restarted"):
                since = 0
            else:
                since += 1
        return since >= self.config.stagnation

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
            formula, source = simplify_tree(ind, self.primitives, self.features)
            ev = ind.evaluation
            self.best_rules_.append(BestRule(
                source, formula, ev.fitness, ev.complete, ev.seeds, len(ind),
                ind.cid, ind.generation, ev.targets))
        self.best_ = self.best_rules_[0] if self.best_rules_ else None
        if run is None:
            return
        records = run.best_records(self.config.n_best)   # by validation with --validate
        simplified = {r.candidate: r for r in self.best_rules_}
        for rec in records:
            rule = simplified.get(rec.id)
            if rule is None:   # a rule out of the hall of fame (e.g. chosen by validation)
                try:
                    tree = self.primitives.from_names(_names_of_source(rec, self.primitives))
                    formula, source = simplify_tree(tree, self.primitives, self.features)
                except GPSourceError:
                    # a float feature (tube) inside integer branches prints as a rule the
                    # primitive set cannot read back: keep the source, print it as it is
                    source = rec.source
                    formula = printer_formula(source, check=self.features) or rec.formula
            else:
                formula, source = rule.formula, rule.source
            rec.formula = formula
            rec.source = source
            run.db.set_formula(rec.id, formula)
        run.write_best(records, self.suite.name)
        run.db.set_meta(status="finished" if self.stopped_ == "generations" else "stopped",
                        stopped=self.stopped_ or "", generation=str(self.generation_))


def _names_of_source(rec: CandidateRecord, primitives: PrimitiveSet) -> list[str]:
    """Node names of a recorded GP candidate (its source is a GP-expressible rule)."""
    return PrimitiveSet.names(tree_from_source(rec.source, primitives))
