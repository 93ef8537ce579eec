"""Arithmetic from family files, suites and the command line, parsed without an evaluator.

Text a user hands us (a propagator, a kinematic value, a point on the command line) is data.
It is read by a grammar that knows only numbers, the names the caller declares, ``+ - * / ^``
(``**`` is accepted for ``^``) and round parentheses:

    sum      := product (("+" | "-") product)*
    product  := unary (("*" | "/") unary)*
    unary    := ("+" | "-")* power
    power    := atom [("^" | "**") exponent]        # no towers: a^b^c is refused
    exponent := [sign] INTEGER | "(" [sign] INTEGER ")"
    atom     := NUMBER | NAME | "(" sum ")"

so ``-x^2`` is ``-(x^2)`` and ``2^-1`` is one half.  Every name becomes ``sympy.Symbol(name)``:
``E``, ``I``, ``pi``, ``S`` or ``beta`` are symbols here, never sympy's constants or functions.
Numbers are exact (``0.25`` is 1/4, ``1e-3`` is 1/1000).

Nothing may hang: before sympy builds a node we bound its cost (number of terms once expanded,
size of its rational coefficients), and the text length, the parenthesis depth and exponents are
capped.  Every problem is an :class:`ExpressionError` naming the offending token and its column.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

from ibp_evolve.reducer.reconstruct.polynomials import evaluate

MAX_LENGTH = 10_000      # characters of one expression
MAX_DEPTH = 64           # nested parentheses
MAX_EXPONENT = 64        # |n| in x^n
MAX_TERMS = 10_000       # terms of the expression once fully expanded (an upper bound)
MAX_NUMBER_BITS = 4096   # log2 of the largest numerator or denominator (about 1,233 digits)

_NUMBER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = " \t\r\n"


class ExpressionError(ValueError):
    """Text that is not an expression of the grammar, or one over a cap; names token and column."""

    def __init__(self, problem: str, column: int | None = None):
        self.problem = problem
        self.column = column
        super().__init__(problem if column is None else f"{problem} at column {column}")


@dataclass(frozen=True)
class _Token:
    kind: str     # "number", "name", "op", "(", ")", "end"
    text: str
    column: int   # 1-based


@dataclass(frozen=True)
class _Cost:
    """Upper bounds on what sympy will hold once the node is expanded.

    ``terms`` bounds the number of monomials; ``bits`` bounds log2 of the height (the larger of
    |numerator| and denominator) of any rational coefficient.  Both only grow through the rules
    below, which are loose but sound, so a check on them is a check on the work ahead.
    """

    terms: int
    bits: float


def clip(text: str, width: int = 60) -> str:
    """User text as shown inside a one-line message: whitespace runs folded, long text cut."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _shown(token: str) -> str:
    """A token as it appears in a message."""
    return repr(clip(token, 24)) if token.strip() else repr(token)


def _tokens(text: str) -> list[_Token]:
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch in _SPACE:
            i += 1
            continue
        m = _NUMBER.match(text, i)
        if m:
            out.append(_Token("number", m.group(0), col))
            i = m.end()
            continue
        m = _NAME.match(text, i)
        if m:
            if m.group(0).startswith("_"):
                raise ExpressionError(
                    f"name {_shown(m.group(0))} starts with '_' (names start with a letter)", col)
            out.append(_Token("name", m.group(0), col))
            i = m.end()
            continue
        if text.startswith("**", i):
            out.append(_Token("op", "^", col))
            i += 2
            continue
        if ch in "+-*/^":
            out.append(_Token("op", ch, col))
        elif ch in "()":
            out.append(_Token(ch, ch, col))
        else:
            raise ExpressionError(f"unexpected character {_shown(ch)}{_why(ch)}", col)
        i += 1
    out.append(_Token("end", "", n + 1))
    return out


def _why(ch: str) -> str:
    if ch == ".":
        return " (attribute access is not allowed)"
    if ch in "[]{}":
        return " (only round parentheses group)"
    if ch in "'\"":
        return " (strings are not allowed)"
    if ch in ",;:=<>!&|~@%#\\`":
        return " (only numbers, names, + - * / ^ and parentheses)"
    return ""


