"""The one printer: a rule's IR as rule-language source, or as the formula a physicist writes
on a board (``d <= d_target and s <= s_target - missing``).

Every engine's rules reach here as IR (:mod:`ibp_evolve.language.ir`): parsed rule files, GP
trees, symbolic-regression formulas.  Three steps:

* :func:`inline` turns a rule's statements (local variables, ``if``/``return``) into one
  expression, where that stays small;
* :func:`simplify` folds what evolution leaves behind through sympy — constants
  (``-1 <= 3 + a6`` is ``a6 >= -4``), ``True and x``, ``3 if True else a1``, ``min(s, s)``,
  ``x - x``, repeated clauses, an equality used in the other clauses (``d == 0 and d ==
  min(a3, d_target)`` is ``d == 0 and min(a3, d_target) == 0``), facts of the vocabulary
  (``max(d, 0)`` is ``d``: dots are never negative), boolean minimisation of small rules;
  given candidate seeds it checks that the simplified rule keeps exactly the same seeds, and
  keeps the original otherwise;
* :func:`expression_text` / :func:`program_source` print with as few parentheses as Python
  needs, in display names (1-based ``a3`` for ``seed.a[2]``, ``s_target`` for ``target.s``, see
  :mod:`ibp_evolve.language.features`) or in the rule language.

:func:`formula` does all three for a rule; :func:`parse_formula` reads a formula back into a
rule, so every printed formula can be checked against the rule it came from.
"""

from __future__ import annotations

import ast

import numpy as np

from ibp_evolve.language import features as vocabulary
from ibp_evolve.language.ir import (
    BOOL, FLOAT, INT, Assign, Binary, Builtin, Compare, Const, FamilySize, Feature, ForClause,
    Generator, IfClause, IfElse, IndexCall, Logic, RangeSource, Return, RuleProgram, Sequence,
    Unary, Var, binary, builtin, compare, if_else, logic, unary,
)
from ibp_evolve.language.parse import Rule, RuleError, load_rule, parse_rule

__all__ = ["expression_text", "program_source", "inline", "simplify", "simplify_program",
           "from_sympy",
           "formula", "parse_formula", "rule_from_program", "keep_program", "program_of",
           "MAX_SIMPLIFY_NODES"]

# sympy's automatic evaluation of nested min/max grows steeply with size (seconds at ~100
# nodes): larger rules are printed unsimplified.
MAX_SIMPLIFY_NODES = 120
MAX_INLINE_NODES = 400

_BINARY_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//",
                  "mod": "%", "pow": "**"}
_BINARY_PREC = {"add": 6, "sub": 6, "mul": 7, "truediv": 7, "floordiv": 7, "mod": 7, "pow": 9}
_COMPARE_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_ATOM = 10


# ----------------------------------------------------------------------------- text

