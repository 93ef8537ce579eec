"""Loading rules: the allowed subset parses, every forbidden construct is named with its line."""

import textwrap

import pytest

from ibp_evolve.language.parse import (
    BOOL, FLOAT, INT, Generator, If, Reduce, Return, RuleError, load_rule, parse_rule,
)

IMPROVED_SEEDING = '''\
def keep(seed, target):
    # improved seeding (Kira 3): no more dots than the target, one numerator fewer per missing line
    return seed.d <= target.d and seed.s <= target.s - (target.t - seed.t)
'''


def _rule(body: str, header: str = "def keep(seed, target):") -> str:
    """A rule whose body (given without indentation) starts on line 3."""
    return f'"""Module docstring."""\n{header}\n' + textwrap.indent(textwrap.dedent(body), "    ")


def test_improved_seeding_loads_as_a_keep_rule():
    rule = load_rule(IMPROVED_SEEDING)
    assert rule.kind == "keep"
    assert rule.path is None and rule.source == IMPROVED_SEEDING
    assert rule.name.startswith("rule_")
    (statement,) = rule.program.body
    assert isinstance(statement, Return) and statement.value.type == BOOL


def test_rule_file_is_named_after_its_stem(tmp_path):
    path = tmp_path / "laporta.py"
    path.write_text("def keep(seed, target):\n    return seed.r <= target.r and "
                    "seed.s <= target.s\n")
    for spelling in (path, str(path)):
        rule = load_rule(spelling)
        assert rule.name == "laporta" and rule.path == str(path) and rule.kind == "keep"


