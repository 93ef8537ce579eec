"""Formulas to rule files: a sympy expression over the label-table columns becomes the rule IR
of a ``def priority(seed, target)`` (kept when > 0), printed by the one printer
(:mod:`ibp_evolve.language.printer`).

Only constructs the rule language has are accepted: ``+ - * /``, powers, ``min``, ``max``,
``abs``, numeric constants and the columns (``r``, ``a4`` = ``seed.a[3]``, ``s_target`` ...).
Columns that need a generator expression (numerator powers on ISPs) become a local variable at
the top of the function, so that the returned line reads like a formula.
"""

from __future__ import annotations

import math

import sympy

from ibp_evolve.engines.symbolic.labels import feature_node
from ibp_evolve.language.features import MAX_INDICES
from ibp_evolve.language.ir import INT, Assign, Feature, Return, RuleProgram, Var, binary
from ibp_evolve.language.printer import expression_text, from_sympy, program_source

__all__ = ["FormulaError", "tidy", "round_constants", "to_rule_expression", "formula_text",
           "rule_program", "rule_source", "simplest_between"]


class FormulaError(ValueError):
    """A formula uses a construct that has no rule-language counterpart."""


def _number(value: float) -> str:
    value = float(value)
    if not math.isfinite(value):
        raise FormulaError(f"non-finite constant {value}")
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(f"{value:.6g}"))


def round_constants(expr: sympy.Expr, digits: int = 3) -> sympy.Expr:
    """Round every float constant to ``digits`` significant digits; near-integers become ints."""
    def fix(x):
        v = float(x)
        if v == 0:
            return sympy.Integer(0)
        r = float(f"{v:.{digits}g}")
        if abs(r - round(r)) < 10 ** -(digits + 1) * max(1.0, abs(r)):
            return sympy.Integer(int(round(r)))
        return sympy.Float(r, digits + 2)
    return expr.xreplace({f: fix(f) for f in expr.atoms(sympy.Float)})


def tidy(expr: sympy.Expr) -> sympy.Expr:
    """Positive rescaling that keeps the sign (so the same seeds are kept) but reads better:
    ``c0 + c1 * g(x)`` with ``c1 > 0`` becomes ``g(x) + c0 / c1``."""
    expr = sympy.sympify(expr)
    symbols = expr.free_symbols
    if not symbols:
        return expr
    const, rest = expr.as_independent(*symbols, as_Add=True)
    coeff, core = rest.as_independent(*symbols, as_Add=False)
    if coeff.is_number and coeff > 0 and coeff != 1:
        return core + const / coeff
    return expr


def _rounded(expr: sympy.Expr) -> sympy.Expr:
    """Float constants as a rule file shows them: 6 significant digits, whole numbers as
    integers; a non-finite constant is refused."""
    def show(f):
        text = _number(f)
        return sympy.Integer(int(text)) if text.lstrip("-").isdigit() else sympy.Float(text, 15)
    return expr.xreplace({f: show(f) for f in expr.atoms(sympy.Float)})


def rule_program(expr: sympy.Expr, n_indices: int = MAX_INDICES) -> RuleProgram:
    """``def priority(seed, target): return <expr>`` as rule IR.  The columns that need a
    generator expression (numerator powers on ISPs) become local variables at the top, so that
    the returned line reads like the formula."""
    expr = _rounded(sympy.sympify(expr))
    uses = {s.name for s in expr.free_symbols}
    s_isp, s_lines = Var("s_isp", INT), Var("s_lines", INT)
    symbols = {}
    for name in uses:
        if name == "s_isp":
            symbols[name] = s_isp
        elif name == "s_lines":
            symbols[name] = s_lines
        else:
            try:
                symbols[name] = feature_node(name, n_indices)
            except KeyError as exc:
                raise FormulaError(str(exc.args[0])) from None
    try:
        body = from_sympy(expr, symbols)
    except ValueError as exc:
        raise FormulaError(f"{exc} (in {expr})") from None
    statements = []
    if uses & {"s_isp", "s_lines"}:
        statements.append(Assign("s_isp", feature_node("s_isp", n_indices)))
    if "s_lines" in uses:
        statements.append(Assign("s_lines", binary("sub", Feature("seed", "s"), s_isp)))
    return RuleProgram("priority", tuple(statements) + (Return(body),))


