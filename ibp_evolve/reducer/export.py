"""The trimmed IBP system of a reduction as text another solver can read.

Each equation is ``sum_k c_k * I(integral_k) = 0`` with every coefficient an exact polynomial in
the family's parameters (the dimension ``d`` and the kinematic symbols), straight from the
templates: it holds at every point, not only the one reduced at.  Polynomials are written with
``*`` and ``^`` and exact rationals (``-3/2*d*s^2 + 4``), which Mathematica, FORM and Kira read.

* ``jsonl``: a header line ``{"family", "parameters", "point", "equations"}``, then one line per
  equation ``{"seed": [...], "template": "IBP(k1, p)", "terms": [[[indices], "polynomial"],
  ...]}``.
  A sector-symmetry relation (``reduce --symmetries on``) is a line like any other, with the
  integral it maps under ``"seed"`` and ``"template": "symmetry S->S'"`` (source and target
  sector ids): ``I(seed) - sum c_b I(b) = 0``, its coefficients exact in the kinematics.
* ``mathematica``: ``{eq1 == 0, eq2 == 0, ...}`` with integrals written ``j[family, a1, ..., aN]``
  (the LiteRed/FiniteFlow convention).
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

from ibp_evolve.reducer.cache import atomic_write_text
from ibp_evolve.reducer.replay import TrimmedSystem


def polynomial_text(poly: dict, names) -> str:
    """``{exponents: Fraction}`` as ``3/2*d*s^2 - 1``, monomials in descending total degree."""
    if not poly:
        return "0"
    parts = []
    for exps, coeff in sorted(poly.items(), key=lambda kv: (-sum(kv[0]), kv[0]), reverse=False):
        factors = [n if e == 1 else f"{n}^{e}" for n, e in zip(names, exps) if e]
        c = Fraction(coeff)
        mag = abs(c)
        if factors and mag == 1:
            body = "*".join(factors)
        else:
            body = "*".join([str(mag)] + factors)
        parts.append(("-" if c < 0 else "+", body))
    text = ("-" if parts[0][0] == "-" else "") + parts[0][1]
    for sign, body in parts[1:]:
        text += f" {sign} {body}"
    return text


def _jsonl_lines(model: TrimmedSystem, point: dict):
    names = model.family.parameters
    yield json.dumps({"family": model.family.name, "parameters": list(names), "point": point,
                      "equations": model.n_equations,
                      "coefficients": "exact polynomials in the parameters"})
    for seed, template, terms in model.exact_equations():
        yield json.dumps({"seed": list(seed), "template": template,
                          "terms": [[list(i), polynomial_text(p, names)] for i, p in terms]})


def _mathematica_text(model: TrimmedSystem) -> str:
    names = model.family.parameters
    family = model.family.name
    equations = []
    for _, _, terms in model.exact_equations():
        body = " + ".join(f"({polynomial_text(p, names)})*j[{family}, "
                          + ", ".join(map(str, i)) + "]" for i, p in terms)
        equations.append(f"{body or '0'} == 0")
    return "{\n" + ",\n".join(equations) + "\n}\n"


def write_system(model: TrimmedSystem, path: str | os.PathLike, fmt: str = "jsonl",
                 point: dict | None = None) -> None:
    """Write the trimmed system atomically (readers never see half a file)."""
    path = Path(path)
    if fmt == "jsonl":
        text = "\n".join(_jsonl_lines(model, point or {})) + "\n"
    elif fmt == "mathematica":
        text = _mathematica_text(model)
    else:
        raise ValueError(f"unknown export format '{fmt}' (jsonl or mathematica)")
    atomic_write_text(path, text)