class _Text:
    """IR expression -> (text, precedence); ``board`` chooses display names."""

    def __init__(self, board: bool):
        self.board = board

    def __call__(self, node) -> str:
        return self.p(node)[0]

    def wrap(self, node, min_prec: int) -> str:
        text, prec = self.p(node)
        return text if prec >= min_prec else f"({text})"

    def p(self, node):
        return getattr(self, "p_" + type(node).__name__)(node)

    def p_Const(self, node):
        value = node.value
        if isinstance(value, bool):
            return str(value), _ATOM
        if isinstance(value, float):
            if np.isnan(value):
                raise ValueError("a NaN constant has no literal")
            # the parser reads 1e999 as infinity (the rule language has no other spelling)
            text = repr(value) if np.isfinite(value) else ("1e999" if value > 0 else "-1e999")
        else:
            text = str(value)
        return text, (8 if text.startswith("-") else _ATOM)

    def p_Var(self, node):
        return node.name, _ATOM

    def p_Feature(self, node):
        if self.board:
            return vocabulary.display_name(node.owner, node.name), _ATOM
        return f"{node.owner}.{node.name}", _ATOM

    def p_FamilySize(self, node):
        return ("N" if self.board else "family.n"), _ATOM

    def p_IndexCall(self, node):
        index = node.index
        if self.board and isinstance(index, Const) and type(index.value) is int \
                and index.value >= 0:
            return vocabulary.display_name(node.owner, node.method, index.value), _ATOM
        if node.method == "a":
            return f"{node.owner}.a[{self(index)}]", _ATOM
        return f"{node.owner}.{node.method}({self(index)})", _ATOM

    def p_IsIsp(self, node):
        return f"family.is_isp({self(node.index)})", _ATOM

    def p_Unary(self, node):
        if node.op == "not":
            return f"not {self.wrap(node.operand, 5)}", 3
        sign = "-" if node.op == "neg" else "+"
        return f"{sign}{self.wrap(node.operand, 9)}", 8

    def p_Binary(self, node):
        op, prec = node.op, _BINARY_PREC[node.op]
        if op == "pow":   # right-associative, binds tighter than a unary minus on its left
            return f"{self.wrap(node.left, _ATOM)} ** {self.wrap(node.right, 8)}", prec
        return (f"{self.wrap(node.left, prec)} {_BINARY_SYMBOL[op]} "
                f"{self.wrap(node.right, prec + 1)}"), prec

    def p_Compare(self, node):
        parts = [self.wrap(node.operands[0], 5)]
        for op, operand in zip(node.ops, node.operands[1:]):
            parts += [_COMPARE_SYMBOL[op], self.wrap(operand, 5)]
        return " ".join(parts), 4

    def p_Logic(self, node):
        prec = 2 if node.op == "and" else 1
        return f" {node.op} ".join(self.wrap(v, prec + 1) for v in node.values), prec

    def p_IfElse(self, node):
        return (f"{self.wrap(node.then, 1)} if {self.wrap(node.cond, 1)} else "
                f"{self.wrap(node.orelse, 0)}"), 0

    def p_Builtin(self, node):
        return f"{node.func}({', '.join(self(a) for a in node.args)})", _ATOM

    def p_Reduce(self, node):
        return f"{node.func}({self.iterable(node.source)})", _ATOM

    def iterable(self, source) -> str:
        if isinstance(source, Sequence):
            return "family.isps" if source.owner == "isps" else f"{source.owner}.a"
        if isinstance(source, RangeSource):
            start, stop, step = source.start, source.stop, source.step
            if _is_const(step, 1):
                if _is_const(start, 0):
                    return f"range({self(stop)})"
                return f"range({self(start)}, {self(stop)})"
            return f"range({self(start)}, {self(stop)}, {self(step)})"
        parts = [self.wrap(source.elt, 1)]
        for clause in source.clauses:
            if isinstance(clause, ForClause):
                parts.append(f"for {clause.var} in {self.iterable(clause.source)}")
            else:
                parts.append(f"if {self.wrap(clause.cond, 1)}")
        return " ".join(parts)


def _is_const(node, value) -> bool:
    return isinstance(node, Const) and node.value == value and type(node.value) is type(value)


def expression_text(node, board: bool = True) -> str:
    """One IR expression as text: display names when ``board``, else the rule language."""
    return _Text(board)(node)


def program_source(program: RuleProgram, header=None) -> str:
    """A complete rule file for ``program``; ``header`` lines become leading comments."""
    text = _Text(board=False)
    lines = [f"# {h}" if h else "#" for h in (header or [])]
    lines.append(f"def {program.kind}(seed, target):")
    if program.docstring:
        lines.append(f"    {program.docstring!r}")

    def block(stmts, indent):
        pad = "    " * indent
        if not stmts:
            lines.append(pad + "pass")
        for stmt in stmts:
            if isinstance(stmt, Assign):
                lines.append(f"{pad}{stmt.name} = {text(stmt.value)}")
            elif isinstance(stmt, Return):
                lines.append(f"{pad}return {text(stmt.value)}")
            else:
                lines.append(f"{pad}if {text(stmt.cond)}:")
                block(stmt.body, indent + 1)
                if stmt.orelse:
                    lines.append(f"{pad}else:")
                    block(stmt.orelse, indent + 1)
    block(program.body, 1)
    return "\n".join(lines) + "\n"


def keep_program(expression, kind: str = "keep") -> RuleProgram:
    """The one-line rule ``def keep(seed, target): return <expression>``."""
    return RuleProgram(kind, (Return(expression),))


