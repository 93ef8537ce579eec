"""The rule language: parse a seeding rule, validate it against a whitelist, build a typed IR.

A *rule* decides which candidate seed integrals enter the Laporta system. Every engine (GP,
symbolic regression, LLM mutator) writes rules in the same small, restricted subset of Python,
and the LLM-written ones are untrusted, so a rule is never executed as Python: it is parsed with
:mod:`ast`, checked construct by construct, and turned into a small typed IR that
:mod:`ibp_evolve.language.compile` evaluates (vectorised over all candidate seeds, or one seed at a time
with the reference interpreter).

The file
--------
A rule file holds an optional module docstring, comments, and exactly one top-level function::

    def keep(seed, target):
        # improved seeding (Kira 3): no more dots than the target,
        # one numerator fewer per missing line
        return seed.d <= target.d and seed.s <= target.s - (target.t - seed.t)

or ``def priority(seed, target)`` returning a number (the seed is kept when the priority is > 0).
Annotations, if present, may only be ``bool``, ``int`` or ``float``.

What a rule can see
-------------------
``seed`` (the candidate) and ``target`` (the integral to reduce) both offer the features of
the one vocabulary, :mod:`ibp_evolve.language.features` (where each is defined):

=====================  ===================================================================
``x.a[i]``             the index a_i (0-based; ``-N <= i < 0`` counts from the end as in
                       Python; any other position reads as 0, as for every ``x.f(i)``)
``x.r``                sum of the positive indices
``x.s``                minus the sum of the negative indices (numerator powers)
``x.t``                number of positive indices (lines)
``x.d``                ``r - t`` (dots)
``x.sector``           bitmask, bit i set when ``a[i] > 0``
``x.missing``          lines of the target's sector absent from x's sector (0 for the target)
``x.distance``         L1 distance to the target
``x.tube``             L1 distance to the straight path from the corner of the target's
                       sector to the target (a float)
``x.lines(i)``         1 if ``a[i] > 0`` else 0
``x.numerators(i)``    ``max(-a[i], 0)``
``x.dots(i)``          ``max(a[i] - 1, 0)``
``x.offset(i)``        ``a[i] - target.a[i]``
``x.removed(i)``       1 when line i of the target's sector is absent from x's sector
=====================  ===================================================================

A misspelt feature is rejected with the closest name (``seed.dot`` -> ``seed.dots``).
and ``family`` offers ``family.n`` (number of indices N), ``family.isps`` (the 0-based ISP
positions; iterable only) and ``family.is_isp(i)`` (bool; positions count as for ``a[i]``, and a
position outside the family is no ISP).

Allowed constructs
------------------
Arithmetic ``+ - * / // % **`` and unary ``-``/``+``; comparisons ``== != < <= > >=`` (chained
too); ``and``/``or``/``not``; conditional expressions; ``if``/``elif``/``else``; ``return``;
assignments (and ``+=`` etc.) to simple local names; ``pass``; int, float and bool constants;
the builtins ``abs``, ``min``, ``max`` (two or more arguments, or one iterable), ``sum``,
``len``, ``all``, ``any`` (one iterable) and ``range`` (only as an iterable); generator
expressions (``for`` clauses with single-name loop variables, ``if`` filters) over ``seed.a``,
``target.a``, ``family.isps`` or ``range(...)``. Every path through the function must return.
Everything else is rejected with a :class:`RuleError` naming the line and the construct.

Semantics (identical in both evaluators)
----------------------------------------
* Types are static: every expression is ``bool``, ``int`` (int64) or ``float`` (float64),
  decided at load time. Where values of different types meet (binary operators, both arms of a
  conditional, a variable assigned differently on two paths) the wider type wins,
  ``bool < int < float``; booleans act as 0/1 in arithmetic.
* int arithmetic wraps around modulo 2**64 (two's complement int64), like numpy.
* ``/`` always gives a float. ``x / 0`` gives 0.0, ``x // 0`` and ``x % 0`` give 0 (0.0 for
  floats). ``//`` and ``%`` floor like Python; for floats, a non-finite operand gives NaN.
* ``**``: the exponent is clipped to [-8, 8] at run time, and a literal exponent beyond that range
  is rejected at load time. ``int ** non-negative int literal`` is an int (wrapping); every other
  power is a float (numpy float64 power); ``0 ** negative`` gives 0.0.
* Comparisons give booleans; mixed int/float comparisons compare as floats; any comparison with
  a NaN or infinite operand is False (``!=`` included).
* Truth value: a bool is itself, an int is true when non-zero, a float when finite and non-zero.
  ``and``/``or``/``not`` always give booleans (not Python's operand-returning semantics).
* ``min``/``max`` propagate NaN; ``sum``/``min``/``max`` of an empty iterable give 0,
  ``all``/``any`` of an empty iterable give True/False; ``sum`` adds left to right.
* ``range`` arguments are clipped to [-10**4, 10**4] at run time (a literal beyond that is
  rejected at load time); a zero step gives an empty range. Generator expressions nest at most
  three ``for`` clauses deep. Together with the sandbox (:mod:`ibp_evolve.language.sandbox`) this
  bounds the cost of any rule.
* ``keep`` rules keep a seed when the returned value is true; ``priority`` rules when the returned
  value is > 0 (so a NaN or infinite priority means *not kept*).
"""