class _SympyAlgebra:
    """Builds sympy nodes (the family files' symbols and polynomials)."""

    def __init__(self):
        import sympy  # imported on first use: a warm run parses only numbers (parse_number)
        self.sympy = sympy

    def number(self, value: Fraction):
        return self.sympy.Rational(value.numerator, value.denominator)

    def symbol(self, name: str):
        return self.sympy.Symbol(name)

    def add(self, terms):
        return self.sympy.Add(*terms)

    def mul(self, factors):
        return self.sympy.Mul(*factors)

    def power(self, base, n: int):
        return self.sympy.Pow(base, n)

    @staticmethod
    def is_zero(value) -> bool:
        return bool(value.is_zero)


class _FractionAlgebra:
    """Exact arithmetic on numbers alone (a point on the command line): no names, no sympy."""

    number = staticmethod(Fraction)  # names never reach it: none are declared or allowed

    @staticmethod
    def add(terms):
        return sum(terms, Fraction(0))

    @staticmethod
    def mul(factors):
        return math.prod(factors, start=Fraction(1))

    @staticmethod
    def power(base: Fraction, n: int):
        return base ** n

    @staticmethod
    def is_zero(value) -> bool:
        return value == 0


class Polynomial(dict):
    """An exact polynomial as plain data, ``{exponents over the declared names: Fraction}``:
    what a cached mapping constant or Symanzik coefficient becomes without sympy."""

    def __neg__(self):
        return Polynomial({e: -c for e, c in self.items()})

    def __add__(self, other):
        out = Polynomial(self)
        for e, c in other.items():
            total = out.get(e, 0) + c
            if total:
                out[e] = total
            else:
                out.pop(e, None)
        return out

    def __mul__(self, other):
        out = Polynomial()
        for e1, c1 in self.items():
            for e2, c2 in other.items():
                e = tuple(a + b for a, b in zip(e1, e2))
                total = out.get(e, 0) + c1 * c2
                if total:
                    out[e] = total
                else:
                    out.pop(e, None)
        return out

    def at(self, values) -> Fraction:
        """The exact value at ``values`` (one per name, in order)."""
        return evaluate(self, values)


class _PolynomialAlgebra:
    """Exact polynomials over the declared names (a constant of a cached mapping): no sympy."""

    def __init__(self, names):
        self.width = len(names)
        self.index = {name: i for i, name in enumerate(names)}

    def number(self, value: Fraction) -> Polynomial:
        return Polynomial({(0,) * self.width: value} if value else {})

    def symbol(self, name: str) -> Polynomial:  # only declared names reach here
        return Polynomial({tuple(int(i == self.index[name]) for i in range(self.width)):
                           Fraction(1)})

    @staticmethod
    def add(terms):
        out = Polynomial()
        for t in terms:
            out = out + t
        return out

    @staticmethod
    def mul(factors):
        out = factors[0]
        for f in factors[1:]:
            out = out * f
        return out

    def power(self, base: Polynomial, n: int) -> Polynomial:
        if n >= 0:
            out = self.number(Fraction(1))
            for _ in range(n):
                out = out * base
            return out
        constant = (0,) * self.width
        if set(base) != {constant}:
            raise ExpressionError("not a polynomial: division by an expression with names")
        return self.number(base[constant] ** n)

    @staticmethod
    def is_zero(value) -> bool:
        return not value