def rule_from_program(program: RuleProgram, name: str | None = None, header=None) -> Rule:
    """A loaded :class:`Rule` whose source is the printed program (parsed back, so that what
    runs is exactly what a reader of the file sees)."""
    return load_rule(program_source(program, header), name=name)


def program_of(rule) -> RuleProgram:
    """The IR of a Rule, a RuleProgram or rule source text."""
    if isinstance(rule, RuleProgram):
        return rule
    if isinstance(rule, Rule):
        return rule.program
    return parse_rule(str(rule))


# ----------------------------------------------------------------------------- inlining

class _TooBig(Exception):
    pass


def _size(node) -> int:
    if isinstance(node, tuple):
        return sum(_size(x) for x in node)
    if not hasattr(node, "__dataclass_fields__"):
        return 0
    return 1 + sum(_size(getattr(node, f)) for f in node.__dataclass_fields__
                   if f != "type")


def _substitute(node, env):
    """``node`` with the local variables of ``env`` replaced by their expressions (a loop
    variable of a generator expression shadows a local of the same name)."""
    if isinstance(node, Var):
        if node.name not in env:
            return node
        value = env[node.name]
        if node.type == FLOAT and value.type != FLOAT:
            raise _TooBig("a variable widened to float on another path")
        return value
    if isinstance(node, Generator):
        inner = dict(env)
        clauses = []
        for clause in node.clauses:
            if isinstance(clause, ForClause):
                clauses.append(ForClause(clause.var, _substitute(clause.source, inner)))
                inner.pop(clause.var, None)
            else:
                clauses.append(IfClause(_substitute(clause.cond, inner)))
        return Generator(_substitute(node.elt, inner), tuple(clauses), node.type)
    if isinstance(node, tuple):
        return tuple(_substitute(x, env) for x in node)
    if not hasattr(node, "__dataclass_fields__") or isinstance(node, (Const, Sequence)):
        return node
    values = {f: _substitute(getattr(node, f), env) for f in node.__dataclass_fields__}
    return type(node)(**values)


def inline(program: RuleProgram):
    """The rule as one expression (``if c: return x`` / ``return y`` is ``x if c else y``),
    or None when that would exceed :data:`MAX_INLINE_NODES` nodes."""
    def run(stmts, env):
        for k, stmt in enumerate(stmts):
            if isinstance(stmt, Assign):
                env = {**env, stmt.name: _substitute(stmt.value, env)}
            elif isinstance(stmt, Return):
                return _substitute(stmt.value, env)
            else:
                rest = tuple(stmts[k + 1:])
                cond = _substitute(stmt.cond, env)
                then = run(tuple(stmt.body) + rest, env)
                orelse = run(tuple(stmt.orelse) + rest, env)
                node = if_else(cond, then, orelse)
                if _size(node) > MAX_INLINE_NODES:
                    raise _TooBig("too large")
                return node
        raise AssertionError("validated rules always return")
    try:
        return run(tuple(program.body), {})
    except _TooBig:
        return None


# ----------------------------------------------------------------------------- sympy