def to_rule_expression(expr: sympy.Expr) -> tuple[str, set]:
    """Rule-language text of the returned expression of :func:`rule_program`, and the column
    names it uses."""
    program = rule_program(expr)
    return (expression_text(program.body[-1].value, board=False),
            {s.name for s in sympy.sympify(expr).free_symbols})


def formula_text(expr: sympy.Expr) -> str:
    """A formula as people read it: the returned expression of :func:`rule_program` in board
    names by the one printer (``min(a, b)``, ``a3 ** 2``, ``s_target``; never sympy's
    ``Min(a, b)``), with ``s_isp``/``s_lines`` as the local names the rule file defines."""
    return expression_text(rule_program(expr).body[-1].value, board=True)


def rule_source(expr: sympy.Expr, header: list[str] | None = None) -> str:
    """A complete rule file ``def priority(seed, target): return <expr>``, printed by the one
    printer."""
    return program_source(rule_program(expr), header)


def simplest_between(lo: float, hi: float) -> float:
    """The number with the fewest significant digits strictly between ``lo`` and ``hi``
    (a readable threshold); the midpoint if none with up to 6 digits exists."""
    if not lo < hi:
        raise ValueError("need lo < hi")
    for digits in range(-6, 7):  # 10**6, 10**5, ..., 1, 0.1, ... 1e-6 as the step
        step = 10.0 ** -digits
        candidate = math.floor(lo / step + 1) * step
        candidate = round(candidate, max(digits, 0))
        if lo < candidate < hi:
            return candidate
    return (lo + hi) / 2


def positive_part_equivalent(expr: sympy.Expr) -> sympy.Expr:
    """An expression that is > 0 exactly where ``expr`` is > 0, with clamps removed.

    The rule keeps a seed when its priority is > 0, so only the sign matters:
    ``g + min(a, b) = min(a + g, b + g)``, ``-max(a, b) = min(-a, -b)``, ``min(a, b) > 0`` iff both are, ``max(a, b) > 0`` iff
    either is; a constant argument of ``min`` that is positive (of ``max`` that is not) never
    decides and goes; and each argument can be simplified on its own.
    """
    expr = tidy(sympy.sympify(expr))
    if not expr.free_symbols:
        return expr
    expr = _distribute_into_clamp(expr)
    if isinstance(expr, (sympy.Min, sympy.Max)):
        is_min = isinstance(expr, sympy.Min)
        args = []
        for a in expr.args:
            a = positive_part_equivalent(a)
            if a.is_number:
                if is_min and a > 0 or not is_min and not a > 0:
                    continue  # never decides
                return sympy.Integer(-1 if is_min else 1)  # decides for every seed
            args.append(a)
        if not args:
            return sympy.Integer(1 if is_min else -1)
        if len(args) == 1:
            return args[0]
        return expr.func(*args)
    return expr


def _distribute_into_clamp(expr: sympy.Expr) -> sympy.Expr:
    """``g + k * min(a, b)`` -> ``min(g + k a, g + k b)`` (``max`` for k < 0) when the sum has
    exactly one min/max term; otherwise ``expr`` unchanged."""
    terms = sympy.Add.make_args(expr)
    clamps = []
    for k, term in enumerate(terms):
        coeff, core = term.as_independent(*term.free_symbols, as_Add=False)
        if isinstance(core, (sympy.Min, sympy.Max)) and coeff.is_number and coeff != 0:
            clamps.append((k, coeff, core))
    if len(clamps) != 1:
        return expr
    k, coeff, core = clamps[0]
    rest = sympy.Add(*(t for j, t in enumerate(terms) if j != k))
    func = core.func if coeff > 0 else (sympy.Max if isinstance(core, sympy.Min) else sympy.Min)
    return func(*(rest + coeff * a for a in core.args), evaluate=False)
