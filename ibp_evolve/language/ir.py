"""The typed intermediate representation (IR) of a rule: what every engine's rules become.

:mod:`ibp_evolve.language.parse` builds it from a rule file, the GP engine from its trees and the
symbolic engines from their formulas; :mod:`ibp_evolve.language.compile` evaluates it and
:mod:`ibp_evolve.language.printer` prints it.  Every expression node carries its static ``type``
(``bool < int < float``); the helpers at the end compute those types by the one set of rules
that the parser documents, so that a node built by hand types exactly like a parsed one.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BOOL", "INT", "FLOAT", "join_types", "numeric",
    "Const", "Var", "Feature", "FamilySize", "IndexCall", "IsIsp", "Unary", "Binary", "Compare",
    "Logic", "IfElse", "Builtin", "Reduce", "Sequence", "RangeSource", "Generator", "ForClause",
    "IfClause", "Assign", "If", "Return", "RuleProgram",
    "const", "binary", "unary", "builtin", "if_else", "logic", "compare", "binary_type",
]


# ----------------------------------------------------------------------------- types

BOOL, INT, FLOAT = "bool", "int", "float"
_TYPE_ORDER = {BOOL: 0, INT: 1, FLOAT: 2}


def join_types(*types: str) -> str:
    """The widest of the given static types (bool < int < float)."""
    return max(types, key=_TYPE_ORDER.__getitem__)


def numeric(t: str) -> str:
    """Arithmetic treats booleans as the integers 0/1."""
    return INT if t == BOOL else t


# ----------------------------------------------------------------------------- IR
# Every expression node carries its static ``type``; the evaluators cast to it.

@dataclass(frozen=True)
class Const:
    value: bool | int | float
    type: str


@dataclass(frozen=True)
class Var:
    name: str
    type: str


@dataclass(frozen=True)
class Feature:
    """``seed.r`` etc.: owner is 'seed' or 'target', name one of SEED_FEATURES."""
    owner: str
    name: str
    type: str = INT


@dataclass(frozen=True)
class FamilySize:
    """``family.n``."""
    type: str = INT


@dataclass(frozen=True)
class IndexCall:
    """``seed.a[i]`` (method 'a') or ``seed.lines(i)``/``numerators(i)``/``dots(i)``."""
    owner: str
    method: str
    index: object
    type: str = INT


@dataclass(frozen=True)
class IsIsp:
    """``family.is_isp(i)``."""
    index: object
    type: str = BOOL


@dataclass(frozen=True)
class Unary:
    op: str            # 'neg', 'pos', 'not'
    operand: object
    type: str


@dataclass(frozen=True)
class Binary:
    op: str            # 'add', 'sub', 'mul', 'truediv', 'floordiv', 'mod', 'pow'
    left: object
    right: object
    type: str


@dataclass(frozen=True)
class Compare:
    ops: tuple         # of 'eq', 'ne', 'lt', 'le', 'gt', 'ge'
    operands: tuple
    type: str = BOOL


@dataclass(frozen=True)
class Logic:
    op: str            # 'and', 'or'
    values: tuple
    type: str = BOOL


@dataclass(frozen=True)
class IfElse:
    cond: object
    then: object
    orelse: object
    type: str


@dataclass(frozen=True)
class Builtin:
    """``abs(x)``, ``min(x, y, ...)``, ``max(x, y, ...)``."""
    func: str
    args: tuple
    type: str


@dataclass(frozen=True)
class Sequence:
    """Iterating ``seed.a`` / ``target.a`` (owner 'seed'/'target') or ``family.isps`` ('isps')."""
    owner: str
    type: str = INT


@dataclass(frozen=True)
class RangeSource:
    start: object
    stop: object
    step: object
    type: str = INT


@dataclass(frozen=True)
class ForClause:
    var: str
    source: object     # Sequence | RangeSource


@dataclass(frozen=True)
class IfClause:
    cond: object


@dataclass(frozen=True)
class Generator:
    elt: object
    clauses: tuple     # ForClause | IfClause, the first is a ForClause
    type: str


@dataclass(frozen=True)
class Reduce:
    """``sum``/``min``/``max``/``all``/``any``/``len`` over an iterable."""
    func: str
    source: object     # Sequence | RangeSource | Generator
    type: str


@dataclass(frozen=True)
class Assign:
    name: str
    value: object


@dataclass(frozen=True)
class If:
    cond: object
    body: tuple
    orelse: tuple


@dataclass(frozen=True)
class Return:
    value: object


@dataclass(frozen=True)
class RuleProgram:
    """The validated rule: ``kind`` is 'keep' or 'priority'; ``body`` a tuple of statements."""
    kind: str
    body: tuple
    docstring: str | None = None


# ----------------------------------------------------------------------------- typed constructors
# The parser and every engine build nodes through these, so one set of typing rules holds.

def const(value) -> Const:
    """A literal: bool, int or float by its Python type."""
    if isinstance(value, bool):
        return Const(value, BOOL)
    if isinstance(value, int):
        return Const(value, INT)
    return Const(float(value), FLOAT)


def binary_type(op: str, left, right) -> str:
    """``/`` gives a float; ``int ** non-negative int literal`` an int, every other power a
    float; otherwise the wider operand type (booleans count as ints)."""
    if op == "truediv":
        return FLOAT
    if op == "pow":
        literal = right.value if isinstance(right, Const) else None
        int_power = (numeric(left.type) == INT and literal is not None
                     and right.type != FLOAT and literal >= 0)
        return INT if int_power else FLOAT
    return join_types(numeric(left.type), numeric(right.type))


def binary(op: str, left, right) -> Binary:
    return Binary(op, left, right, binary_type(op, left, right))


def unary(op: str, operand) -> Unary:
    return Unary(op, operand, BOOL if op == "not" else numeric(operand.type))


def builtin(func: str, args) -> Builtin:
    """``abs(x)``, ``min(x, y, ...)`` or ``max(x, y, ...)``."""
    args = tuple(args)
    return Builtin(func, args, numeric(join_types(*(a.type for a in args))))


def if_else(cond, then, orelse) -> IfElse:
    return IfElse(cond, then, orelse, join_types(then.type, orelse.type))


def logic(op: str, values) -> Logic:
    return Logic(op, tuple(values))


def compare(ops, operands) -> Compare:
    return Compare(tuple(ops), tuple(operands))