class _ToSympy:
    """IR -> sympy.  Features become symbols named by their display names (integer, and
    non-negative where the vocabulary says so); anything sympy cannot be trusted with
    (division by a possible zero, floor division, generator expressions, floats that may be
    NaN ...) becomes an opaque symbol standing for the original IR node."""

    def __init__(self, sp):
        self.sp = sp
        self.back = {}          # symbol name -> IR node
        self.symbols = {}

    def symbol(self, key, node, **assumptions):
        if key not in self.symbols:
            self.symbols[key] = self.sp.Symbol(key, **assumptions)
            self.back[key] = node
        return self.symbols[key]

    def opaque(self, node, kind=None):
        """A symbol for an IR node sympy must not look into; ``kind`` is 'bool' (a truth
        value), 'int' (a number that is an integer: ints and booleans) or 'real'."""
        kind = kind or {BOOL: "bool", INT: "int", FLOAT: "real"}[node.type]
        for name, seen in self.back.items():
            if seen == node and name.startswith(f"_{kind}"):
                return self.symbols[name]
        key = f"_{kind}{len(self.back)}"
        assumptions = {"bool": {}, "int": {"integer": True}, "real": {"real": True}}[kind]
        return self.symbol(key, node, **assumptions)

    def boolean(self, node):
        """A boolean sympy expression for the truth value of ``node``."""
        if node.type == BOOL:
            return self.expr(node)
        if node.type == INT:
            return self.sp.Ne(self.expr(node), 0)
        return self.opaque(node, "bool")

    def number(self, node):
        """A numeric sympy expression for ``node`` (a boolean is an opaque 0/1 integer)."""
        if node.type == BOOL:
            return self.opaque(node, "int")
        return self.expr(node)

    def expr(self, node):
        sp = self.sp
        if isinstance(node, Const):
            if isinstance(node.value, bool):
                return sp.true if node.value else sp.false
            if isinstance(node.value, int):
                return sp.Integer(node.value)
            return sp.Rational(node.value)
        if isinstance(node, (Feature, FamilySize)) or (
                isinstance(node, IndexCall) and isinstance(node.index, Const)
                and type(node.index.value) is int and node.index.value >= 0):
            return self.feature(node)
        if isinstance(node, Unary):
            if node.op == "not":
                return sp.Not(self.boolean(node.operand))
            value = self.number(node.operand)
            return -value if node.op == "neg" else value
        if isinstance(node, Binary) and node.op in ("add", "sub", "mul"):
            x, y = self.number(node.left), self.number(node.right)
            return {"add": lambda: x + y, "sub": lambda: x - y, "mul": lambda: x * y}[node.op]()
        if isinstance(node, Binary) and node.op == "pow" and node.type == INT:
            return self.number(node.left) ** int(node.right.value)
        if isinstance(node, Builtin):
            args = [self.number(a) for a in node.args]
            if node.func == "abs":
                return sp.Abs(args[0])
            return (sp.Min if node.func == "min" else sp.Max)(*args)
        if isinstance(node, Compare):
            parts = []
            for op, x, y in zip(node.ops, node.operands[:-1], node.operands[1:]):
                if FLOAT in (x.type, y.type) and not (_finite(x) and _finite(y)):
                    return self.opaque(node)
                rel = {"eq": sp.Eq, "ne": sp.Ne, "lt": sp.Lt, "le": sp.Le, "gt": sp.Gt,
                       "ge": sp.Ge}[op]
                parts.append(rel(self.number(x), self.number(y)))
            return sp.And(*parts)
        if isinstance(node, Logic):
            values = [self.boolean(v) for v in node.values]
            return sp.And(*values) if node.op == "and" else sp.Or(*values)
        if isinstance(node, IfElse):
            cond = self.boolean(node.cond)
            if node.type == BOOL:
                then, orelse = self.boolean(node.then), self.boolean(node.orelse)
                return sp.Or(sp.And(cond, then), sp.And(sp.Not(cond), orelse))
            if node.type == FLOAT and not (_finite(node.then) and _finite(node.orelse)):
                return self.opaque(node)
            return sp.Piecewise((self.number(node.then), cond), (self.number(node.orelse), True))
        return self.opaque(node)

    def feature(self, node):
        if isinstance(node, FamilySize):
            return self.symbol("N", node, integer=True, positive=True)
        if isinstance(node, Feature):
            key = vocabulary.display_name(node.owner, node.name)
            spec = vocabulary.spec(node.name)
        else:
            key = vocabulary.display_name(node.owner, node.method, node.index.value)
            spec = vocabulary.spec(node.method)
        kind = {"integer": True} if spec.type == INT else {"real": True}
        if spec.nonnegative:
            kind["nonnegative"] = True
        return self.symbol(key, node, **kind)


def _finite(node) -> bool:
    """Whether a float-typed expression is surely finite (no NaN or infinity can appear): built
    from features, constants, + - * and min/max/abs of such."""
    if node.type != FLOAT:
        return True
    if isinstance(node, (Const, Feature, FamilySize, IndexCall)):
        return True
    if isinstance(node, Binary) and node.op in ("add", "sub", "mul"):
        return _finite(node.left) and _finite(node.right)
    if isinstance(node, Unary):
        return _finite(node.operand)
    if isinstance(node, Builtin):
        return all(_finite(a) for a in node.args)
    return False


