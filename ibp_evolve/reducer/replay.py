"""Learn once, evaluate many: the trimmed equations of a solve, re-instantiated at new samples.

A first solve (one prime, one point) learns which equations the targets need (mark and sweep,
:mod:`ibp_evolve.reducer.solver`).  :class:`TrimmedSystem` keeps exactly those rows: for each
one its seed, its template and the terms that survived (zero sectors and structurally vanishing
coefficients are gone), with the integral of every term already mapped to a column.  Every
further prime or point only recomputes the coefficients of those terms and solves the small
system again; nothing of the rest of the seed box is ever rebuilt.

The learned *structure* is the set of columns that receive a pivot in the trimmed solve.  A
sample that reproduces it gives the targets' coefficients at that sample; one that does not (a
pivot vanishes there: a pole, special kinematics or an unlucky prime) is reported as ``None``
and the caller decides what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ibp_evolve.reducer.family import Family
from ibp_evolve.reducer.reduction import NumericReduction, columns_of
from ibp_evolve.reducer.sectors import zero_sectors
from ibp_evolve.reducer.solver import solve
from ibp_evolve.reducer.system import EquationSystem, parameter_residues, term_coefficients
from ibp_evolve.reducer.templates import TemplateSet, templates


def template_slice(ts: TemplateSet, template_id: int) -> TemplateSet:
    """The one template ``template_id`` of ``ts`` as a template set of its own."""
    terms = np.flatnonzero(ts.term_template == template_id)
    new_index = np.full(ts.n_terms, -1, dtype=np.int64)
    new_index[terms] = np.arange(len(terms))
    monos = np.flatnonzero(np.isin(ts.mono_term, terms))
    return TemplateSet(names=(ts.names[template_id],),
                       term_template=np.zeros(len(terms), dtype=np.int64),
                       term_shift=ts.term_shift[terms], mono_term=new_index[ts.mono_term[monos]],
                       mono_aexp=ts.mono_aexp[monos], mono_pexp=ts.mono_pexp[monos],
                       mono_coeff=tuple(ts.mono_coeff[m] for m in monos.tolist()))


@dataclass
class _TemplateRows:
    """The trimmed rows that apply one template: their seeds and surviving terms."""

    template_id: int
    template_set: TemplateSet  # the one template (template_slice)
    seeds: np.ndarray  # (k, N) the seed of each row
    entry_flat: np.ndarray  # surviving (row, term) pairs as flat indices into (k, n_terms)
    entry_row: np.ndarray  # local equation id of each entry
    entry_col: np.ndarray  # local column of each entry


@dataclass
class TargetSample:
    """One target's reduction at one sample: residues of its row's integrals."""

    values: dict  # integral -> residue (masters and survivors; zero entries included)


@dataclass
class TrimmedSystem:
    """The learned trimmed equations of a reduction, ready to be re-solved at any sample."""

    family: Family
    template_set: TemplateSet
    integrals: np.ndarray  # (n_cols, N) local columns, least complex first
    groups: list
    n_equations: int
    row_seed: np.ndarray  # (n_equations, N) seed of each trimmed equation
    row_template: np.ndarray  # (n_equations,) template id of each trimmed equation
    targets: list  # target tuples, in the caller's order
    target_cols: np.ndarray  # local column of each target that owns a pivot row, else -1
    constant_rows: list  # per target: fixed row {integral: 1} or {} (zero), or None
    structure: frozenset = frozenset()  # local pivot columns of the learned trimmed solve
    reference: list = field(default_factory=list)  # residues at the learning sample

    # -- learning -------------------------------------------------------------------------
    @classmethod
    def learn(cls, system: EquationSystem, reduction: NumericReduction,
              learn_point: dict) -> "TrimmedSystem":
        """Keep the equations ``reduction`` needed (its mark-and-sweep) of ``system``."""
        family = system.family
        ts = templates(family)
        solution = reduction.solution
        trimmed = np.asarray(solution.trimmed_equations, dtype=np.int64)
        seed_of = trimmed // system.n_templates
        template_of = trimmed % system.n_templates
        params = parameter_residues(family, learn_point, system.prime)
        zeros = zero_sectors(family)
        weights = np.int64(1) << np.arange(family.n, dtype=np.int64)

        groups, used_cols, pending = [], [], []
        local_eq = np.arange(len(trimmed), dtype=np.int64)
        for t in np.unique(template_of).tolist():
            sub = template_slice(ts, t)
            rows = np.flatnonzero(template_of == t)
            seeds = system.seeds[seed_of[rows]]
            coeffs = term_coefficients(sub, seeds, params, system.prime)
            shifted = seeds[:, None, :] + sub.term_shift[None, :, :]
            sectors = ((shifted > 0) * weights).sum(axis=2)
            alive = ~np.isin(sectors, np.fromiter(zeros, dtype=np.int64, count=len(zeros)))
            # Exactly the entries build_system kept: a coefficient that vanishes at a random
            # point of a large prime field vanishes identically (e.g. a_j = 0 times I(a+e_j)).
            keep = alive & (coeffs != 0)
            flat = np.flatnonzero(keep.ravel())
            integrals = shifted.reshape(-1, family.n)[flat]
            cols = columns_of(system, integrals)
            if (cols < 0).any():
                raise AssertionError("a trimmed equation refers to an integral outside its system")
            pending.append((t, sub, seeds, flat, local_eq[rows][flat // sub.n_terms], cols))
            used_cols.append(cols)

        targets = [tuple(int(x) for x in t.target) for t in reduction.targets]
        constant_rows, target_system_cols = [], []
        target_cols = columns_of(system, np.array(targets, dtype=np.int64).reshape(-1, family.n))
        for tr, col in zip(reduction.targets, target_cols.tolist()):
            owns_pivot = col >= 0 and bool(solution.pivot_mask[col])
            if owns_pivot:
                constant_rows.append(None)
                target_system_cols.append(col)
            else:  # zero sector (no row), or an integral without a pivot: its own row
                constant_rows.append(dict(tr.coefficients) | dict(tr.survivor_coefficients))
                target_system_cols.append(-1)
        all_cols = np.unique(np.concatenate(used_cols + [np.array(
            [c for c in target_system_cols if c >= 0], dtype=np.int64)]))
        local = {c: i for i, c in enumerate(all_cols.tolist())}
        for t, sub, seeds, flat, eq, cols in pending:
            groups.append(_TemplateRows(t, sub, seeds, flat, eq,
                                        np.array([local[c] for c in cols.tolist()],
                                                 dtype=np.int64)))
        model = cls(family=family, template_set=ts, integrals=system.integrals[all_cols],
                    groups=groups, n_equations=len(trimmed),
                    row_seed=system.seeds[seed_of], row_template=template_of,
                    targets=targets,
                    target_cols=np.array([local[c] if c >= 0 else -1
                                          for c in target_system_cols], dtype=np.int64),
                    constant_rows=constant_rows)
        learned = model.solve(params, system.prime)
        model.structure = frozenset(learned.pivot_columns.tolist())
        model.reference = model._rows(learned, system.prime)
        return model

    # -- evaluation -----------------------------------------------------------------------
    @property
    def n_columns(self) -> int:
        return len(self.integrals)

    def csr(self, params: np.ndarray, prime: int):
        """The trimmed equations at parameter residues ``params`` mod ``prime`` (CSR)."""
        rows, cols, vals = [], [], []
        for g in self.groups:
            coeffs = term_coefficients(g.template_set, g.seeds, params, prime)
            rows.append(g.entry_row)
            cols.append(g.entry_col)
            vals.append(coeffs.ravel()[g.entry_flat])
        rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        order = np.argsort(rows, kind="stable")
        ptr = np.zeros(self.n_equations + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self.n_equations), out=ptr[1:])
        cat = (np.concatenate(cols)[order], np.concatenate(vals)[order]) if cols else (
            np.zeros(0, np.int64), np.zeros(0, np.int64))
        return ptr, cat[0], cat[1]

    def solve(self, params: np.ndarray, prime: int, csr=None):
        """Solve the trimmed rows at ``params``; ``csr`` (ptr, cols, vals), when given, are
        those rows already instantiated (e.g. by the analytic sampler's compiled rows)."""
        ptr, cols, vals = csr if csr is not None else self.csr(params, prime)
        solvable = self.target_cols[self.target_cols >= 0]
        return solve(ptr, cols, vals, np.arange(self.n_equations), self.n_columns, solvable,
                     prime, engine="auto")

    def sample(self, params: np.ndarray, prime: int, csr=None) -> list | None:
        """Each target's row ``{integral: residue}`` at ``params`` mod ``prime``, or None when
        the learned structure (the pivot columns) does not hold there."""
        solution = self.solve(params, prime, csr)
        if frozenset(solution.pivot_columns.tolist()) != self.structure:
            return None
        return self._rows(solution, prime)

    def sample_at(self, point: dict, prime: int) -> list | None:
        return self.sample(parameter_residues(self.family, point, prime), prime)

    def _rows(self, solution, prime: int) -> list:
        out, k = [], 0
        for i, fixed in enumerate(self.constant_rows):
            if fixed is not None:
                out.append({m: 1 for m in fixed})
                continue
            cols, vals = solution.target_rows[k]
            k += 1
            out.append({tuple(int(x) for x in self.integrals[c]): int(v)
                        for c, v in zip(cols.tolist(), vals.tolist())})
        return out

    # -- the equations themselves, exactly ----------------------------------------------
    def exact_equations(self):
        """Yield ``(seed, template name, [(integral, {parameter exponents: Fraction})])`` per
        trimmed equation: each coefficient as an exact polynomial in the family's parameters
        (dimension first, then the kinematic symbols)."""
        ts = self.template_set
        zeros = zero_sectors(self.family)
        for seed, t in zip(self.row_seed.tolist(), self.row_template.tolist()):
            terms = []
            for k in np.flatnonzero(ts.term_template == t).tolist():
                integral = tuple(a + s for a, s in zip(seed, ts.term_shift[k].tolist()))
                sector = sum(1 << i for i, a in enumerate(integral) if a > 0)
                if sector in zeros:
                    continue
                poly: dict = {}
                for m in np.flatnonzero(ts.mono_term == k).tolist():
                    value = Fraction(ts.mono_coeff[m])
                    for a, e in zip(seed, ts.mono_aexp[m].tolist()):
                        value *= Fraction(a) ** e
                    if value:
                        key = tuple(ts.mono_pexp[m].tolist())
                        poly[key] = poly.get(key, 0) + value
                poly = {key: v for key, v in poly.items() if v}
                if poly:
                    terms.append((integral, poly))
            yield tuple(seed), ts.names[t], _merge_terms(terms)


def _merge_terms(terms):
    """Sum the polynomials of terms that hit the same integral (shifts can coincide)."""
    merged: dict = {}
    for integral, poly in terms:
        into = merged.setdefault(integral, {})
        for key, v in poly.items():
            into[key] = into.get(key, 0) + v
    return [(i, {k: v for k, v in p.items() if v}) for i, p in merged.items()
            if any(p.values())]