class _Parser:
    def __init__(self, text: str, names: dict, any_name: bool, allowed: str, algebra):
        self.algebra = algebra
        self.tokens = _tokens(text)
        self.pos = 0
        self.names = names
        self.any_name = any_name
        self.allowed = allowed
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse(self):
        tok = self.token
        if tok.kind == "end":
            raise ExpressionError("empty expression")
        expr, cost = self.sum()
        tok = self.token
        if tok.kind != "end":
            raise ExpressionError(_unexpected(tok, self.tokens[self.pos - 1]), tok.column)
        return expr, cost

    # -- grammar --------------------------------------------------------------------------------
    def sum(self):
        first, cost = self.product()
        terms, costs = [first], [cost]
        while self.token.kind == "op" and self.token.text in "+-":
            sign = self.advance().text
            term, cost = self.product()
            terms.append(-term if sign == "-" else term)
            costs.append(cost)
        if len(terms) == 1:
            return first, cost
        total = _Cost(terms=sum(c.terms for c in costs),
                      bits=sum(c.bits for c in costs) + math.log2(len(costs)))
        self.check(total, self.tokens[self.pos - 1])
        return self.algebra.add(terms), total

    def product(self):
        first, cost = self.unary()
        factors, costs = [first], [cost]
        while self.token.kind == "op" and self.token.text in "*/":
            op = self.advance()
            factor, cost = self.unary()
            if op.text == "/":
                if self.algebra.is_zero(factor):
                    raise ExpressionError("division by zero", op.column)
                factor = self.algebra.power(factor, -1)
            factors.append(factor)
            costs.append(cost)
        if len(factors) == 1:
            return first, cost
        total = _Cost(terms=math.prod(c.terms for c in costs), bits=sum(c.bits for c in costs))
        self.check(total, self.tokens[self.pos - 1])
        return self.algebra.mul(factors), total

    def unary(self):
        negate = False
        while self.token.kind == "op" and self.token.text in "+-":
            if self.advance().text == "-":
                negate = not negate
        expr, cost = self.power()
        return (-expr if negate else expr), cost

    def power(self):
        base, cost = self.atom()
        if not (self.token.kind == "op" and self.token.text == "^"):
            return base, cost
        caret = self.advance()
        n = self.exponent(caret)
        if self.token.kind == "op" and self.token.text == "^":
            raise ExpressionError("power tower (a^b^c) is not allowed; use parentheses and "
                                  "expand by hand", self.token.column)
        if n < 0 and self.algebra.is_zero(base):
            raise ExpressionError("division by zero (0 to a negative power)", caret.column)
        k = abs(n)
        # Monomials of degree k in `terms` variables: the most a multinomial expansion can hold.
        terms = math.comb(cost.terms + k - 1, k) if cost.terms > 1 else 1
        total = _Cost(terms=terms, bits=cost.bits * k)
        self.check(total, caret)
        return self.algebra.power(base, n), total

    def exponent(self, caret: _Token) -> int:
        parenthesised = self.token.kind == "("
        if parenthesised:
            self.advance()
        negative = False
        if self.token.kind == "op" and self.token.text in "+-":
            negative = self.advance().text == "-"
        tok = self.token
        if tok.kind != "number" or not tok.text.isdigit():
            what = "end of text" if tok.kind == "end" else _shown(tok.text)
            raise ExpressionError(f"exponent must be an integer, got {what} after '^'",
                                  tok.column)
        self.advance()
        if parenthesised:
            if self.token.kind != ")":
                raise ExpressionError("exponent must be a single integer such as ^2 or ^(-1)",
                                      self.token.column)
            self.advance()
        if len(tok.text.lstrip("0")) > 4 or int(tok.text) > MAX_EXPONENT:
            raise ExpressionError(f"exponent {_shown(tok.text)} exceeds the cap of "
                                  f"{MAX_EXPONENT} (MAX_EXPONENT)", tok.column)
        n = int(tok.text)
        return -n if negative else n

    def atom(self):
        tok = self.token
        if tok.kind == "number":
            self.advance()
            value = _number(tok)
            return self.algebra.number(value), _Cost(terms=1, bits=_height_bits(value))
        if tok.kind == "name":
            self.advance()
            if self.token.kind == "(":
                raise ExpressionError(f"function call {tok.text}(...) is not allowed",
                                      self.token.column)
            symbol = self.names.get(tok.text)
            if symbol is None:
                if not self.any_name:
                    raise ExpressionError(f"unknown name {_shown(tok.text)} "
                                          f"(allowed: {self.allowed})", tok.column)
                symbol = self.names[tok.text] = self.algebra.symbol(tok.text)
            return symbol, _Cost(terms=1, bits=0.0)
        if tok.kind == "(":
            self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExpressionError(f"parentheses nested deeper than {MAX_DEPTH} "
                                      "(MAX_DEPTH)", tok.column)
            expr, cost = self.sum()
            if self.token.kind != ")":
                close = self.token
                what = "end of text" if close.kind == "end" else _shown(close.text)
                raise ExpressionError(f"'(' opened at column {tok.column} is not closed, "
                                      f"found {what}", close.column)
            self.advance()
            self.depth -= 1
            return expr, cost
        if tok.kind == "end":
            raise ExpressionError("expression ends where a number, name or '(' is expected",
                                  tok.column)
        raise ExpressionError(f"unexpected {_shown(tok.text)} where a number, name or '(' is "
                              "expected", tok.column)

    @staticmethod
    def check(cost: _Cost, at: _Token):
        if cost.terms > MAX_TERMS:
            raise ExpressionError(f"expression would expand to more than {MAX_TERMS} terms "
                                  "(MAX_TERMS)", at.column)
        if cost.bits > MAX_NUMBER_BITS:
            raise ExpressionError(f"numbers would exceed {MAX_NUMBER_BITS} bits "
                                  "(MAX_NUMBER_BITS)", at.column)


