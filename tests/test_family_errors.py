"""Every kind of bad family file gets a FamilyError naming the key and the problem."""

import re
from fractions import Fraction

import pytest

from ibp_evolve.reducer.family import FamilyError, builtin_names, load_family, parse_family

GOOD = '''
name = "bubble"
loop_momenta = ["k"]
external_momenta = ["p"]
propagators = ["k^2", "(k+p)^2"]
[kinematics]
"p^2" = "s"
'''


def top(extra: str) -> str:
    """GOOD with top-level keys added (before the kinematics table)."""
    return GOOD.replace("[kinematics]", extra + "\n[kinematics]")


def test_the_good_file_loads():
    fam = parse_family(GOOD)
    assert fam.n == 2 and fam.symbols == ("s",) and fam.parameters == ("d", "s")


def test_all_builtin_families_load():
    assert set(builtin_names()) >= {"bubble", "tadpole", "box", "kite", "sunrise",
                                    "triangle_box", "double_box"}
    for name in builtin_names():
        assert load_family(name).name == name


@pytest.mark.parametrize("text, key, words", [
    (GOOD.replace('name = "bubble"', ''), "name", "missing"),
    (top('colour = "red"\n'), "colour", "unknown key"),
    (GOOD.replace('"(k+p)^2"', '"(k+p)^3"'), "propagators[1]", "not quadratic"),
    (GOOD.replace('"(k+p)^2"', '"(k+q)^2"'), "propagators[1]", "unknown momentum 'q'"),
    (GOOD.replace('"(k+p)^2"', '"k^2"'), "propagators[1]", "duplicates"),
    (GOOD.replace('"(k+p)^2"', '"k*p + msq*k"'), "propagators[1]", "unknown momentum"),
    (GOOD.replace('"(k+p)^2"', '"p^2"'), "propagators[1]", "does not depend on any loop"),
    (GOOD.replace('"(k+p)^2"', '"(k+p)^2 + open(1)"'), "propagators[1]", "function call open(...)"),
    (GOOD.replace('"(k+p)^2"', '"k.__class__"'), "propagators[1]", "not allowed"),
    (GOOD.replace('"(k+p)^2"', '"(k+p)^2", "(k-p)^2"'), "propagators", "need exactly 2"),
    (GOOD.replace('"p^2" = "s"', ''), "kinematics", "missing scalar product(s) p^2"),
    (GOOD + '"q^2" = "t"\n', 'kinematics."q^2"', "unknown external momentum 'q'"),
    (GOOD + '"k*p" = "t"\n', 'kinematics."k*p"', "is a loop momentum"),
    (GOOD + '"p*p" = "t"\n', 'kinematics."p*p"', "same scalar product"),
    (GOOD.replace('"p^2" = "s"', '"p^2" = "1/s"'), 'kinematics."p^2"', "polynomial"),
    (GOOD.replace('"p^2" = "s"', '"p^2" = "k"'), 'kinematics."p^2"', "momentum"),
    (top('isps = [3]\n'), "isps", "outside 1..2"),
    (top('isps = [1, 1]\n'), "isps", "repeat"),
    (top('lorentz_invariance = "yes"\n'), "lorentz_invariance", "true or false"),
    (top('preferred_masters = [[1, 1, 1]]\n'), "preferred_masters[0]", "2 integers"),
    (GOOD.replace('external_momenta = ["p"]', 'external_momenta = ["p", "k"]'),
     "external_momenta", "also listed in loop_momenta"),
    (top('dimension = "s s"\n'), "dimension", "symbol name"),
    ("name = [", None, "not valid TOML"),
])
def test_bad_family_files_name_the_key_and_problem(text, key, words):
    with pytest.raises(FamilyError) as err:
        parse_family(text, origin="bad.toml")
    message = str(err.value)
    assert "bad.toml" in message
    if key:
        assert f"key '{key}'" in message
    assert words in message