from __future__ import annotations

import ast
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ibp_evolve.language.features import METHOD_NAMES, MEASURE_NAMES, measure_type, suggest
from ibp_evolve.language.ir import (  # noqa: F401  (the IR is re-exported from here)
    BOOL, FLOAT, INT, Assign, Binary, Builtin, Compare, Const, FamilySize, Feature, ForClause,
    Generator, If, IfClause, IfElse, IndexCall, IsIsp, Logic, RangeSource, Reduce, Return,
    RuleProgram, Sequence, Unary, Var, binary_type, join_types, numeric,
)

__all__ = [
    "CandidateError", "RuleError", "Rule", "RuleProgram", "parse_rule", "load_rule",
    "BOOL", "INT", "FLOAT", "join_types",
    "MAX_RANGE_BOUND", "MAX_EXPONENT", "MAX_GENERATOR_DEPTH", "INT64_MIN", "INT64_MAX",
    "Const", "Var", "Feature", "FamilySize", "IndexCall", "IsIsp", "Unary", "Binary", "Compare",
    "Logic", "IfElse", "Builtin", "Reduce", "Sequence", "RangeSource", "Generator", "ForClause",
    "IfClause", "Assign", "If", "Return",
]

# ----------------------------------------------------------------------------- limits

MAX_RANGE_BOUND = 10_000        # range() arguments are clipped to [-this, this]
MAX_EXPONENT = 8                # ** exponents are clipped to [-this, this]
MAX_GENERATOR_DEPTH = 3         # nested ``for`` clauses across generator expressions
MAX_SOURCE_CHARS = 50_000
MAX_AST_NODES = 5_000
MAX_AST_DEPTH = 100
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

RULE_KINDS = ("keep", "priority")
RULE_PARAMS = ("seed", "target")
SEED_FEATURES = MEASURE_NAMES            # the one vocabulary (language/features.py)
SEED_METHODS = METHOD_NAMES
SEED_ATTRIBUTES = ("a",) + SEED_FEATURES + SEED_METHODS
FAMILY_ATTRIBUTES = ("n", "isps", "is_isp")
MULTI_ARG_BUILTINS = ("abs", "min", "max")
REDUCERS = ("sum", "min", "max", "all", "any", "len")
ALLOWED_BUILTINS = ("abs", "min", "max", "sum", "len", "all", "any", "range")
RESERVED_NAMES = RULE_PARAMS + ("family",) + ALLOWED_BUILTINS + RULE_KINDS + (
    "True", "False", "None")

_ALLOWED_HELP = (
    "the only functions are abs, min, max, sum, len, all, any, range, "
    + ", ".join(f"seed/target.{m}(i)" for m in SEED_METHODS) + " and family.is_isp(i)")
_ATTRIBUTE_HELP = (
    "seed and target offer a, " + ", ".join(SEED_FEATURES) + ", "
    + ", ".join(f"{m}(i)" for m in SEED_METHODS) + "; family offers n, isps, is_isp(i)")
