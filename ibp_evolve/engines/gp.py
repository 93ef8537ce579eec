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
simpler; ``selection="nsga2"`` uses NSGA-II on the same two objectives instead.  The last
``GPConfig.polish`` generations of a budget breed nothing: each scores every neighbour of the
best rule (a clause dropped or added, a bound moved by one, a feature or an operation swapped)
and climbs to the best of them, a deterministic local search that needs no random draw.

Reproducibility: DEAP draws from Python's global :mod:`random`, which :meth:`evolve` seeds from
``config.seed`` and saves in every checkpoint (in a run of islands each island's own state is
swapped in around its calls: :mod:`ibp_evolve.runs.islands`), and results come back from the
evaluators in job order whatever the number of workers.  Under a generation budget with a
deterministic objective (all but ``seconds``) a run is therefore reproducible; what can differ
between two runs is only wall-clock dependent: a candidate that hits the per-candidate timeout
on one run and not on another, the ``seconds`` objective, and where a ``--time-limit`` cuts the
run.
"""

from __future__ import annotations

import copy
import operator
import random

import numpy as np
from deap import base, gp, tools

from ibp_evolve.language import features as vocabulary
from ibp_evolve.language.compile import CompiledRule
from ibp_evolve.language.ir import (
    BOOL, INT, Binary, Builtin, Compare, Const, Feature, FamilySize, IfElse, IndexCall, Logic,
    Unary, binary, builtin, compare, if_else, logic, unary,
)
from ibp_evolve.language.parse import CandidateError, RuleError, parse_rule
from ibp_evolve.language.printer import (expression_text, inline, keep_program, program_source,
                                         simplify)
from ibp_evolve.language.printer import formula as printer_formula
from ibp_evolve.runs.configs import DEFAULT_CONSTANTS, MUTATIONS, GPConfig
from ibp_evolve.runs.evaluation import Evaluation, SuiteSpec, mask_hash, suite_features
from ibp_evolve.runs.fitness import fitness_text, parse_fitness
from ibp_evolve.runs.loop import Candidate, LoopEngine
from ibp_evolve.runs.store import (BestRule, CandidateRecord, random_state_from_json,
                                   random_state_to_json)

__all__ = ["Int", "Bool", "PrimitiveSet", "GPConfig", "DeapEngine", "BestRule",
           "tree_to_ir", "tree_to_source", "tree_to_formula", "simplify_tree",
           "tree_from_source", "restart_trees", "GPSourceError", "DEFAULT_FEATURES"]

ENGINE = "deap"


class Int:
    """GP type of numeric expressions (not Python's int: DEAP treats bool as a subclass)."""


class Bool:
    """GP type of boolean expressions."""


class GPSourceError(ValueError):
    """A rule that the GP primitive set cannot express (for start rules)."""


SEED_FEATURES = ("r", "s", "t", "d", "missing")
TARGET_FEATURES = ("r", "s", "t", "d")


def default_features(n_indices: int) -> tuple[str, ...]:
    """The classic terminals, in the order that fixes a seed's run: a1..aN, the seed's r, s,
    t, d, missing, the target's r, s, t, d."""
    return (tuple(vocabulary.display_name("seed", "a", i) for i in range(n_indices))
            + SEED_FEATURES + tuple(vocabulary.display_name("target", f)
                                    for f in TARGET_FEATURES))


def feature_terminals(text: str, n_indices: int) -> tuple[str, ...]:
    """The GP terminals for ``evolve --features``: the classic ones, then the named features
    (``offset`` alone: offset1..offsetN); an unknown name is a ValueError naming it."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError(f"'{text}': expected feature names such as offset,tube")
    out = list(default_features(n_indices))
    for name in names:
        if name in vocabulary.PER_INDEX_NAMES:
            expanded = [vocabulary.display_name("seed", name, i) for i in range(n_indices)]
        else:
            vocabulary.parse_display_name(name, n_indices)   # ValueError: unknown, suggested
            expanded = [name]
        out += [n for n in expanded if n not in out]
    return tuple(out)


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

_NOT_A_PRIMITIVE = " is not in the GP primitive set"


def tree_from_source(source: str, pset: PrimitiveSet) -> list:
    """A GP tree (list of DEAP nodes) for a rule that the primitive set can express.

    The rule must be a ``keep`` rule (or a ``priority`` rule returning a condition) that is
    one expression (local variables and ``if`` are
    inlined) built from the primitive set's features and operations (comparisons may be
    chained and use ``> >= !=``; ``and``/``or`` with any number of operands; ``min``/``max``
    with two or more; integer constants outside the constant set are built from sums).
    """
    try:
        program = parse_rule(source)
    except RuleError as exc:
        raise GPSourceError(str(exc)) from None
    expression = inline(program)   # locals and if/else become one expression
    if expression is None:
        raise GPSourceError("the rule is too large to become one GP expression")
    # a priority rule keeps a seed when its value is > 0: one returning a condition (True is
    # 1) is a keep rule in other words, as the LLM engine writes them
    if program.kind != "keep" and expression.type != BOOL:
        raise GPSourceError("only keep rules (or priority rules returning a condition) can "
                            "become GP trees")
    m = pset.pset.mapping
    by_node = {node: name for name, node in pset.terminal_nodes.items()}

    def fail(what):
        raise GPSourceError(f"{what}{_NOT_A_PRIMITIVE}")

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
        if isinstance(node, IfElse):   # a condition: (c and x) or (not c and y)
            cond = boolean(node.cond)
            return ([m["or"], m["and"]] + cond + boolean(node.then)
                    + [m["and"], m["not"]] + cond + boolean(node.orelse))
        fail(expression_text(node, board=False))

    return boolean(expression)


def restart_trees(rules, primitives: PrimitiveSet) -> dict:
    """Restart rules (library names or rule sources) -> the node names of each as a GP tree,
    or None for one the primitive set cannot express; GPSourceError for a name that is no
    rule."""
    from ibp_evolve.language.library import resolve_rule
    out = {}
    for rule in rules:
        try:
            source = rule if "def " in rule else resolve_rule(rule).source
        except (RuleError, FileNotFoundError) as exc:   # e.g. a broken file that shadows it
            raise GPSourceError(f"restart rule {rule!r}: {exc}") from None
        try:
            out[rule] = PrimitiveSet.names(tree_from_source(source, primitives))
        except GPSourceError:
            out[rule] = None
    return out


# ----------------------------------------------------------------------------- the engine

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
    """(judge fitness, tree size), both minimised, compared exactly.

    DEAP's ``Fitness`` divides its weighted values by float weights on every read: a judge's
    fitness past 2^53 would round, and two different incomplete rules would tie.  Integer
    weights of -1 keep the weighted values exact ints (or Fractions), and ``values`` is read
    back by multiplying, not dividing."""
    weights = (-1, -1)

    def getValues(self):
        return tuple(w * s for w, s in zip(self.wvalues, self.weights))

    values = property(getValues, base.Fitness.setValues, base.Fitness.delValues)


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


class DeapEngine(LoopEngine):
    """Strongly typed GP over the raw rule features (see the module docstring).

    ``DeapEngine(GPConfig(...)).evolve(suite)`` runs the evolution in the one engine loop
    (:mod:`ibp_evolve.runs.loop`); afterwards ``best_`` (a :class:`BestRule`),
    ``hall_of_fame_`` (best distinct rules), ``logbook_`` (one dict of statistics per
    generation), ``population_``, ``n_candidates_``, ``n_evaluations_``, ``generation_`` (last
    finished generation), ``stopped_`` (``generations``, ``time_limit``) and ``elapsed_`` hold
    the results.
    """
    name = ENGINE

    def __init__(self, config: GPConfig | None = None, **overrides):
        config = config or GPConfig()
        if overrides:
            config = config.replaced(**overrides)
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
    def setup(self, spec: SuiteSpec, run=None):
        cfg = self.config
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
        self.population_, self.hall_of_fame_, self._elites = [], [], []
        self._migrants, self._migrants_due = [], False   # (node names, candidate id)
        # the polish (the last generations of a budget): the tree it climbs from (None: the
        # best of the hall of fame not yet polished), the selections it polished in vain
        self._polish_source, self._polish_current, self._polished = None, None, []
        self._restart_trees = self._expressible(cfg.restart_rules)

    def _expressible(self, rules) -> list[list[str]]:
        """Node names of the restart rules that the primitive set can express: one it cannot
        (``--features`` without ``d``, say) is left out, since the default restart rules are
        not the user's request as start rules are (``evolve --restart-rules`` checks the
        user's own with :func:`restart_trees` before the run begins)."""
        return [names for names in restart_trees(rules, self.primitives).values()
                if names is not None]

    def _restart_individuals(self) -> list:
        """New individuals of the restart rules (at a restart, and every ``inject_every``)."""
        return [self._new(self.primitives.from_names(names), "start")
                for names in self._restart_trees]

    def begin(self, resumed: bool) -> None:
        if not resumed:
            random.seed(self.config.seed)

    def _new(self, nodes, operation="random", parents=()) -> Individual:
        ind = Individual(nodes)
        ind.operation, ind.parents = operation, tuple(parents)
        return ind

    # -- ask and tell ----------------------------------------------------------------------
    def ask(self, generation: int) -> list[Candidate]:
        """The generation's trees: the initial population (or a restart after stagnation),
        else elites and offspring; each with its seed masks over the suite's universes."""
        cfg = self.config
        self._polish_source = self._polish_tree() if self._polishing(generation) else None
        if self._polish_source is not None:
            self._fresh = self._restarted = False
            return [self._candidate(ind) for ind in self._neighbours(self._polish_source)]
        restarted = generation > 0 and self._stagnant()
        self._fresh, self._restarted = generation == 0 or restarted, restarted
        # migrants (islands) join the next generation, and a restart starts from the last ones
        migrants = self._migrant_individuals() if (self._migrants_due or restarted) else []
        self._migrants_due = False
        if self._fresh:
            # a restart leaves the basin the population has settled in: a fresh start, while
            # the hall of fame (and the run's database) keep the best rules
            individuals = self._initial_population(migrants, restart=restarted)
            self._elites = []
            if restarted:
                for ind in individuals:
                    if ind.operation != "migrant":
                        ind.operation = "restart" if ind.operation == "random" else "start"
        else:
            keep = [] if cfg.selection == "nsga2" else self._distinct_best(
                self.population_, min(cfg.elite, cfg.population - 1))
            self._elites = keep
            if cfg.inject_every and generation % cfg.inject_every == 0:
                # a population that never stagnates can still be climbing slowly in a poor
                # basin: the restart rules join it now and then, taking over only if better
                migrants = self._restart_individuals() + migrants
            migrants = migrants[:max(0, cfg.population - len(keep) - 1)]
            individuals = self._vary(self.population_, cfg.population - len(keep)
                                     - len(migrants), keep if keep else self.population_)
            individuals += migrants
        return [self._candidate(ind) for ind in individuals]

    def immigrate(self, records) -> tuple[int, int]:
        """Programs of other islands (scored records), best first: those the primitive set
        can express join the next generation as trees (and seed this island's next restart);
        returns (taken, skipped)."""
        taken, skipped = [], 0
        # why programs were skipped, e.g. {"seed.tube": 4}: what they read that this island's
        # terminals lack (the end-of-run summary suggests --features), or the converter's text
        self.skipped_because_ = {}
        for rec in records:
            try:
                taken.append((PrimitiveSet.names(tree_from_source(rec.source, self.primitives)),
                              rec.id))
            except GPSourceError as exc:
                skipped += 1   # e.g. an LLM program with local state or float priorities
                why = str(exc).removesuffix(_NOT_A_PRIMITIVE)[:80]   # kept per generation
                self.skipped_because_[why] = self.skipped_because_.get(why, 0) + 1
        if taken:
            self._migrants, self._migrants_due = taken, True
        return len(taken), skipped

    def _migrant_individuals(self) -> list:
        return [self._new(self.primitives.from_names(names), "migrant",
                          () if cid is None else (cid,)) for names, cid in self._migrants]

    def _candidate(self, ind) -> Candidate:
        if ind.masks is None and ind.error is None:
            self._compute_masks(ind)
        masks, ind.masks = ind.masks, None
        return Candidate(source=tree_to_source(ind, self.primitives),
                         formula=tree_to_formula(ind, self.primitives), size=len(ind),
                         operation=ind.operation, parents=tuple(ind.parents), masks=masks,
                         digest=ind.digest,
                         failure=None if masks is not None else ("rejected", ind.error),
                         item=ind)

    def tell(self, generation: int, candidates: list[Candidate], stopped: bool = False):
        individuals = [c.item for c in candidates]
        for c, ind in zip(candidates, individuals):
            ind.cid, ind.generation, ind.evaluation = c.id, generation, c.evaluation
            ind.fitness.values = (c.fitness, len(ind))
        if stopped:
            self._update_hall_of_fame(individuals)
            return False
        if self._polish_source is not None:
            self._update_hall_of_fame(individuals)
            self._climb(individuals)
            return True
        cfg = self.config
        if self._fresh:
            self.population_ = individuals
            if cfg.selection == "nsga2":
                self.population_ = tools.selNSGA2(individuals, cfg.population)
        else:
            self.population_ = self._survivors(self.population_, individuals)
        self._update_hall_of_fame(individuals)
        return True

    def statistics(self, generation: int, candidates: list[Candidate]) -> dict:
        pop = self.population_
        complete = [i for i in pop if i.evaluation is not None and i.evaluation.ok
                    and i.evaluation.complete]
        scored = [i.evaluation.fitness for i in pop if i.evaluation is not None
                  and i.evaluation.ok]
        stats = {"share_complete": len(complete) / max(1, len(pop)),
                 # the population's own best (exact text): a restarted population is judged by
                 # its own progress, not by the run's best that it has yet to reach
                 "population_best": fitness_text(min(scored)) if scored else None,
                 "mean_size": float(np.mean([len(i) for i in pop])) if pop else 0.0,
                 "complete_best_seeds": min((i.evaluation.seeds for i in complete),
                                            default=None)}
        if self._restarted:
            stats["restarted"] = 1
        if self._polish_source is not None:
            stats["polish"] = 1
        return stats

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
        smallest = {}
        for ind in keep:
            if ind.digest is not None:
                smallest[ind.digest] = min(len(ind), smallest.get(ind.digest, 1 << 30))
        offspring = []
        while len(offspring) < n:
            child = self._redrawn(lambda: self._child(population),
                                  lambda c: c.digest is None or c.digest not in smallest
                                  or len(c) < smallest[c.digest])
            if child.digest is not None:
                smallest[child.digest] = min(len(child), smallest.get(child.digest, 1 << 30))
            offspring.append(child)
        return offspring

    def _redrawn(self, draw, is_new):
        """``draw()`` again (up to ``retries`` times) until ``is_new`` holds of the drawn
        individual's seed selection; the last draw otherwise.  The one place where the first
        population (``distinct_start``) and the offspring (:meth:`_vary`) avoid repeating a
        selection, a wasted slot."""
        for _ in range(self.config.retries + 1):
            ind = draw()
            self._compute_masks(ind)
            if is_new(ind):
                break
        return ind

    def _compute_masks(self, ind) -> None:
        # A well-typed tree over the primitive set always evaluates; a rule error here is
        # still the tree's own fault (rejected), anything else a bug that must surface.
        try:
            ind.masks = self.primitives.masks(ind, self.features)
            ind.digest = mask_hash(ind.masks)
        except CandidateError as exc:
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

    def _start_tree(self, k: int, source: str) -> list:
        """Start rule ``k`` as a tree; a rule the GP cannot hold says which one it is and, when
        it reads a feature the GP's terminals lack (``seed.tube``), how to add it."""
        try:
            return tree_from_source(source, self.primitives)
        except GPSourceError as exc:
            hint = (" (add the feature to the GP's terminals: --features, GPConfig.features)"
                    if str(exc).endswith(_NOT_A_PRIMITIVE) else "")
            raise GPSourceError(f"start rule {k} of {len(self.config.start_rules)}: "
                                f"{exc}{hint}") from None

    def _initial_population(self, migrants=(), restart=False) -> list:
        """The start rules, (at a restart) the restart rules, the migrants, then random trees.
        With ``distinct_start`` a random tree whose seed selection is already in the
        population is re-drawn (up to ``retries`` times), as offspring are (:meth:`_vary`):
        about two thirds of 300 plain random trees repeat a selection, and a first
        population of few distinct rules with one complete among them converges on that
        one's basin."""
        cfg = self.config
        out = [self._new(self._start_tree(k, src), "start")
               for k, src in enumerate(cfg.start_rules, 1)]
        if restart:
            out += self._restart_individuals()
        out += migrants
        seen = set()
        if cfg.distinct_start:
            for ind in out:
                self._compute_masks(ind)
                seen.add(ind.digest)
        n_fixed = len(out)
        def draw():
            return self._new(self.toolbox.expr_init(), "random")
        while len(out) < cfg.population:
            ind = self._redrawn(draw, lambda i: i.digest not in seen) if cfg.distinct_start \
                else draw()
            seen.add(ind.digest)
            out.append(ind)
        return out[:max(cfg.population, n_fixed - len(migrants))]

    def _stagnant(self) -> bool:
        """Whether the population's best rule has not improved for ``stagnation`` generations
        since the last improvement or restart.  After a restart the fresh population is
        measured against its own best, so that it can climb for as long as it improves (were
        it measured against the run's best, it would be restarted again after ``stagnation``
        generations unless it had already overtaken the previous basin).  Read from the
        logbook alone, so that a resumed run restarts exactly where the uninterrupted one
        would (a logbook from before ``population_best`` reads the run's best instead)."""
        if not self.config.stagnation:
            return False
        best, since = None, 0
        for stats in self.logbook_:
            if stats.get("restarted"):
                best, since = None, 0
            fitness = parse_fitness(stats.get("population_best", stats.get("best_fitness")))
            if fitness is not None and (best is None or fitness < best):
                best, since = fitness, 0
            else:
                since += 1
        return since >= self.config.stagnation

    def _update_hall_of_fame(self, individuals) -> None:
        pool = self.hall_of_fame_ + [i for i in individuals if i.evaluation is not None
                                     and i.evaluation.ok]
        self.hall_of_fame_ = [copy.deepcopy(i) for i in
                              self._distinct_best(pool, max(self.config.n_best, 1))]

    # -- the polish: a local search from the best rule --------------------------------------
    def _polishing(self, generation: int) -> bool:
        """Whether ``generation`` is one of the last ``polish`` of the budget (at most a
        quarter of it; none in a run until the deadline)."""
        cfg = self.config
        if not cfg.polish or cfg.generations is None:
            return False
        return generation > cfg.generations - min(cfg.polish, cfg.generations // 4)

    def _polish_tree(self):
        """The tree this polish round climbs from: the last round's improvement, else the
        best rule of the hall of fame not yet polished in vain (else the best: its
        neighbours are all known, the round costs no evaluation)."""
        if self._polish_current is not None:
            return self._polish_current
        scored = [i for i in self.hall_of_fame_ if i.evaluation is not None and i.evaluation.ok]
        fresh = [i for i in scored if i.digest not in self._polished]
        return (fresh or scored or [None])[0]

    def _neighbours(self, tree) -> list:
        """The trees one step from ``tree``: each boolean subtree replaced by True or False
        (a clause dropped), each integer terminal by another, each primitive by another of the
        same signature (``<`` for ``<=``, ``max`` for ``min``...), each integer subtree
        shifted by one (a bound loosened or tightened), and ``tree and x OP y`` for every two
        integer terminals (a clause added).  A rule the run has settled on is often a clause
        or a bound away from one with fewer seeds, a step that random variation of 300 trees
        rarely takes; no height limit, as each round grows the tree by one level at most."""
        pset = self.primitives.pset
        m = pset.mapping
        ints = list(pset.terminals[Int])
        nodes = list(tree)
        out = []
        for i, node in enumerate(nodes):
            span = tree.searchSubtree(i)
            if node.ret is Bool and i > 0:
                out += [nodes[:span.start] + [m[b]] + nodes[span.stop:] for b in ("True", "False")]
            if node.arity == 0 and node.ret is Int:
                out += [nodes[:i] + [t] + nodes[i + 1:] for t in ints if t.name != node.name]
            if node.arity > 0:
                out += [nodes[:i] + [p] + nodes[i + 1:] for p in pset.primitives[node.ret]
                        if p.name != node.name and p.args == node.args]
            if node.ret is Int:
                out += [nodes[:span.start] + [m[op]] + nodes[span] + [m["1"]]
                        + nodes[span.stop:] for op in ("add", "sub")]
        for x in ints:
            for y in ints:
                for op in ("lt", "le", "eq"):
                    if x.name != y.name and not (op == "eq" and x.name > y.name):
                        out.append([m["and"]] + nodes + [m[op], x, y])
        seen = {tuple(PrimitiveSet.names(nodes))}
        unique = []
        for candidate in out:
            key = tuple(PrimitiveSet.names(candidate))
            if key not in seen:
                seen.add(key)
                unique.append(self._new(candidate, "polish", () if tree.cid is None
                                        else (tree.cid,)))
        return unique

    def _climb(self, neighbours) -> None:
        """Move to the best neighbour if it beats the tree polished (fitness, then size);
        else mark that tree's selection as polished in vain."""
        source = self._polish_source
        scored = [n for n in neighbours if n.evaluation is not None and n.evaluation.ok]
        best = min(scored, key=lambda n: (n.fitness.values, n.cid), default=None)
        if best is not None and best.fitness.values < source.fitness.values:
            self._polish_current = copy.deepcopy(best)
        else:
            self._polish_current = None
            if source.digest not in self._polished:
                self._polished.append(source.digest)

    # -- checkpoints -----------------------------------------------------------------------
    @staticmethod
    def _pack(ind) -> dict:
        fitness, size = ind.fitness.values
        return {"nodes": PrimitiveSet.names(ind), "fitness": [fitness_text(fitness), size],
                "cid": ind.cid, "generation": ind.generation, "operation": ind.operation,
                "parents": list(ind.parents),
                "digest": ind.digest,
                "evaluation": None if ind.evaluation is None else ind.evaluation.to_json()}

    def _unpack(self, d: dict):
        ind = self._new(self.primitives.from_names(d["nodes"]), d["operation"], d["parents"])
        ind.cid, ind.digest, ind.generation = d["cid"], d["digest"], d["generation"]
        fitness, size = d["fitness"]
        ind.fitness.values = (parse_fitness(fitness), size)
        ind.evaluation = None if d["evaluation"] is None else \
            Evaluation.from_json(d["evaluation"])
        return ind

    def state(self) -> dict:
        pack = self._pack
        state = {"population": [pack(i) for i in self.population_],
                 "hall_of_fame": [pack(i) for i in self.hall_of_fame_],
                 "random_state": random_state_to_json(random.getstate())}
        if self._migrants:   # an island's (a single run has none: its checkpoint is unchanged)
            state["migrants"] = [{"nodes": names, "cid": cid} for names, cid in self._migrants]
            state["migrants_due"] = self._migrants_due
        if self._polished or self._polish_current is not None:   # once the polish has begun
            state["polish"] = {"current": None if self._polish_current is None
                               else pack(self._polish_current), "polished": self._polished}
        return state

    def restore(self, state: dict, run) -> None:
        """Continue from a checkpoint's plain data: trees from their node names (looked up in
        the primitive set, nothing evaluated), the random state from its integers."""
        unpack = self._unpack
        try:
            self.population_ = [unpack(d) for d in state["population"]]
            self.hall_of_fame_ = [unpack(d) for d in state["hall_of_fame"]]
            for d in state.get("migrants", []):
                self.primitives.from_names(d["nodes"])   # an unknown node: GPSourceError
            self._migrants = [(list(d["nodes"]), d["cid"]) for d in state.get("migrants", [])]
            self._migrants_due = bool(state.get("migrants_due", False))
            polish = state.get("polish", {})
            self._polish_current = None if polish.get("current") is None else \
                unpack(polish["current"])
            self._polished = list(polish.get("polished", []))
        except GPSourceError as exc:
            raise ValueError(str(exc)) from None
        random.setstate(random_state_from_json(state["random_state"]))

    # -- the end ---------------------------------------------------------------------------
    def polish(self, record: CandidateRecord) -> tuple[str, str]:
        """The simplified formula and rule file of an exported rule (the hall of fame's, or
        re-simplified from its source for a rule chosen by validation)."""
        for rule in self._hall_of_fame_rules():
            if rule.candidate == record.id:
                return rule.formula, rule.source
        try:
            tree = self.primitives.from_names(_names_of_source(record, self.primitives))
            return simplify_tree(tree, self.primitives, self.features)
        except GPSourceError:
            # a float feature (tube) inside integer branches prints as a rule the primitive
            # set cannot read back: keep the source, print it as it is
            return (printer_formula(record.source, check=self.features) or record.formula,
                    record.source)

    def _hall_of_fame_rules(self) -> list[BestRule]:
        """The hall of fame, simplified once."""
        if getattr(self, "_simplified", None) is None or \
                self._simplified[0] != [i.cid for i in self.hall_of_fame_]:
            rules = []
            for ind in self.hall_of_fame_:
                formula, source = simplify_tree(ind, self.primitives, self.features)
                ev = ind.evaluation
                rules.append(BestRule(source, formula, ev.fitness, ev.complete, ev.seeds,
                                      len(ind), ind.cid, ind.generation, ev.targets))
            self._simplified = ([i.cid for i in self.hall_of_fame_], rules)
        return self._simplified[1]

    def best_rules(self, records) -> list[BestRule]:
        return list(self._hall_of_fame_rules())


def _names_of_source(rec: CandidateRecord, primitives: PrimitiveSet) -> list[str]:
    """Node names of a recorded GP candidate (its source is a GP-expressible rule)."""
    return PrimitiveSet.names(tree_from_source(rec.source, primitives))