def _unexpected(tok: _Token, previous: _Token) -> str:
    if tok.kind == ")":
        return "unbalanced ')'"
    if tok.kind in ("name", "number", "(") and previous.kind in ("name", "number", ")"):
        return f"missing operator between {_shown(previous.text)} and {_shown(tok.text)}"
    return f"unexpected {_shown(tok.text)}"


def _number(tok: _Token) -> Fraction:
    """A decimal literal as an exact fraction, refusing literals over the size cap."""
    m = _NUMBER.fullmatch(tok.text)
    mantissa, exp_text = m.group(1), m.group(2)
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    scale = int(exp_text[1:]) if exp_text and len(exp_text) <= 8 else 0
    # Check the sizes before Python builds the integers: 10^k has 3.32 k bits.
    numerator_digits = len(digits) + max(scale, 0)
    denominator_digits = max(len(frac) - scale, 0)
    if (exp_text and len(exp_text) > 8) or max(numerator_digits, denominator_digits) \
            * math.log2(10) > MAX_NUMBER_BITS + 4:
        raise ExpressionError(f"number {_shown(tok.text)} exceeds {MAX_NUMBER_BITS} bits "
                              "(MAX_NUMBER_BITS)", tok.column)
    value = Fraction(int(digits or "0"), 10 ** len(frac)) * Fraction(10) ** scale
    if _height_bits(value) > MAX_NUMBER_BITS:
        raise ExpressionError(f"number {_shown(tok.text)} exceeds {MAX_NUMBER_BITS} bits "
                              "(MAX_NUMBER_BITS)", tok.column)
    return value


def _height_bits(value: Fraction) -> float:
    height = max(abs(value.numerator), value.denominator)
    return float(height.bit_length() - 1) if height > 1 else 0.0


def parse_expression(text: str, names: Iterable[str] = (), *, any_name: bool = False):
    """Parse ``text`` into a sympy expression over the given names.

    ``names`` are the identifiers the caller declares (momenta, symbols); with ``any_name`` every
    other identifier is accepted too, as a new symbol (a mass in a propagator, a kinematic
    symbol).  Raises :class:`ExpressionError`.
    """
    algebra = _SympyAlgebra()
    sympy = algebra.sympy
    declared = {name: sympy.Symbol(name) for name in names}
    allowed = ", ".join(declared) or "no names, only numbers"
    expr = _parse(text, declared, any_name, allowed, algebra)
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise ExpressionError("division by zero")
    return expr


def parse_number(text: str) -> Fraction:
    """An exact rational from arithmetic on numbers only (``-17/3``, ``0.25``, ``2^10``).
    Pure Fraction arithmetic: reading a point never imports sympy."""
    return _parse(text, {}, False, "no names, only numbers", _FractionAlgebra())


def parse_polynomial(text: str, names: Iterable[str]) -> Polynomial:
    """An exact polynomial over ``names`` (their order fixes the exponent positions), with
    rational coefficients; division only by numbers.  Pure Fraction arithmetic, no sympy."""
    names = tuple(names)
    algebra = _PolynomialAlgebra(names)
    declared = {name: algebra.symbol(name) for name in names}
    return _parse(text, declared, False, ", ".join(names) or "no names, only numbers", algebra)


def _parse(text: str, declared: dict, any_name: bool, allowed: str, algebra):
    if not isinstance(text, str):
        raise ExpressionError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression of {len(text)} characters exceeds the cap of "
                              f"{MAX_LENGTH} (MAX_LENGTH)")
    expr, _ = _Parser(text, declared, any_name, allowed, algebra).parse()
    return expr
