"""The expression grammar: numbers, declared names, + - * / ^ and parentheses, nothing else."""

import ast
import re
import tomllib
from fractions import Fraction

import pytest
import sympy
from sympy.parsing.sympy_parser import parse_expr

from ibp_evolve.reducer import expressions
from ibp_evolve.reducer.expressions import ExpressionError, parse_expression, parse_number
from ibp_evolve.reducer.family import builtin_names, load_family

s, t, k, p = sympy.symbols("s t k p")


@pytest.mark.parametrize("text, expected", [
    ("(k+p)^2 - s", (k + p) ** 2 - s),
    ("(k+p)**2", (k + p) ** 2),
    ("-(s+t)/2", -(s + t) / 2),
    ("-s^2", -(s ** 2)),                  # unary minus binds looser than the power
    ("s^-1", 1 / s),
    ("s^(-2)", s ** -2),
    ("2^-1", sympy.Rational(1, 2)),
    ("s/t/2", s / (2 * t)),               # left to right
    ("s - t - 1", s - t - 1),
    ("0.25*s", s / 4),                     # decimals are exact
    ("1e-3", sympy.Rational(1, 1000)),
    ("2.5E2", sympy.Integer(250)),
    (".5 + 1.", sympy.Rational(3, 2)),
    ("--s", s),
    (" s\t*\nt ", s * t),
    ("((((s))))", s),
])
def test_arithmetic_reads_as_a_physicist_writes_it(text, expected):
    assert sympy.expand(parse_expression(text, ["s", "t", "k", "p"]) - expected) == 0


def test_every_name_is_a_plain_symbol_whatever_sympy_calls_it():
    names = ["E", "I", "pi", "oo", "nan", "zoo", "S", "N", "Q", "beta", "gamma", "lambda",
             "exp", "sqrt", "Integer", "Symbol"]
    expr = parse_expression(" + ".join(names), names)
    assert expr.free_symbols == {sympy.Symbol(n) for n in names}
    assert not expr.atoms(sympy.NumberSymbol) and not expr.has(sympy.I, sympy.oo, sympy.nan)
    assert parse_expression("E^2 - 1", any_name=True).subs(sympy.Symbol("E"), 3) == 8


def test_undeclared_names_are_refused_unless_any_name_is_allowed():
    with pytest.raises(ExpressionError, match=r"unknown name 'u' \(allowed: s, t\) at column 3"):
        parse_expression("s+u", ["s", "t"])
    with pytest.raises(ExpressionError, match=r"unknown name 's' \(allowed: no names"):
        parse_expression("s")
    assert parse_expression("s+u", ["s"], any_name=True).free_symbols == {s, sympy.Symbol("u")}


@pytest.mark.parametrize("text, words, column", [
    ("eval(chr(111))*0", "function call eval(...)", 5),
    ("factorial(10^9)", "function call factorial(...)", 10),
    ("(s).subs(s)", "'.' (attribute access", 4),
    ("s.__class__", "'.' (attribute access", 2),
    ("__import__", "starts with '_'", 1),
    ("lambda: 0", "':'", 7),
    ("lambda x", "missing operator between 'lambda' and 'x'", 8),
    ("[s]", "'[' (only round parentheses", 1),
    ("{s}", "'{' (only round parentheses", 1),
    ("'s'", "strings are not allowed", 1),
    ("s, t", "','", 2),
    ("s == t", "'='", 3),
    ("s!", "'!'", 2),
    ("s @ t", "'@'", 3),
    ("2 s", "missing operator between '2' and 's'", 3),
    ("2s", "missing operator between '2' and 's'", 2),
    ("(s)(t)", "missing operator between ')' and '('", 4),
    ("s)", "unbalanced ')'", 2),
    ("((s)", "'(' opened at column 1 is not closed, found end of text", 5),
    ("(s]", "']'", 3),
    ("s +", "expression ends where a number", 4),
    ("* s", "unexpected '*'", 1),
    ("", "empty expression", None),
    ("   ", "empty expression", None),
    ("1.2.3", "missing operator between '1.2' and '.3'", 4),
    ("s^t", "exponent must be an integer, got 't'", 3),
    ("s^1.5", "exponent must be an integer, got '1.5'", 3),
    ("s^(1/2)", "exponent must be a single integer", 5),
    ("s^^2", "exponent must be an integer, got '^'", 3),
    ("s**", "exponent must be an integer, got end of text", 4),
    ("s ∈ t", "'∈'", 3),
    ("s\x00", "'\\x00'", 2),
])
def test_anything_else_is_an_error_naming_the_token_and_column(text, words, column):
    with pytest.raises(ExpressionError) as err:
        parse_expression(text, ["s", "t", "x", "lambda"])
    assert words in str(err.value)
    assert err.value.column == column
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, words", [
    ("9^9^9^9", "power tower"),
    ("s^2^3", "power tower"),
    ("s^65", "exponent '65' exceeds the cap of 64 (MAX_EXPONENT)"),
    ("s^-99999999999999999999", "exceeds the cap of 64"),
    ("((2^64)^64)^64", "numbers would exceed 4096 bits (MAX_NUMBER_BITS)"),
    ("9" * 1300, "exceeds 4096 bits (MAX_NUMBER_BITS)"),
    ("0." + "0" * 1300 + "1", "exceeds 4096 bits"),
    ("1e999999999", "exceeds 4096 bits"),
    ("1e-999999999", "exceeds 4096 bits"),
    ("(s+t+k+p)^64", "more than 10000 terms (MAX_TERMS)"),
    ("(s+t)^40*(s-t)^40*(k+p)^40", "more than 10000 terms"),
    ("(" * 65 + "s" + ")" * 65, "nested deeper than 64 (MAX_DEPTH)"),
    ("s+" * 5000 + "s", "exceeds the cap of 10000 (MAX_LENGTH)"),
    ("1/0", "division by zero"),
    ("s/(t-t)", "division by zero"),
    ("0^-1", "division by zero"),
    ("(s-s)^(-3)", "division by zero"),
])
def test_caps_refuse_work_that_would_hang_and_name_the_cap(text, words):
    with pytest.raises(ExpressionError, match=re.escape(words)):
        parse_expression(text, ["s", "t", "k", "p"])