def test_errors_in_rule_files_name_the_file(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("def keep(seed, target):\n    import os\n    return True\n")
    with pytest.raises(RuleError, match=r"bad\.py, line 2: import"):
        load_rule(path)


def test_the_full_allowed_subset_parses():
    source = _rule('''\
        """Priority: prefer few numerators; everything a physicist might write."""
        budget = target.s - seed.missing      # numerator budget
        budget += 1
        extra = sum(seed.numerators(i) for i in family.isps) + sum(seed.dots(i) for i in range(family.n))
        pairs = sum(1 for i in range(family.n) for j in range(i) if seed.lines(i) and seed.lines(j))
        if seed.d > target.d:
            return -1.0
        elif 0 <= seed.s <= budget and not any(x < -3 for x in seed.a):
            return 1 / (1 + seed.s) + (0.5 if family.is_isp(0) else 0) + pairs ** 2 * 1e-3
        else:
            x = max(seed.a[0], target.a[-1], abs(seed.r - target.r)) // 2 % 3
            return min(x, len(seed.a), extra, max(seed.a), min(target.a)) - seed.sector * 0
    ''', header="def priority(seed: int, target: int) -> float:")
    program = parse_rule(source)
    assert program.kind == "priority"
    assert program.docstring.startswith("Priority: prefer few numerators")
    assert isinstance(program.body[-1], If)


def test_static_types_join_across_paths():
    program = parse_rule(_rule('''\
        x = 1
        if seed.t > 2:
            x = 0.5
        return x
    '''))
    assert program.body[-1].value.type == FLOAT
    program = parse_rule(_rule('''\
        return (seed.t > 2) + sum(x > 0 for x in seed.a)
    '''))
    assert program.body[-1].value.type == INT
    gen_sum = program.body[-1].value.right
    assert isinstance(gen_sum, Reduce) and isinstance(gen_sum.source, Generator)


def test_unreachable_code_after_return_is_dropped():
    program = parse_rule(_rule('''\
        if seed.t > 2:
            return True
        else:
            return False
        return seed.r > 0
    '''))
    assert len(program.body) == 1


# (rule body starting on line 3, line of the error, fragment of the message)
FORBIDDEN = [
    ("import os\nreturn True", 3, "import statements are not allowed"),
    ("from math import floor\nreturn True", 3, "import statements are not allowed"),
    ("return seed.foo > 0", 3, "unknown feature 'seed.foo'"),
    ("x = 1\nreturn x.real > 0", 4, "attribute access '.real' is not allowed"),
    ("return seed.__class__", 3, "dunder attribute '__class__'"),
    ("x = __name__\nreturn True", 3, "dunder name '__name__'"),
    ("return open('f')", 3, "call to 'open' is not allowed"),
    ("return exec('1')", 3, "call to 'exec' is not allowed"),
    ("return eval('1')", 3, "call to 'eval' is not allowed"),
    ("return getattr(seed, 'r') > 0", 3, "call to 'getattr' is not allowed"),
    ("return __import__('os')", 3, "call to '__import__' is not allowed"),
    ("x = 0\nwhile x < 3:\n    x = x + 1\nreturn True", 4, "while loops are not allowed"),
    ("x = 0\nfor a in seed.a:\n    x = x + a\nreturn x > 0", 4,
     "for statements are not allowed: only generator expressions may loop"),
    ("f = lambda x: x\nreturn True", 3, "lambda expressions are not allowed"),
    ("def helper(x):\n    return x\nreturn True", 3, "nested function definitions are not allowed"),
    ("return keep(seed, target)", 3, "recursion is not allowed"),
    ("global x\nreturn True", 3, "global statements are not allowed"),
    ("nonlocal x\nreturn True", 3, "nonlocal statements are not allowed"),
    ("return seed.a[1:3] > 0", 3, "slices are not allowed"),
    ("return family.isps[0] > 0", 3, "subscripts are only allowed on seed.a[...] and target.a[...]"),
    ("return 'yes'", 3, "string constants are not allowed"),
    ("return None", 3, "None is not allowed"),
    ("return [x for x in seed.a]", 3, "list comprehensions are not allowed"),
    ("return [1, 2]", 3, "list literals are not allowed"),
    ("return (1, 2)", 3, "tuple literals are not allowed"),
    ("return seed.sector & 3", 3, "operator '&' is not allowed"),
    ("return ~seed.sector", 3, "operator '~' is not allowed"),
    ("return 1 in seed.a", 3, "'in' comparisons are not allowed"),
    ("return seed.r is 1", 3, "'is' comparisons are not allowed"),
    ("return (y := 3) > 0", 3, "assignment expressions (:=) are not allowed"),
    ("try:\n    x = 1\nexcept Exception:\n    x = 2\nreturn True", 3, "try statements are not allowed"),
    ("with seed:\n    pass\nreturn True", 3, "with statements are not allowed"),
    ("assert seed.r > 0\nreturn True", 3, "assert statements are not allowed"),
    ("raise ValueError\nreturn True", 3, "raise statements are not allowed"),
    ("x = 1\ndel x\nreturn True", 4, "del statements are not allowed"),
    ("class A:\n    pass\nreturn True", 3, "class definitions are not allowed"),
    ("x: int = 1\nreturn True", 3, "annotated assignments are not allowed"),
    ("seed.r = 3\nreturn True", 3, "only assignments to a single local name are allowed"),
    ("seed = 3\nreturn True", 3, "cannot assign to 'seed'"),
    ("seed.r + 1\nreturn True", 3, "expression statements have no effect"),
    ("return", 3, "return needs a value"),
    ("return max(seed.a, key=abs)", 3, "keyword arguments are not allowed"),
    ("return seed.r(1)", 3, "'seed.r' is not callable"),
    ("return sum(*seed.a)", 3, "starred expressions"),
    ("return f'{seed.r}'", 3, "f-strings are not allowed"),
    ("yield 1", 3, "yield is not allowed"),
    ("if seed.r > 2:\n    x = 1\nreturn x > 0", 5, "variable 'x' may be used before it is assigned"),
    ("return y > 0", 3, "name 'y' is not defined"),
    ("x = seed\nreturn True", 3, "'seed' can only be used through its attributes"),
    ("x = seed.a\nreturn True", 3, "seed.a can only be indexed"),
    ("return seed.lines > 0", 3, "seed.lines is a method"),
    ("return family.isps", 3, "family.isps can only be iterated over"),
    ("return range(3)", 3, "range(...) can only be iterated over"),
    ("return (x for x in seed.a)", 3, "a generator expression can only be passed to"),
    ("return len(x for x in seed.a)", 3, "len() of a generator expression is not allowed"),
    ("return max(seed.r) > 0", 3, "max() needs an iterable"),
    ("return sum(seed.a, 1) > 0", 3, "sum() takes exactly one iterable argument"),
    ("return sum(y for x in seed.a for y in x)", 3,
     "a generator expression can only iterate over seed.a, target.a, family.isps or range"),
    ("return sum(1 for x in range(100000))", 3, "range bound 100000 exceeds the limit 10000"),
    ("return seed.r ** 10", 3, "exponent 10 exceeds the limit 8"),
    ("return seed.a[0.5]", 3, "an index must be an integer, not a float"),
    ("return sum(1 for i in range(2.5))", 3, "a range() argument must be an integer"),
    ("return sum(1 for i in range(3) for j in range(3) for k in range(3) for l in range(3))", 3,
     "generator expressions may nest at most 3"),
    ("return 99999999999999999999 > 0", 3, "integer constant 99999999999999999999 is outside"),
    ("if seed.r > 2:\n    return True", 4, "the rule may finish without returning a value"),
    ("return seed.r >\n", 3, "syntax error"),
]


@pytest.mark.parametrize("body, line, fragment", FORBIDDEN, ids=[f[2][:40] for f in FORBIDDEN])
def test_forbidden_construct_is_rejected_with_its_line(body, line, fragment):
    with pytest.raises(RuleError) as info:
        load_rule(_rule(body))
    message = str(info.value)
    assert fragment in message
    assert message.startswith(f"line {line}:"), message
    assert info.value.lineno == line
    assert isinstance(info.value, ValueError)


def test_every_forbidden_construct_has_its_own_message():
    messages = set()
    for body, _, _ in FORBIDDEN:
        with pytest.raises(RuleError) as info:
            load_rule(_rule(body))
        messages.add(info.value.reason)
    # the two import forms share a message; every other construct has its own
    assert len(messages) == len(FORBIDDEN) - 1


@pytest.mark.parametrize("source, line, fragment", [
    ("def keep(seed, target):\n    return True\ndef helper(x):\n    return x\n", 3,
     "exactly one top-level function; found a second one, 'helper'"),
    ("def score(seed, target):\n    return 1.0\n", 1, "wrong signature"),
    ("def keep(target, seed):\n    return True\n", 1, "wrong signature: expected def keep"),
    ("def keep(seed, target, extra=1):\n    return True\n", 1, "wrong signature"),
    ("def keep(*args):\n    return True\n", 1, "wrong signature"),
    ("@cache\ndef keep(seed, target):\n    return True\n", 1, "decorators are not allowed"),
    ("import os\ndef keep(seed, target):\n    return True\n", 1, "import statements"),
    ("LIMIT = 3\ndef keep(seed, target):\n    return True\n", 1, "top-level statements"),
    ("x = 1\n", 1, "top-level statements"),
    ('"""Only a docstring."""\n', 1, "must define one function"),
    ("def keep(seed, target):\n  return True\n    x = 1\n", 3, "syntax error"),
    ("def keep(seed: str, target):\n    return True\n", 1, "annotations may only be"),
])
def test_rule_files_need_exactly_one_well_formed_function(source, line, fragment):
    with pytest.raises(RuleError) as info:
        load_rule(source)
    assert fragment in str(info.value)
    assert info.value.lineno == line


def test_oversized_rules_are_rejected():
    deep = "abs(" * 120 + "seed.r" + ")" * 120
    with pytest.raises(RuleError, match="nested too deeply"):
        load_rule(f"def keep(seed, target):\n    return {deep} > 0\n")
    long_sum = " + ".join(["seed.r"] * 3000)
    with pytest.raises(RuleError, match="nested too deeply"):
        load_rule(f"def keep(seed, target):\n    return {long_sum} > 0\n")
    many_lines = "".join(f"    x{k} = seed.r + {k}\n" for k in range(1000))
    with pytest.raises(RuleError, match="too large"):
        load_rule(f"def keep(seed, target):\n{many_lines}    return True\n")