_LOOP_HELP = "use a generator expression, e.g. sum(1 for x in seed.a if x < 0)"


class CandidateError(Exception):
    """A candidate rule's own fault, raised while it is loaded, compiled or evaluated: the rule
    is rejected and evolution goes on.  Anything else that fails while a rule is judged (a bad
    family, a cap, the solver, a worker) is the judge's fault and stops the run."""


class RuleError(CandidateError, ValueError):
    """A rule that cannot be loaded: the message names the line and the offending construct."""

    def __init__(self, message: str, lineno: int | None = None, filename: str | None = None):
        self.reason = message
        self.lineno = lineno
        self.filename = filename
        where = f"line {lineno}" if lineno is not None else "rule"
        if filename:
            where = f"{filename}, {where}"
        super().__init__(f"{where}: {message}")



@dataclass(frozen=True)
class Rule:
    """A loaded rule: its name, kind ('keep'|'priority'), source text, file path and IR."""
    name: str
    kind: str
    source: str
    path: str | None
    program: RuleProgram = field(repr=False, compare=False)

    @property
    def docstring(self) -> str | None:
        return self.program.docstring


# ----------------------------------------------------------------------------- pass 1: whitelist

_FORBIDDEN_NODES = {
    ast.Import: "import statements are not allowed: a rule cannot use modules",
    ast.ImportFrom: "import statements are not allowed: a rule cannot use modules",
    ast.While: f"while loops are not allowed: {_LOOP_HELP}",
    ast.For: "for statements are not allowed: only generator expressions may loop; "
             + _LOOP_HELP,
    ast.AsyncFor: "async for statements are not allowed: " + _LOOP_HELP,
    ast.Lambda: "lambda expressions are not allowed",
    ast.FunctionDef: "nested function definitions are not allowed: a rule is one function",
    ast.AsyncFunctionDef: "async function definitions are not allowed",
    ast.ClassDef: "class definitions are not allowed",
    ast.Global: "global statements are not allowed",
    ast.Nonlocal: "nonlocal statements are not allowed",
    ast.Try: "try statements are not allowed",
    ast.With: "with statements are not allowed",
    ast.AsyncWith: "with statements are not allowed",
    ast.Raise: "raise statements are not allowed",
    ast.Assert: "assert statements are not allowed",
    ast.Delete: "del statements are not allowed",
    ast.Match: "match statements are not allowed",
    ast.AnnAssign: "annotated assignments are not allowed: write 'x = ...'",
    ast.Break: "break statements are not allowed",
    ast.Continue: "continue statements are not allowed",
    ast.ListComp: "list comprehensions are not allowed: use a generator expression "
                  "(drop the brackets)",
    ast.SetComp: "set comprehensions are not allowed: use a generator expression",
    ast.DictComp: "dict comprehensions are not allowed",
    ast.List: "list literals are not allowed",
    ast.Tuple: "tuple literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.Starred: "starred expressions (*x) are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Await: "await is not allowed",
    ast.Slice: "slices are not allowed: index one position at a time, seed.a[i]",
}
if hasattr(ast, "TryStar"):
    _FORBIDDEN_NODES[ast.TryStar] = "try statements are not allowed"

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
           ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow"}
_BINOP_SYMBOLS = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
                  ast.RShift: ">>", ast.MatMult: "@"}
_CMPOPS = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt",
           ast.GtE: "ge"}


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