def test_values_up_to_the_caps_are_exact():
    assert parse_expression("(2^64)^64") == sympy.Integer(2) ** 4096
    assert parse_expression("s^64", ["s"]) == s ** 64
    assert len(sympy.expand(parse_expression("(s+t)^64", ["s", "t"])).args) == 65
    long_sum = "+".join(["s"] * 4000)  # 7,999 characters, one term once expanded
    assert parse_expression(long_sum, ["s"]) == 4000 * s
    assert parse_expression("(" * 64 + "s" + ")" * 64, ["s"]) == s


def test_parse_number_gives_exact_fractions():
    assert parse_number("-17/3") == Fraction(-17, 3)
    assert parse_number("0.125") == Fraction(1, 8)
    assert parse_number("2^10 - 1e2") == Fraction(924)
    with pytest.raises(ExpressionError, match="unknown name 's'"):
        parse_number("s")


def test_nothing_in_the_module_reaches_an_evaluator():
    tree = ast.parse(open(expressions.__file__).read())
    called = {node.func.id if isinstance(node.func, ast.Name) else node.func.attr
              for node in ast.walk(tree) if isinstance(node, ast.Call)
              and isinstance(node.func, (ast.Name, ast.Attribute))}
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not called & {"eval", "exec", "sympify", "S", "parse_expr", "lambdify"}
    assert not any(m and "parsing" in m for m in imported)


@pytest.mark.parametrize("name", builtin_names())
def test_the_grammar_agrees_with_sympy_on_every_builtin_family_expression(name):
    """On our own (trusted) family files sympy's parser is a fair reference."""
    family = load_family(name)
    names = family.momenta + family.symbols
    texts = list(family.propagators) + [
        str(v) for v in tomllib.loads(family.source).get("kinematics", {}).values()]
    for text in texts:
        ours = parse_expression(text, names)
        local = {n: sympy.Symbol(n) for n in names}
        reference = parse_expr(text.replace("^", "**"), local_dict=local)
        assert sympy.expand(ours - reference) == 0, text


def test_a_polynomial_reads_exactly_without_sympy_and_evaluates_at_a_point():
    # the constants of cached sector mappings: read at reduction time by this grammar alone
    from ibp_evolve.reducer.expressions import parse_polynomial
    poly = parse_polynomial("(s - 2*t)^2/4 - s**2/4 + 3/2", ["s", "t"])
    assert poly == {(1, 1): -1, (0, 2): 1, (0, 0): Fraction(3, 2)}
    assert poly.at([Fraction(5, 7), 3]) == Fraction(-15, 7) + 9 + Fraction(3, 2)
    assert parse_polynomial("s - s", ["s"]) == {} and parse_polynomial("(s-s)^0", ["s"]) == {
        (0,): 1}
    with pytest.raises(ExpressionError, match="not a polynomial"):
        parse_polynomial("1/s", ["s"])
    with pytest.raises(ExpressionError, match="unknown name 'm'"):
        parse_polynomial("s + m", ["s"])