class _FromSympy:
    """sympy -> IR, with relations tidied: constants gathered on one side, a relation with
    only a constant on the left turned round (``-4 <= a6`` is ``a6 >= -4``)."""

    _FLIP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}

    def __init__(self, sp, back):
        self.sp, self.back = sp, back

    def __call__(self, e):
        sp = self.sp
        if e is sp.true or e is sp.false:
            return Const(bool(e), BOOL)
        if isinstance(e, sp.Symbol):
            return self.back[e.name]
        if e in (sp.S.Infinity, sp.S.NegativeInfinity, sp.S.NaN, sp.S.ComplexInfinity):
            raise ValueError(f"non-finite value {e}")
        if e.is_Integer:
            return Const(int(e), INT)
        if e.is_Rational:
            if e.q & (e.q - 1) == 0:        # a binary fraction is an exact float: 2.5
                return Const(float(e), FLOAT)
            return binary("truediv", Const(int(e.p), INT), Const(int(e.q), INT))
        if e.is_Float:
            return Const(float(e), FLOAT)
        if isinstance(e, sp.Add):
            return self.add(e)
        if isinstance(e, sp.Mul):
            return self.mul(e)
        if isinstance(e, sp.Pow):
            base, ex = e.args
            if ex.is_Integer and 0 <= int(ex) <= 8:
                return binary("pow", self(base), Const(int(ex), INT))
            if ex.is_Integer and int(ex) < 0:
                return binary("truediv", Const(1, INT), self(sp.Pow(base, -ex, evaluate=False)))
            return binary("pow", self(base), self(ex))
        if isinstance(e, (sp.Min, sp.Max, sp.Abs)):
            func = {sp.Min: "min", sp.Max: "max", sp.Abs: "abs"}[type(e)]
            return builtin(func, [self(a) for a in self.ordered(e.args)])
        if isinstance(e, sp.core.relational.Relational):
            return self.relation(e)
        if isinstance(e, sp.And):
            return logic("and", [self(a) for a in self.ordered(e.args)])
        if isinstance(e, sp.Or):
            return logic("or", [self(a) for a in self.ordered(e.args)])
        if isinstance(e, sp.Not):
            return unary("not", self(e.args[0]))
        if isinstance(e, sp.Piecewise):
            *pieces, (last, cond) = e.args
            if cond is not sp.true:
                raise ValueError("Piecewise without a default branch")
            out = self(last)
            for value, c in reversed(pieces):
                out = if_else(self(c), self(value), out)
            return out
        raise ValueError(f"cannot print {type(e).__name__}: {e}")

    def mul(self, e):
        sp = self.sp
        coeff, rest = e.as_coeff_Mul()
        if coeff.is_number and coeff < 0:
            return unary("neg", self(-e))
        top, bottom = [], []
        if coeff.is_Rational and not coeff.is_Integer:   # p/q: p on top, q below
            if coeff.p != 1:
                top.append(Const(int(coeff.p), INT))
            bottom.append(Const(int(coeff.q), INT))
        elif coeff != 1:
            top.append(self(coeff))
        for factor in sp.Mul.make_args(rest):
            base, ex = factor.as_base_exp()
            if ex.is_number and ex < 0:
                bottom.append(self(base if ex == -1 else sp.Pow(base, -ex, evaluate=False)))
            else:
                top.append(self(factor))
        out = top[0] if top else Const(1, INT)
        for f in top[1:]:
            out = binary("mul", out, f)
        if not bottom:
            return out
        below = bottom[0]
        for f in bottom[1:]:
            below = binary("mul", below, f)
        return binary("truediv", out, below)

    def ordered(self, args):
        sp = self.sp
        return sorted(args, key=lambda a: (sp.count_ops(a), str(a)))

    def add(self, e):
        sp = self.sp
        terms = sorted(sp.Add.make_args(e),
                       key=lambda x: (x.could_extract_minus_sign(), x.is_number,
                                      sp.default_sort_key(x)))
        out = None
        for term in terms:
            negative = term.could_extract_minus_sign()
            if out is None:
                out = self(term)
            elif negative:
                out = binary("sub", out, self(-term))
            else:
                out = binary("add", out, self(term))
        return out

    def relation(self, e):
        sp = self.sp
        op = {sp.StrictLessThan: "lt", sp.LessThan: "le", sp.StrictGreaterThan: "gt",
              sp.GreaterThan: "ge", sp.Equality: "eq", sp.Unequality: "ne"}[type(e)]
        c_l, rest_l = e.lhs.as_coeff_Add()
        c_r, rest_r = e.rhs.as_coeff_Add()
        terms_l, terms_r = list(sp.Add.make_args(rest_l)), list(sp.Add.make_args(rest_r))
        for term in list(terms_l):          # a term on both sides cancels
            if term != 0 and term in terms_r:
                terms_l.remove(term)
                terms_r.remove(term)
        rest_l, rest_r = sp.Add(*terms_l), sp.Add(*terms_r)
        if rest_l != 0:
            # the constants gather on the right: a + 1 <= b is a <= b - 1
            lhs, rhs = rest_l, rest_r + (c_r - c_l)
        elif rest_r != 0:
            # only a constant on the left: turn the relation round (-4 <= a6 is a6 >= -4)
            lhs, rhs, op = rest_r, c_l - c_r, self._FLIP[op]
        else:
            lhs, rhs = sp.Integer(0), c_r - c_l
        if rhs.is_number and lhs.could_extract_minus_sign() and not isinstance(lhs, sp.Add):
            lhs, rhs, op = -lhs, -rhs, self._FLIP[op]
        return compare((op,), (self(lhs), self(rhs)))