class _Whitelist:
    """Walks the whole tree (dead code included) and rejects every construct outside the subset."""

    def __init__(self, fail):
        self.fail = fail
        self.rule_name = None

    def check_module(self, module: ast.Module) -> ast.FunctionDef:
        function = None
        for k, stmt in enumerate(module.body):
            if k == 0 and _is_docstring(stmt):
                continue
            if isinstance(stmt, ast.FunctionDef):
                if function is not None:
                    self.fail(stmt, f"a rule file must contain exactly one top-level function; "
                                    f"found a second one, '{stmt.name}' (helper functions are "
                                    f"not allowed)")
                function = stmt
                continue
            if isinstance(stmt, (ast.AsyncFunctionDef, ast.ClassDef, ast.Import,
                                 ast.ImportFrom)):
                self.fail(stmt, _FORBIDDEN_NODES[type(stmt)])
            self.fail(stmt, "top-level statements other than the rule function are not allowed: "
                            "put everything inside the function")
        if function is None:
            self.fail(None, "a rule file must define one function, "
                            "def keep(seed, target) or def priority(seed, target)")
        self.check_signature(function)
        self.rule_name = function.name
        for k, stmt in enumerate(function.body):
            if k == 0 and _is_docstring(stmt):
                continue
            self.statement(stmt)
        return function

    def check_signature(self, fn: ast.FunctionDef) -> None:
        expected = "def keep(seed, target) or def priority(seed, target)"
        if fn.decorator_list:
            self.fail(fn.decorator_list[0], "decorators are not allowed")
        if _is_dunder(fn.name):
            self.fail(fn, f"dunder name '{fn.name}' is not allowed")
        if fn.name not in RULE_KINDS:
            self.fail(fn, f"wrong signature: the rule function must be {expected}, "
                          f"not '{fn.name}'")
        args = fn.args
        names = tuple(a.arg for a in args.args)
        if (args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg or args.defaults
                or names != RULE_PARAMS):
            self.fail(fn, f"wrong signature: expected def {fn.name}(seed, target)")
        for annotation in [a.annotation for a in args.args] + [fn.returns]:
            if annotation is not None and not (isinstance(annotation, ast.Name)
                                               and annotation.id in (BOOL, INT, FLOAT)):
                self.fail(annotation, "annotations may only be bool, int or float")

    def statement(self, stmt: ast.stmt) -> None:
        if type(stmt) in _FORBIDDEN_NODES:
            self.fail(stmt, _FORBIDDEN_NODES[type(stmt)])
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                self.fail(stmt, "only assignments to a single local name are allowed (x = ...)")
            self.target_name(stmt.targets[0])
            self.expr(stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            if not isinstance(stmt.target, ast.Name):
                self.fail(stmt, "only assignments to a single local name are allowed (x += ...)")
            self.target_name(stmt.target)
            self.operator(stmt, stmt.op)
            self.expr(stmt.value)
        elif isinstance(stmt, ast.If):
            self.expr(stmt.test)
            for s in stmt.body + stmt.orelse:
                self.statement(s)
        elif isinstance(stmt, ast.Return):
            if stmt.value is None:
                self.fail(stmt, "return needs a value")
            self.expr(stmt.value)
        elif isinstance(stmt, ast.Pass):
            pass
        elif isinstance(stmt, ast.Expr):
            self.expr(stmt.value)   # a forbidden call inside gets its own message first
            self.fail(stmt, "expression statements have no effect: assign the value or return it")
        else:
            self.fail(stmt, f"'{type(stmt).__name__}' statements are not allowed")

    def target_name(self, node: ast.Name) -> None:
        if _is_dunder(node.id):
            self.fail(node, f"dunder name '{node.id}' is not allowed")
        if node.id in RESERVED_NAMES:
            self.fail(node, f"cannot assign to '{node.id}': the name is reserved")

    def operator(self, node, op) -> None:
        if type(op) in _BINOP_SYMBOLS:
            self.fail(node, f"operator '{_BINOP_SYMBOLS[type(op)]}' is not allowed "
                            f"(allowed: + - * / // % **)")
        if type(op) not in _BINOPS:
            self.fail(node, f"operator '{type(op).__name__}' is not allowed")

    def expr(self, node: ast.expr) -> None:
        if type(node) in _FORBIDDEN_NODES:
            self.fail(node, _FORBIDDEN_NODES[type(node)])
        if isinstance(node, ast.Constant):
            self.constant(node)
        elif isinstance(node, ast.Name):
            if _is_dunder(node.id):
                self.fail(node, f"dunder name '{node.id}' is not allowed")
        elif isinstance(node, ast.Attribute):
            self.attribute(node)
        elif isinstance(node, ast.Subscript):
            value = node.value
            if not (isinstance(value, ast.Attribute) and value.attr == "a"
                    and isinstance(value.value, ast.Name) and value.value.id in RULE_PARAMS):
                self.fail(node, "subscripts are only allowed on seed.a[...] and target.a[...]")
            self.expr(node.slice)
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.BinOp):
            self.operator(node, node.op)
            self.expr(node.left)
            self.expr(node.right)
        elif isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Invert):
                self.fail(node, "operator '~' is not allowed")
            self.expr(node.operand)
        elif isinstance(node, ast.BoolOp):
            for v in node.values:
                self.expr(v)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if isinstance(op, (ast.In, ast.NotIn)):
                    self.fail(node, "'in' comparisons are not allowed: use family.is_isp(i), "
                                    "any(...) or ==")
                if isinstance(op, (ast.Is, ast.IsNot)):
                    self.fail(node, "'is' comparisons are not allowed: use == or !=")
            self.expr(node.left)
            for c in node.comparators:
                self.expr(c)
        elif isinstance(node, ast.IfExp):
            self.expr(node.test)
            self.expr(node.body)
            self.expr(node.orelse)
        elif isinstance(node, ast.GeneratorExp):
            for comp in node.generators:
                if comp.is_async:
                    self.fail(node, "async generator expressions are not allowed")
                if not isinstance(comp.target, ast.Name):
                    self.fail(comp.target, "the loop variable of a generator expression must be "
                                           "a single name")
                self.target_name(comp.target)
                self.expr(comp.iter)
                for cond in comp.ifs:
                    self.expr(cond)
            self.expr(node.elt)
        else:
            self.fail(node, f"'{type(node).__name__}' expressions are not allowed")

    def constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, str):
            self.fail(node, "string constants are not allowed (only a docstring)")
        if isinstance(value, bytes):
            self.fail(node, "bytes constants are not allowed")
        if value is None:
            self.fail(node, "None is not allowed: return a number or a boolean")
        if isinstance(value, complex):
            self.fail(node, "complex constants are not allowed")
        if value is Ellipsis:
            self.fail(node, "'...' is not allowed")
        if isinstance(value, int) and not isinstance(value, bool) and not (
                INT64_MIN <= value <= INT64_MAX):
            self.fail(node, f"integer constant {value} is outside the int64 range")

    def attribute(self, node: ast.Attribute) -> None:
        if _is_dunder(node.attr):
            self.fail(node, f"dunder attribute '{node.attr}' is not allowed")
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in RULE_PARAMS:
            if node.attr not in SEED_ATTRIBUTES:
                self.fail(node, f"unknown feature '{owner.id}.{node.attr}'"
                                f"{suggest(node.attr, SEED_ATTRIBUTES, owner.id + '.')} "
                                f"({_ATTRIBUTE_HELP})")
        elif isinstance(owner, ast.Name) and owner.id == "family":
            if node.attr not in FAMILY_ATTRIBUTES:
                self.fail(node, f"unknown attribute 'family.{node.attr}'"
                                f"{suggest(node.attr, FAMILY_ATTRIBUTES, 'family.')} "
                                f"({_ATTRIBUTE_HELP})")
        else:
            self.expr(owner)
            self.fail(node, f"attribute access '.{node.attr}' is not allowed here: "
                            f"{_ATTRIBUTE_HELP}")

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id == self.rule_name:
                self.fail(node, f"recursion is not allowed (call to the rule's own name "
                                f"'{func.id}')")
            if func.id not in ALLOWED_BUILTINS:
                self.fail(node, f"call to '{func.id}' is not allowed: {_ALLOWED_HELP}")
        elif isinstance(func, ast.Attribute):
            self.attribute(func)
            if func.attr not in SEED_METHODS + ("is_isp",):
                self.fail(node, f"'{ast.unparse(func)}' is not callable: {_ALLOWED_HELP}")
        else:
            self.fail(node, f"only named functions may be called: {_ALLOWED_HELP}")
        if node.keywords:
            self.fail(node, "keyword arguments are not allowed")
        for arg in node.args:
            self.expr(arg)


