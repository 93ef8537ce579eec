"""Every kind of bad family file gets a FamilyError naming the key and the problem."""

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