def from_sympy(expr, symbols: dict):
    """The IR of a sympy expression whose symbols are named in ``symbols`` (name -> IR node);
    ValueError for what the rule language cannot say (infinities, unknown symbols ...)."""
    import sympy as sp
    expr = sp.sympify(expr)
    missing = {s.name for s in expr.free_symbols} - set(symbols)
    if missing:
        raise ValueError(f"unknown feature '{sorted(missing)[0]}'")
    return _FromSympy(sp, symbols)(expr)


def _propagate_equalities(sp, e):
    """In a conjunction, use ``x == c`` (c a number) in the other clauses."""
    if not isinstance(e, sp.And):
        return e
    facts = {}
    for a in e.args:
        if isinstance(a, sp.Equality):
            if isinstance(a.lhs, sp.Symbol) and a.rhs.is_number:
                facts[a.lhs] = a.rhs
            elif isinstance(a.rhs, sp.Symbol) and a.lhs.is_number:
                facts[a.rhs] = a.lhs
    if not facts:
        return e
    out = []
    for a in e.args:
        if isinstance(a, sp.Equality) and ({a.lhs, a.rhs} & set(facts)) and (
                a.lhs.is_number or a.rhs.is_number):
            out.append(a)
        else:
            out.append(a.xreplace(facts))
    return sp.And(*out)


# Between texts of the same length: an equality used in the other clauses first (it removes a
# dependency the reader would otherwise have to spot), then the rule as written (its author's
# order of clauses), then sympy's canonical forms.
_PREFER_PROPAGATED, _PREFER_ORIGINAL, _PREFER_CANONICAL = 0, 1, 2


def _sympy_options(sp, e, keep: bool):
    options = [(_PREFER_CANONICAL, e)]
    if not keep:
        return options
    try:
        propagated = _propagate_equalities(sp, e)
        if propagated != e:
            options.append((_PREFER_PROPAGATED, propagated))
        atoms = propagated.atoms(sp.core.relational.Relational)
        if 0 < len(atoms) <= 5 and isinstance(propagated, sp.logic.boolalg.Boolean):
            options.append((_PREFER_CANONICAL,
                            sp.simplify_logic(propagated, force=False, deep=False)))
    except Exception:   # noqa: BLE001 - a failed rewrite only means fewer options
        pass
    return options