# ----------------------------------------------------------------------------- pass 2: typed IR

_UNASSIGNED = None   # env value of a name assigned on some paths only


class _Builder:
    """Turns the whitelisted function body into typed IR: scoping, definite assignment,
    builtin arities, iterables, static types and literal bounds."""

    def __init__(self, fail):
        self.fail = fail

    # statements -------------------------------------------------------------

    def block(self, stmts, env):
        """Returns (IR statements, env after the block), env None when the block always returns.
        Statements after an unconditional return are unreachable and dropped."""
        out = []
        for stmt in stmts:
            if env is None:
                break
            if _is_docstring(stmt) or isinstance(stmt, ast.Pass):
                continue
            ir, env = self.statement(stmt, env)
            out.append(ir)
        return tuple(out), env

    def statement(self, stmt, env):
        if isinstance(stmt, ast.Assign):
            value = self.expr(stmt.value, env)
            name = stmt.targets[0].id
            return Assign(name, value), {**env, name: value.type}
        if isinstance(stmt, ast.AugAssign):
            name = stmt.target.id
            current = self.load(stmt.target, env)
            value = self.binary(stmt, _BINOPS[type(stmt.op)], current, stmt.value, env)
            return Assign(name, value), {**env, name: value.type}
        if isinstance(stmt, ast.Return):
            return Return(self.expr(stmt.value, env)), None
        if isinstance(stmt, ast.If):
            cond = self.expr(stmt.test, env)
            body, env_then = self.block(stmt.body, dict(env))
            orelse, env_else = self.block(stmt.orelse, dict(env))
            return If(cond, body, orelse), self.merge(env_then, env_else)
        raise AssertionError(f"unexpected statement {stmt!r}")  # pass 1 rejects the rest

    @staticmethod
    def merge(a, b):
        if a is None:
            return b
        if b is None:
            return a
        merged = {}
        for name in a.keys() | b.keys():
            ta, tb = a.get(name, _UNASSIGNED), b.get(name, _UNASSIGNED)
            merged[name] = _UNASSIGNED if ta is None or tb is None else join_types(ta, tb)
        return merged

    # expressions ------------------------------------------------------------

    def expr(self, node, env, depth=0):
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                return Const(value, BOOL)
            if isinstance(value, int):
                return Const(value, INT)
            return Const(float(value), FLOAT)
        if isinstance(node, ast.Name):
            return self.load(node, env)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Subscript):
            owner = node.value.value.id
            return IndexCall(owner, "a", self.int_arg(node.slice, env, depth, "an index"))
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand, env, depth)
            if isinstance(node.op, ast.Not):
                return Unary("not", operand, BOOL)
            op = "neg" if isinstance(node.op, ast.USub) else "pos"
            if isinstance(operand, Const) and op == "neg" and operand.type != BOOL:
                if operand.type == INT and -operand.value < INT64_MIN:
                    self.fail(node, "integer constant is outside the int64 range")
                return Const(-operand.value, operand.type)   # a negative literal stays literal
            return Unary(op, operand, numeric(operand.type))
        if isinstance(node, ast.BinOp):
            left = self.expr(node.left, env, depth)
            return self.binary(node, _BINOPS[type(node.op)], left, node.right, env, depth)
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return Logic(op, tuple(self.expr(v, env, depth) for v in node.values))
        if isinstance(node, ast.Compare):
            operands = (node.left,) + tuple(node.comparators)
            return Compare(tuple(_CMPOPS[type(op)] for op in node.ops),
                           tuple(self.expr(o, env, depth) for o in operands))
        if isinstance(node, ast.IfExp):
            cond = self.expr(node.test, env, depth)
            then = self.expr(node.body, env, depth)
            orelse = self.expr(node.orelse, env, depth)
            return IfElse(cond, then, orelse, join_types(then.type, orelse.type))
        if isinstance(node, ast.Call):
            return self.call(node, env, depth)
        if isinstance(node, ast.GeneratorExp):
            self.fail(node, "a generator expression can only be passed to sum, min, max, any or "
                            "all")
        raise AssertionError(f"unexpected expression {node!r}")  # pass 1 rejects the rest

    def load(self, node: ast.Name, env):
        name = node.id
        if name in env:
            if env[name] is _UNASSIGNED:
                self.fail(node, f"variable '{name}' may be used before it is assigned "
                                f"(it is not assigned on every path)")
            return Var(name, env[name])
        if name in RULE_PARAMS or name == "family":
            self.fail(node, f"'{name}' can only be used through its attributes: "
                            f"{_ATTRIBUTE_HELP}")
        if name in ALLOWED_BUILTINS:
            self.fail(node, f"'{name}' can only be called")
        self.fail(node, f"name '{name}' is not defined (a rule can use seed, target, family, "
                        f"its own local variables and {', '.join(ALLOWED_BUILTINS)})")

    def attribute(self, node: ast.Attribute):
        owner, attr = node.value.id, node.attr
        if owner == "family":
            if attr == "n":
                return FamilySize()
            if attr == "isps":
                self.fail(node, "family.isps can only be iterated over (in a generator "
                                "expression or sum/min/max/len/any/all)")
            self.fail(node, "family.is_isp is a method: call it as family.is_isp(i)")
        if attr in SEED_FEATURES:
            return Feature(owner, attr, measure_type(attr))
        if attr == "a":
            self.fail(node, f"{owner}.a can only be indexed ({owner}.a[i]) or iterated over")
        self.fail(node, f"{owner}.{attr} is a method: call it as {owner}.{attr}(i)")

    def int_arg(self, node, env, depth, what):
        value = self.expr(node, env, depth)
        if value.type == FLOAT:
            self.fail(node, f"{what} must be an integer, not a float")
        return value

    def binary(self, node, op, left, right_node, env, depth=0):
        right = self.expr(right_node, env, depth)
        if op == "pow" and isinstance(right, Const) and abs(right.value) > MAX_EXPONENT:
            self.fail(node, f"exponent {right.value} exceeds the limit {MAX_EXPONENT} "
                            f"(exponents are capped to [-{MAX_EXPONENT}, {MAX_EXPONENT}])")
        return Binary(op, left, right, binary_type(op, left, right))

    def call(self, node: ast.Call, env, depth):
        func, args = node.func, node.args
        if isinstance(func, ast.Attribute):
            owner, method = func.value.id, func.attr
            if method not in SEED_METHODS + ("is_isp",) or (
                    (owner == "family") != (method == "is_isp")):
                self.fail(node, f"'{owner}.{method}' is not callable: {_ALLOWED_HELP}")
            if len(args) != 1:
                self.fail(node, f"{owner}.{method}() takes exactly one argument (a position)")
            index = self.int_arg(args[0], env, depth, "a position")
            return IsIsp(index) if method == "is_isp" else IndexCall(owner, method, index)
        name = func.id
        if name == "range":
            self.fail(node, "range(...) can only be iterated over (in a generator expression "
                            "or sum/min/max/len/any/all)")
        if name == "abs":
            if len(args) != 1:
                self.fail(node, "abs() takes exactly one argument")
            value = self.expr(args[0], env, depth)
            return Builtin("abs", (value,), numeric(value.type))
        if name in ("min", "max") and len(args) >= 2:
            values = tuple(self.expr(a, env, depth) for a in args)
            return Builtin(name, values, numeric(join_types(*(v.type for v in values))))
        if len(args) != 1:
            if name in ("min", "max"):
                self.fail(node, f"{name}() needs two or more arguments or one iterable")
            self.fail(node, f"{name}() takes exactly one iterable argument")
        source = self.iterable(args[0], env, depth, reducer=name)
        if name == "len" and isinstance(source, Generator):
            self.fail(node, "len() of a generator expression is not allowed: use sum(1 for ...)")
        typ = {"all": BOOL, "any": BOOL, "len": INT}.get(name, numeric(source.type))
        return Reduce(name, source, typ)

    def iterable(self, node, env, depth, reducer=None):
        """seed.a, target.a, family.isps, range(...) or (for reducers) a generator expression."""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, attr = node.value.id, node.attr
            if owner in RULE_PARAMS and attr == "a":
                return Sequence(owner)
            if owner == "family" and attr == "isps":
                return Sequence("isps")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "range"):
            return self.range_source(node, env, depth)
        if isinstance(node, ast.GeneratorExp) and reducer is not None:
            return self.generator(node, env, depth)
        if reducer is not None:
            self.fail(node, f"{reducer}() needs an iterable: seed.a, target.a, family.isps, "
                            f"range(...) or a generator expression")
        self.fail(node, "a generator expression can only iterate over seed.a, target.a, "
                        "family.isps or range(...)")

    def range_source(self, node: ast.Call, env, depth):
        args = node.args
        if not 1 <= len(args) <= 3:
            self.fail(node, "range() takes one to three arguments")
        values = [self.int_arg(a, env, depth, "a range() argument") for a in args]
        for v in values:
            if isinstance(v, Const) and abs(v.value) > MAX_RANGE_BOUND:
                self.fail(node, f"range bound {v.value} exceeds the limit {MAX_RANGE_BOUND}")
        if len(values) == 1:
            values = [Const(0, INT)] + values
        if len(values) == 2:
            values.append(Const(1, INT))
        return RangeSource(*values)

    def generator(self, node: ast.GeneratorExp, env, depth):
        clauses = []
        scope = dict(env)
        for comp in node.generators:
            depth += 1
            if depth > MAX_GENERATOR_DEPTH:
                self.fail(node, f"generator expressions may nest at most {MAX_GENERATOR_DEPTH} "
                                f"'for' clauses deep")
            source = self.iterable(comp.iter, scope, depth)
            scope = {**scope, comp.target.id: INT}
            clauses.append(ForClause(comp.target.id, source))
            for cond in comp.ifs:
                clauses.append(IfClause(self.expr(cond, scope, depth)))
        elt = self.expr(node.elt, scope, depth)
        return Generator(elt, tuple(clauses), elt.type)