def test_propagators_that_do_not_span_the_scalar_products_are_rejected():
    text = '''
name = "broken"
loop_momenta = ["k1", "k2"]
external_momenta = ["p"]
propagators = ["k1^2", "k2^2", "(k1+p)^2", "(k2+p)^2", "(k1+p)^2 - m"]
[kinematics]
"p^2" = "s"
'''
    with pytest.raises(FamilyError, match="do not span the loop-dependent scalar products"):
        parse_family(text)


def test_a_positive_power_on_an_isp_is_rejected_in_targets_and_preferred_masters():
    fam = load_family("sunrise")
    with pytest.raises(FamilyError, match="position 4 is an ISP"):
        fam.check_integral([1, 1, 1, 1, 0])
    with pytest.raises(FamilyError, match="positive power on an ISP"):
        parse_family(fam.source.replace("[kinematics]",
                                        "preferred_masters = [[1, 1, 1, 1, 0]]\n[kinematics]"))


def test_unknown_family_names_list_the_builtin_ones(tmp_path):
    with pytest.raises(FamilyError, match="unknown family 'nope'.*triangle_box"):
        load_family("nope")
    with pytest.raises(FamilyError, match="does not exist"):
        load_family(tmp_path / "missing.toml")


def test_a_user_family_file_loads_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD.replace('"bubble"', '"my_bubble"'))
    assert load_family(path).name == "my_bubble"


def test_lorentz_invariance_identity_counts():
    from ibp_evolve.reducer.templates import templates
    counts = {name: sum(n.startswith("LI") for n in templates(load_family(name)).names)
              for name in ("bubble", "triangle_box", "box")}
    assert counts == {"bubble": 0, "triangle_box": 1, "box": 3}
    assert len(templates(load_family("triangle_box")).names) == 9  # 8 IBP + 1 LI


def test_preferred_masters_that_are_not_a_basis_are_rejected():
    from ibp_evolve.reducer.masters import family_masters
    both = parse_family(top("preferred_masters = [[1, 1], [2, 1]]\n"), origin="both.toml")
    with pytest.raises(FamilyError, match="not a basis.*reducible to others"):
        family_masters(both, use_cache=False)
    other = parse_family(top("preferred_masters = [[2, 1]]\n"), origin="other.toml")
    assert family_masters(other, use_cache=False) == [(2, 1)]  # a valid alternative basis


def test_preferred_masters_valid_only_under_sector_symmetries_are_named_as_such():
    """The equal-mass bubble's I(0,1) maps onto I(1,0): [I(2,1), I(1,0)] is a basis with
    sector symmetries, yet a reduction (symmetries on) needs the basis without them too, and
    'further masters needed: [(0, 1)]' alone read as a wrong claim."""
    from ibp_evolve.reducer.masters import family_masters
    massive = GOOD.replace('"k^2", "(k+p)^2"', '"k^2 - msq", "(k+p)^2 - msq"')
    family = parse_family(massive.replace("[kinematics]", "preferred_masters = [[2, 1], [1, 0]]"
                                          "\n[kinematics]"), origin="mirror.toml")
    assert family_masters(family, use_cache=False, symmetries=True) == [(1, 0), (2, 1)]
    with pytest.raises(FamilyError, match=r"not a basis of master integrals without sector "
                                          r"symmetries.*further masters needed: \[\(0, 1\)\]"):
        family_masters(family, use_cache=False)


# -- a family file is data: hostile and malformed files ------------------------------------------

def _payload(path) -> str:
    """Python that creates `path` when evaluated, spelled with chr() to pass a character filter."""
    code = f"open({str(path)!r}, 'w').write('x')"
    return "eval(" + "+".join(f"chr({ord(c)})" for c in code) + ")*0"


def _family(propagator: str = "(k+p)^2", kinematic: str = '"s"') -> str:
    return GOOD.replace('"(k+p)^2"', f'"{propagator}"').replace('"p^2" = "s"',
                                                                  f'"p^2" = {kinematic}')