def simplify(expression, check=None, kind: str = "keep"):
    """A simpler expression for the rule ``kind`` returning ``expression``.

    ``check``: SeedFeatures (one per target) on which the simplified rule must keep exactly the
    seeds the original keeps; without it, the simplification is trusted (it is exact up to
    int64 wrap-around, which only rules with huge products can reach)."""
    if _size(expression) > MAX_SIMPLIFY_NODES:
        return expression
    try:
        import sympy as sp
        to = _ToSympy(sp)
        if kind == "keep":
            if expression.type == FLOAT:
                return expression
            e = to.boolean(expression)
        else:
            e = to.number(expression)
        back = _FromSympy(sp, to.back)
        candidates = [(_PREFER_ORIGINAL, expression)]
        for preference, option in _sympy_options(sp, e, kind == "keep"):
            try:
                candidates.append((preference, back(option)))
            except ValueError:
                continue
    except Exception:   # noqa: BLE001 - sympy failing on a strange rule: print it as it is
        return expression
    if kind == "priority":   # a priority keeps its type (an int priority stays an int)
        candidates = [(p, c) for p, c in candidates if c.type == expression.type]
    # the shortest text wins
    best = min(candidates, key=lambda pc: (len(expression_text(pc[1])), pc[0], _size(pc[1])))[1]
    if best is expression:
        return expression
    if check is not None and not _same_selection(expression, best, check, kind):
        return expression
    return best


def _same_selection(original, simplified, features_list, kind) -> bool:
    from ibp_evolve.language.compile import CompiledRule
    try:
        a = CompiledRule(rule_from_program(keep_program(original, kind)))
        b = CompiledRule(rule_from_program(keep_program(simplified, kind)))
        return all(np.array_equal(a(f), b(f)) for f in features_list)
    except (RuleError, ValueError):
        return False


def simplify_program(program: RuleProgram, check=None) -> RuleProgram:
    """The rule as one simplified ``return`` (or unchanged when it cannot be inlined)."""
    expression = inline(program)
    if expression is None:
        return program
    return RuleProgram(program.kind, (Return(simplify(expression, check, program.kind)),),
                       program.docstring)


def formula(rule, check=None, max_chars: int = 600) -> str | None:
    """The rule as a simplified board formula (``d <= d_target and s <= s_target - missing``;
    a priority rule reads ``<priority> > 0``), or None when it has no readable one-line form
    (then its source is the formula)."""
    program = program_of(rule)
    expression = inline(program)
    if expression is None:
        return None
    expression = simplify(expression, check, program.kind)
    text = expression_text(expression)
    if program.kind == "priority":
        text = f"{_Text(True).wrap(expression, 5)} > 0"
    return text if len(text) <= max_chars else None


# ----------------------------------------------------------------------------- reading formulas

def parse_formula(text: str, n_indices: int = vocabulary.MAX_INDICES) -> Rule:
    """A keep rule from a board formula (display names, as :func:`formula` prints them).  A
    priority rule's formula ``p > 0`` reads back as a keep rule that keeps the same seeds (a
    comparison with NaN or infinity is false, as a NaN or infinite priority keeps nothing).
    Like the rule language, a formula does not depend on the family: ``a7`` reads 0 in a
    family with fewer indices."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise RuleError(f"formula: syntax error: {exc.msg}") from None
    bound = {t.id for g in ast.walk(tree) if isinstance(g, ast.comprehension)
             for t in ast.walk(g.target) if isinstance(t, ast.Name)}

    class Names(ast.NodeTransformer):
        def visit_Name(self, node):
            if node.id in bound or node.id in ("True", "False"):
                return node
            try:
                feature = vocabulary.feature_node(node.id, n_indices)
            except ValueError as exc:
                raise RuleError(f"formula: {exc}") from None
            return ast.parse(expression_text(feature, board=False), mode="eval").body

        def visit_Call(self, node):   # min(...), sum(...): keep the function's name
            node.args = [self.visit(a) for a in node.args]
            if isinstance(node.func, ast.Attribute):
                node.func = self.visit(node.func)
            return node

        def visit_Attribute(self, node):  # seed.a[i], family.isps: already rule language
            return node

    body = ast.unparse(Names().visit(tree.body))
    return load_rule(f"def keep(seed, target):\n    return {body}\n")