# ----------------------------------------------------------------------------- entry points

def _check_size(tree: ast.AST, fail) -> None:
    count = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_AST_NODES:
            fail(node, f"the rule is too large (more than {MAX_AST_NODES} syntax nodes)")
        if depth > MAX_AST_DEPTH:
            fail(node, f"the rule is nested too deeply (more than {MAX_AST_DEPTH} levels)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def parse_rule(source: str, filename: str | None = None) -> RuleProgram:
    """Parse and validate rule source; returns the typed IR or raises :class:`RuleError`."""

    def fail(node, message):
        raise RuleError(message, getattr(node, "lineno", None) or 1, filename)

    if not isinstance(source, str):
        raise RuleError("rule source must be a string", None, filename)
    if len(source) > MAX_SOURCE_CHARS:
        raise RuleError(f"the rule is too long (more than {MAX_SOURCE_CHARS} characters)",
                        None, filename)
    try:
        tree = ast.parse(source, filename=filename or "<rule>")
    except SyntaxError as exc:
        raise RuleError(f"syntax error: {exc.msg}", exc.lineno, filename) from None
    except (RecursionError, MemoryError):
        raise RuleError("the rule is nested too deeply to parse", 1, filename) from None
    except ValueError as exc:   # e.g. null bytes
        raise RuleError(f"cannot parse the rule: {exc}", 1, filename) from None
    _check_size(tree, fail)
    function = _Whitelist(fail).check_module(tree)
    env = {}
    body, env_after = _Builder(fail).block(function.body, env)
    if env_after is not None:
        raise RuleError(f"the rule may finish without returning a value: every path through "
                        f"{function.name}() must end in a return", function.end_lineno, filename)
    return RuleProgram(function.name, body, ast.get_docstring(function))


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and "def " not in text and len(text) < 4096


def load_rule(path_or_source: str | os.PathLike, name: str | None = None) -> Rule:
    """Load a rule from a file path or from source text.

    A :class:`pathlib.Path` (or a one-line string naming a file) is read from disk and the rule is
    named after the file's stem; source text gets the name ``rule_<first 8 hex of sha256>``
    unless ``name`` is given.
    """
    path = None
    if isinstance(path_or_source, os.PathLike) or (
            isinstance(path_or_source, str) and _looks_like_path(path_or_source)):
        path = Path(path_or_source)
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleError(f"cannot read rule file: {exc}", None, str(path)) from None
        except UnicodeDecodeError as exc:
            raise RuleError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                            f"{exc.start})", None, str(path)) from None
    else:
        source = path_or_source
    program = parse_rule(source, filename=str(path) if path is not None else None)
    if name is None:
        name = path.stem if path is not None else (
            "rule_" + hashlib.sha256(source.encode()).hexdigest()[:8])
    return Rule(name, program.kind, source, str(path) if path is not None else None, program)