def _loops(n_loops: int, n_external: int) -> str:
    """A family with every k_i^2, (k_i-k_j)^2 and (k_i+p_e)^2: L(L+1)/2 + L*E propagators."""
    ks = [f"k{i + 1}" for i in range(n_loops)]
    ps = [f"p{e + 1}" for e in range(n_external)]
    props = [f"{a}^2" for a in ks]
    props += [f"({a}-{b})^2" for i, a in enumerate(ks) for b in ks[i + 1:]]
    props += [f"({a}+{q})^2" for a in ks for q in ps]
    kin = "".join(f'"{a}*{b}" = "s{i}{j}"\n' for i, a in enumerate(ps)
                  for j, b in enumerate(ps) if i <= j)
    quoted = lambda names: "[" + ", ".join(f'"{n}"' for n in names) + "]"  # noqa: E731
    return (f'name = "big"\nloop_momenta = {quoted(ks)}\nexternal_momenta = {quoted(ps)}\n'
            f'propagators = {quoted(props)}\n[kinematics]\n{kin}')


HOSTILE = [
    # (file content, key named in the error, words in the error)
    (_family("k^2 + (m).subs(m)"), "propagators[1]", "attribute access"),
    (_family("k.__class__"), "propagators[1]", "attribute access"),
    (_family("k^2 + __import__"), "propagators[1]", "starts with '_'"),
    (_family("(k+p)^2 - (lambda: 0)()"), "propagators[1]", "':'"),
    (_family("(k+p)^2 + open(1)"), "propagators[1]", "function call open(...)"),
    (_family("(k+p)^2 - " + "9" * 5000), "propagators[1]", "MAX_NUMBER_BITS"),
    (_family("(k+p)^2 - 9^9^9^9"), "propagators[1]", "power tower"),
    (_family("(k+p)^2 - m^100"), "propagators[1]", "MAX_EXPONENT"),
    (_family("(k+p)^2 - (m1+m2+m3+m4)^64"), "propagators[1]", "MAX_TERMS"),
    (_family("(k+p)^2 - " + "(" * 80 + "m" + ")" * 80), "propagators[1]", "MAX_DEPTH"),
    (_family("(k+p)^2 - " + "m+" * 6000 + "m"), "propagators[1]", "MAX_LENGTH"),
    (_family("((k+p)^2"), "propagators[1]", "not closed"),
    (_family("(k+p))^2"), "propagators[1]", "unbalanced ')'"),
    (_family("(k+p)^2 - m/0"), "propagators[1]", "division by zero"),
    (_family("(k+q)^2"), "propagators[1]", "unknown momentum 'q'"),
    (_family(kinematic='"factorial(10^9)"'), 'kinematics."p^2"', "function call factorial"),
    (_family(kinematic='"s^-1"'), 'kinematics."p^2"', "polynomial"),
    (_family(kinematic="inf"), 'kinematics."p^2"', "expression string, got inf"),
    (_family(kinematic="nan"), 'kinematics."p^2"', "expression string, got nan"),
    (_family(kinematic='"[s]"'), 'kinematics."p^2"', "only round parentheses"),
    (top('preferred_masters = [[99, 1]]\n'), "preferred_masters[0]", "MAX_INDEX"),
    (_loops(5, 1), "external_momenta", "need 20 propagators"),
    (_loops(3, 4), "external_momenta", "over the cap of 16 (MAX_PROPAGATORS)"),
    (GOOD.replace('["k^2", "(k+p)^2"]', str(["k^2"] * 17).replace("'", '"')), "propagators",
     "17 propagators given, over the cap of 16"),
    ("x = " + "[" * 100_000 + "]" * 100_000, None, "nested too deeply"),
]


