"""Formulas to rule files: a sympy expression over the label-table features becomes a
``def priority(seed, target)`` of the shared rule language (kept when > 0).

Only constructs the rule language has are printed: ``+ - * /``, integer powers, ``min``,
``max``, ``abs``, numeric constants and the features (``seed.r``, ``seed.a[3]``,
``target.s`` ...).  Features that need a generator expression (numerator powers on ISPs) become a
local variable at the top of the function, so that the returned line reads like a formula.
"""

from __future__ import annotations

import math

import sympy

from ibp_evolve.engines.symbolic.labels import ISP_NUMERATORS, feature_source

__all__ = ["FormulaError", "tidy", "round_constants", "to_rule_expression", "rule_source",
           "simplest_between"]


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


class _Printer:
    def __init__(self):
        self.uses = set()

    def __call__(self, e) -> str:
        return self.p(e)

    def p(self, e) -> str:
        if isinstance(e, sympy.Symbol):
            self.uses.add(e.name)
            return {"s_isp": "s_isp", "s_lines": "s_lines"}.get(e.name) or feature_source(e.name)
        if e.is_Integer:
            return str(int(e))
        if e.is_Rational:
            return f"({int(e.p)} / {int(e.q)})"
        if e.is_Float:
            return _number(e)
        if e in (sympy.S.Infinity, sympy.S.NegativeInfinity, sympy.S.NaN, sympy.zoo):
            raise FormulaError(f"non-finite value {e}")
        if isinstance(e, sympy.Add):
            terms = list(e.as_ordered_terms())
            out = self.p(terms[0])
            for t in terms[1:]:
                coeff, rest = t.as_coeff_Mul()
                if coeff.is_number and coeff < 0:
                    out += " - " + self.wrap(-t, "add")
                else:
                    out += " + " + self.wrap(t, "add")
            return out
        if isinstance(e, sympy.Mul):
            coeff, rest = e.as_coeff_Mul()
            if coeff.is_number and coeff < 0:
                return "-" + self.wrap(-e, "unary")
            num, den = [], []
            if coeff.is_Rational and not coeff.is_Integer:  # p/q: p on top, q below
                if coeff.p != 1:
                    num.append(sympy.Integer(coeff.p))
                den.append(sympy.Integer(coeff.q))
                e = rest
            for f in (e.as_ordered_factors() if isinstance(e, sympy.Mul) else [e]):
                base, ex = f.as_base_exp()
                if ex.is_number and ex < 0:
                    den.append(base if ex == -1 else sympy.Pow(base, -ex, evaluate=False))
                else:
                    num.append(f)
            top = " * ".join(self.wrap(f, "mul") for f in num) if num else "1"
            if not den:
                return top
            bottom = " * ".join(self.wrap(f, "mul") for f in den)
            return f"{top} / " + (f"({bottom})" if len(den) > 1 else self.wrap(den[0], "pow"))
        if isinstance(e, sympy.Pow):
            base, ex = e.args
            if ex.is_Integer and ex < 0:
                return f"1 / {self.wrap(sympy.Pow(base, -ex, evaluate=False), 'pow')}"
            if ex.is_Integer and abs(int(ex)) <= 8:
                return f"{self.wrap(base, 'pow')} ** {int(ex)}"
            if ex.is_number:
                return f"{self.wrap(base, 'pow')} ** {_number(float(ex))}"
            return f"{self.wrap(base, 'pow')} ** {self.wrap(ex, 'pow')}"
        if isinstance(e, (sympy.Min, sympy.Max)):
            name = "min" if isinstance(e, sympy.Min) else "max"
            return f"{name}(" + ", ".join(self.p(a) for a in e.args) + ")"
        if isinstance(e, sympy.Abs):
            return f"abs({self.p(e.args[0])})"
        raise FormulaError(f"'{type(e).__name__}' has no rule-language counterpart ({e})")

    def wrap(self, e, context: str) -> str:
        """``e`` as an operand: parenthesised unless Python's precedence makes that redundant."""
        text = self.p(e)
        if isinstance(e, sympy.Add):
            return text if context == "add" else f"({text})"
        if e.is_number:
            return text if not text.startswith("-") and "/" not in text else f"({text})"
        if context in ("add", "unary"):
            return text
        if isinstance(e, (sympy.Min, sympy.Max, sympy.Abs, sympy.Symbol)):
            return text
        if context == "mul":
            return f"({text})" if text.startswith("-") or " / " in text else text
        atomic = isinstance(e, (sympy.Symbol, sympy.Min, sympy.Max, sympy.Abs))
        return text if atomic and " " not in text else f"({text})"


def to_rule_expression(expr: sympy.Expr) -> tuple[str, set]:
    """Python text of ``expr`` in the rule language, and the feature names it uses."""
    printer = _Printer()
    return printer(sympy.sympify(expr)), printer.uses


def rule_source(expr: sympy.Expr, header: list[str] | None = None) -> str:
    """A complete rule file ``def priority(seed, target): return <expr>``."""
    body, uses = to_rule_expression(expr)
    lines = [f"# {h}" if h else "#" for h in (header or [])]
    lines.append("def priority(seed, target):")
    if "s_isp" in uses or "s_lines" in uses:
        lines.append(f"    s_isp = {ISP_NUMERATORS}  # numerator powers on ISPs")
    if "s_lines" in uses:
        lines.append("    s_lines = seed.s - s_isp  # numerator powers on absent lines")
    lines.append(f"    return {body}")
    return "\n".join(lines) + "\n"


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
