"""Importing Kira configurations: the family we write is the family Kira describes."""

import pytest
import sympy

from ibp_evolve.cli.main import main
from ibp_evolve.reducer.family import load_family, parse_family
from ibp_evolve.reducer.kira import KiraImportError, read_kira

TRIANGLE_BOX_FAMILIES = """\
integralfamilies:
  - name: "trianglebox"
    loop_momenta: [k1, k2]
    top_level_sectors: [63]
    propagators:
      - [ "k1", 0 ]
      - [ "k2", 0 ]
      - [ "k1+k2", 0 ]
      - [ "k1+p1", 0 ]
      - [ "k2-p3", 0 ]
      - [ "k2-p1", 0 ]
      - [ "k1-p3", 0 ]
"""
# p3 = -(p1 + p2) outgoing-as-incoming: (k2-p3)^2 = (k2+p1+p2)^2, as in the built-in family
TRIANGLE_BOX_KINEMATICS = """\
kinematics:
  incoming_momenta: [p1, p2, p3]
  outgoing_momenta: []
  momentum_conservation: [p3, -p1-p2]
  kinematic_invariants:
    - [m1sq, 2]
    - [m2sq, 2]
    - [m3sq, 2]
  scalarproduct_rules:
    - [[p1, p1], m1sq]
    - [[p2, p2], m2sq]
    - [[p1+p2, p1+p2], m3sq]
"""

SUNRISE_FAMILIES = """\
integralfamilies:
  - name: "sunrise_eq"
    loop_momenta: [k1, k2]
    top_level_sectors: [7]
    propagators:
      - [ "k1", "msq" ]
      - [ "k2", "msq" ]
      - [ "k1+k2+p", "msq" ]
      - [ "k1+p", 0 ]
      - { bilinear: [ [ "k2", "p" ], 0 ] }
"""
SUNRISE_KINEMATICS = """\
kinematics:
  outgoing_momenta: [p]
  kinematic_invariants:
    - [s, 2]
    - [msq, 2]
  scalarproduct_rules:
    - [[p, p], s]
  symbol_to_replace_by_one: msq
"""


def write_config(tmp_path, families, kinematics):
    config = tmp_path / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "integralfamilies.yaml").write_text(families)
    (config / "kinematics.yaml").write_text(kinematics)
    return tmp_path


def same_family(a, b):
    assert a.loop_momenta == b.loop_momenta and a.external_momenta == b.external_momenta
    assert a.isps == b.isps
    assert all(qa == qb for qa, qb in zip(a.quadratic_forms, b.quadratic_forms))
    assert all(sympy.expand(ca - cb) == 0 for ca, cb in zip(a.constants, b.constants))
    assert all(sympy.expand(a.kinematics[k] - b.kinematics[k]) == 0 for k in b.kinematics)


def test_kira_triangle_box_is_our_triangle_box(tmp_path, triangle_box):
    text = read_kira(write_config(tmp_path, TRIANGLE_BOX_FAMILIES, TRIANGLE_BOX_KINEMATICS))
    imported = parse_family(text, origin="imported")
    assert imported.name == "trianglebox"
    assert imported.symbols == ("m1sq", "m2sq", "m3sq")  # Kira's names are kept
    same_family(imported, triangle_box)


def test_kira_massive_sunrise_with_a_bilinear_isp_and_a_scale_set_to_one(tmp_path):
    text = read_kira(write_config(tmp_path, SUNRISE_FAMILIES, SUNRISE_KINEMATICS))
    family = parse_family(text, origin="imported")
    assert family.symbols == ("s",)  # msq replaced by one, as Kira does
    assert family.isps == (3, 4)  # outside the top-level sector 7
    assert family.constants[:3] == (-1, -1, -1)
    q = family.quadratic_forms[4]  # k2.p: off-diagonal 1/2, no k2^2 term
    assert q[1, 2] == q[2, 1] == sympy.Rational(1, 2) and q[1, 1] == 0


@pytest.mark.parametrize("families, kinematics, words", [
    (TRIANGLE_BOX_FAMILIES + "    cut_propagators: [1, 2]\n", TRIANGLE_BOX_KINEMATICS,
     "key 'cut_propagators': not supported"),
    (TRIANGLE_BOX_FAMILIES.replace('- [ "k1-p3", 0 ]', '- { linear: [ "k1*p3", 0 ] }'),
     TRIANGLE_BOX_KINEMATICS, "key 'propagators[6]': propagator kind ['linear']"),
    (TRIANGLE_BOX_FAMILIES, TRIANGLE_BOX_KINEMATICS.replace(
        "    - [[p2, p2], m2sq]\n", ""), "the rules do not fix p1\\*p2"),
    (TRIANGLE_BOX_FAMILIES, TRIANGLE_BOX_KINEMATICS.replace("m3sq]", "m3sq"), "not valid YAML"),
    (TRIANGLE_BOX_FAMILIES.replace("[63]", "[255]"), TRIANGLE_BOX_KINEMATICS,
     "key 'top_level_sectors': sector 255 has bits beyond"),
    (TRIANGLE_BOX_FAMILIES.replace('"k1+p1"', '"k1+q"'), TRIANGLE_BOX_KINEMATICS,
     "key 'propagators[3]': unknown momentum 'q'"),
], ids=["cut", "linear-propagator", "missing-rule", "bad-yaml", "sector-too-wide",
        "unknown-momentum"])
def test_unsupported_or_broken_kira_input_is_one_clear_error(tmp_path, families, kinematics,
                                                             words):
    pattern = words.replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(KiraImportError, match=pattern):
        read_kira(write_config(tmp_path, families, kinematics))


def test_families_import_kira_command_writes_a_loadable_family(tmp_path, capsys):
    root = write_config(tmp_path / "kira", TRIANGLE_BOX_FAMILIES, TRIANGLE_BOX_KINEMATICS)
    out_file = tmp_path / "trianglebox.toml"
    assert main(["families", "import-kira", str(root), "-o", str(out_file)]) == 0
    assert load_family(out_file).name == "trianglebox"
    bad = write_config(tmp_path / "bad", TRIANGLE_BOX_FAMILIES + "    cut_propagators: [1]\n",
                       TRIANGLE_BOX_KINEMATICS)
    capsys.readouterr()
    assert main(["families", "import-kira", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cut_propagators" in err


def test_families_show_counts_masters_both_ways(capsys):
    assert main(["families", "show", "kite"]) == 0
    out = capsys.readouterr().out
    assert "masters: 2 with symmetries, 3 without" in out
    assert "sector 25 (10011) = sector 22 (01101)" in out