@pytest.mark.parametrize("text, key, words", HOSTILE)
def test_hostile_and_malformed_family_files_are_one_line_errors(tmp_path, text, key, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(FamilyError) as err:
        load_family(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message and len(message) < 400
    if key:
        assert f"key '{key}'" in message
    assert words in message


def test_a_family_file_cannot_run_code_directly_or_through_a_suite_or_the_command_line(
        tmp_path, capsys):
    from ibp_evolve.cli.main import main
    from ibp_evolve.judge.suites import SuiteError, load_suite

    created = tmp_path / "created_by_the_family_file"
    family = tmp_path / "evil.toml"
    family.write_text(_family("(k+p)^2 + " + _payload(created)))
    with pytest.raises(FamilyError, match="function call eval"):
        load_family(family)
    suite = tmp_path / "suite.toml"
    suite.write_text('family = "evil.toml"\ntargets = [[1, 1]]\n')
    with pytest.raises(SuiteError, match="key 'family'.*function call eval"):
        load_suite(suite)
    assert main(["reduce", str(family), "--target", "1,1"]) == 2
    err = capsys.readouterr().err
    assert "function call eval" in err and err.count("\n") == 1
    assert not created.exists()


@pytest.mark.parametrize("raw, words", [
    (b"\xef\xbb\xbf" + GOOD.encode(), "byte-order mark"),
    (GOOD.replace("bubble", "b\xfcbble").encode("latin-1"), "is not UTF-8 text (byte 10)"),
    (GOOD.encode() + b"# " + b"x" * (1 << 20), "is over the cap of 1048576 bytes (MAX_FILE_BYTES)"),
])
def test_files_that_are_not_small_utf8_text_are_one_line_errors(tmp_path, raw, words):
    path = tmp_path / "odd.toml"
    path.write_bytes(raw)
    with pytest.raises(FamilyError, match=re.escape(words)):
        load_family(path)


# -- names sympy knows are plain symbols in a family ---------------------------------------------

@pytest.mark.parametrize("name", ["E", "a1"])
def test_a_tadpole_whose_mass_is_named_E_or_a1_obeys_the_tadpole_recursion(name):
    """I(a+1)/I(a) = (d/2 - a)/(a msq) with msq called E (a sympy constant elsewhere) or a1
    (the reducer's index symbols are private; a shared Symbol("a1") broke template
    derivation): I(2) = (d/2 - 1)/msq I(1)."""
    from ibp_evolve.reducer.exact import reduce_exact

    renamed = parse_family(load_family("tadpole").source.replace("msq", name))
    assert renamed.symbols == (name,)
    result = reduce_exact(renamed, [(2,)], {"d": Fraction(17, 3), name: Fraction(5, 7)})
    (target,) = result["targets"]
    assert target["reduced"]
    assert target["coefficients"] == [{"master": [1], "value": str(
        (Fraction(17, 6) - 1) / Fraction(5, 7))}]


def test_a_bubble_with_a_line_of_mass_x2_keeps_its_tadpole_sector():
    """The Feynman parameters x1..xN of zero-sector detection are private too.  In the bubble
    with propagators k^2 - x2 and (k+p)^2, p^2 = x1, sector 01 is a massive tadpole, not zero
    (a shared Symbol("x2") put the mass term x2 x1^2 outside the sector and called it
    scaleless), and every reduction matches the same family with the names msq and s."""
    from ibp_evolve.reducer.exact import reduce_exact
    from ibp_evolve.reducer.sectors import zero_sectors

    text = GOOD.replace('"k^2"', '"k^2 - {m}"').replace('"s"', '"{s}"')
    plain = parse_family(text.format(m="msq", s="s").replace('"bubble"', '"plain"'))
    named = parse_family(text.format(m="x2", s="x1").replace('"bubble"', '"named"'))
    assert zero_sectors(named, use_cache=False) == zero_sectors(plain, use_cache=False) \
        == {0b00, 0b10}
    values = {"d": Fraction(17, 3), "s": Fraction(5, 7), "msq": Fraction(-3, 11)}
    targets = [(2, 1), (1, 2), (3, 0)]
    expected = reduce_exact(plain, targets, values)
    got = reduce_exact(named, targets, {"d": values["d"], "x1": values["s"],
                                        "x2": values["msq"]})
    assert got["masters"] == expected["masters"] == [[1, 0], [1, 1]]
    assert got["targets"] == expected["targets"]

TRIANGLE = '''
name = "{name}"
loop_momenta = ["k"]
external_momenta = ["p1", "p2"]
propagators = ["k^2 - {m1}", "(k+p1)^2 - {m2}", "(k+p1+p2)^2 - {m3}"]
[kinematics]
"p1^2" = "{s1}"
"p2^2" = "{s2} + {u}"
"p1*p2" = "{q}*{b} - {g}*{c}"
'''


def test_symbols_named_like_sympy_constants_reduce_like_plain_names():
    """A massive triangle with symbols E, I, pi, S, N, oo, Q, beta, gamma, nan reduces at a point
    exactly as the same triangle with plain names at the same values."""
    from ibp_evolve.reducer.exact import reduce_exact

    sympy_names = dict(m1="E", m2="I", m3="pi", s1="S", s2="N", u="oo", q="Q", b="beta",
                       g="gamma", c="nan")
    plain = {key: key for key in sympy_names}
    values = dict(m1=Fraction(3, 7), m2=Fraction(-5, 11), m3=Fraction(13, 3),
                  s1=Fraction(17, 5), s2=Fraction(-2, 9), u=Fraction(7, 2), q=Fraction(19, 4),
                  b=Fraction(-3, 13), g=Fraction(23, 6), c=Fraction(29, 10))
    named = parse_family(TRIANGLE.format(name="named", **sympy_names))
    assert set(named.symbols) == set(sympy_names.values())
    reference = parse_family(TRIANGLE.format(name="plain", **plain))
    d = Fraction(37, 9)
    got = reduce_exact(named, [(2, 1, 1)], {"d": d, **{sympy_names[k]: v
                                                       for k, v in values.items()}})
    want = reduce_exact(reference, [(2, 1, 1)], {"d": d, **values})
    assert got["targets"][0]["reduced"] and len(got["masters"]) == 7  # triangle, bubbles, tadpoles
    assert got["masters"] == want["masters"] and got["targets"] == want["targets"]


# -- indices are bounded wherever an integral is named ---------------------------------------------

@pytest.mark.parametrize("indices, words", [
    ([31, 1], "index 31 at position 1 is outside -30..30 (MAX_INDEX)"),
    ([1, -31], "index -31 at position 2"),
    (["99999999999999999999999", "1"], "index 99999999999999999999999 is outside -30..30"),
    (["9" * 5000, "1"], "is outside -30..30"),
])
def test_indices_beyond_the_cap_are_refused(indices, words):
    with pytest.raises(FamilyError, match=re.escape(words)):
        load_family("bubble").check_integral(indices, "--target")


def test_indices_up_to_the_cap_are_accepted():
    assert load_family("bubble").check_integral(["30", -30]) == (30, -30)


@pytest.mark.parametrize("argv, words", [
    (["--target", "99999999999999999999999,1"], "outside -30..30 (MAX_INDEX)"),
    (["--target", "2,1", "--at", "d=9^9^9^9,s=1"], "power tower"),
    (["--target", "2,1", "--at", "d=factorial(10^9),s=1"], "function call factorial"),
    (["--target", "2,1", "--at", "d=1e999999999,s=1"], "MAX_NUMBER_BITS"),
])
def test_the_command_line_refuses_huge_targets_and_points_in_one_line(capsys, argv, words):
    from ibp_evolve.cli.main import main
    assert main(["reduce", "bubble", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_family_names_the_file_system_cannot_hold_are_one_line_errors():
    with pytest.raises(FamilyError, match="cannot be opened: File name too long"):
        load_family("x" * 5000)
