"""Learn once, evaluate many: the trimmed equations of a solve, re-instantiated at new samples.

A first solve (one prime, one point) learns which equations the targets need (mark and sweep,
:mod:`ibp_evolve.reducer.solver`).  :class:`TrimmedSystem` keeps exactly those rows: for each
one its seed, its template and the terms that survived (zero sectors and structurally vanishing
coefficients are gone), with the integral of every term already mapped to a column.  Every
further prime or point only recomputes the coefficients of those terms and solves the small
system again; nothing of the rest of the seed box is ever rebuilt.

With sector symmetries the trimmed equations include relation rows (owned by no seed).  Their
coefficients depend on the kinematics through the mapped numerators, so they are kept as exact
polynomials in the parameters (:func:`~ibp_evolve.reducer.symmetry_rows.exact_relation`) and
evaluated at every sample like the seeds' rows: learned once, replayed per prime and point.

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
from ibp_evolve.reducer.reconstruct.rows import CompiledRows
from ibp_evolve.reducer.solver import solve
from ibp_evolve.reducer.system import EquationSystem, Instantiator, parameter_residues
from ibp_evolve.reducer.templates import TemplateSet, templates


@dataclass
class TrimmedSystem:
    """The learned trimmed equations of a reduction, ready to be re-solved at any sample."""

    family: Family
    template_set: TemplateSet
    integrals: np.ndarray  # (n_cols, N) local columns, least complex first
    seeds: np.ndarray  # (k, N) the distinct seeds of the trimmed equations
    entry_seed: np.ndarray  # per stored term, grouped by equation: its seed (row of seeds),
    entry_term: np.ndarray  # its template term,
    entry_col: np.ndarray  # and its local column
    eq_ptr: np.ndarray  # CSR pointers of the trimmed equations over the entries
    n_equations: int  # seed equations, then symmetry relations
    row_seed: np.ndarray  # (n_seed_equations, N) seed of each trimmed seed equation
    row_template: np.ndarray  # (n_seed_equations,) template id of each
    targets: list  # target tuples, in the caller's order
    target_cols: np.ndarray  # local column of each target that owns a pivot row, else -1
    constant_rows: list  # per target: fixed row {integral: 1} or {} (zero), or None
    structure: frozenset = frozenset()  # local pivot columns of the learned trimmed solve
    reference: list = field(default_factory=list)  # residues at the learning sample
    # trimmed symmetry relations: (source integral, label, [(local column, polynomial)])
    relation_rows: list = field(default_factory=list)
    _relation_csr: object = field(default=None, repr=False)

    # -- learning -------------------------------------------------------------------------
    @classmethod
    def learn(cls, system: EquationSystem, reduction: NumericReduction,
              learn_point: dict) -> "TrimmedSystem":
        """Keep the equations ``reduction`` needed (its mark-and-sweep) of ``system``."""
        family = system.family
        ts = templates(family)
        solution = reduction.solution
        trimmed = np.asarray(solution.trimmed_equations, dtype=np.int64)
        relations = reduction.relations
        if relations is not None:  # relation rows are kept exactly, apart from the seeds'
            relation_ids = trimmed[trimmed >= relations.first] - relations.first
            trimmed = trimmed[trimmed < relations.first]
        else:
            relation_ids = np.zeros(0, dtype=np.int64)
        seed_of = trimmed // system.n_templates
        template_of = trimmed % system.n_templates
        useeds, seed_index = np.unique(seed_of, return_inverse=True)
        seeds = system.seeds[useeds]
        seed_index = seed_index.ravel()

        # Every (equation, term of its template) pair, grouped by equation ...
        terms_of = [np.flatnonzero(ts.term_template == t) for t in range(ts.n_templates)]
        counts = np.array([len(terms_of[t]) for t in template_of.tolist()], dtype=np.int64)
        entry_eq = np.repeat(np.arange(len(trimmed), dtype=np.int64), counts)
        entry_seed = seed_index[entry_eq]
        entry_term = (np.concatenate([terms_of[t] for t in template_of.tolist()])
                      if len(trimmed) else np.zeros(0, dtype=np.int64))
        # ... keeping exactly the entries build_system kept: a coefficient that vanishes at a
        # random point of a large prime field vanishes identically (e.g. a_j = 0 times
        # I(a+e_j)), and integrals of zero sectors are dropped.
        learned_coeffs = Instantiator(family, learn_point, system.prime, ts).coefficients(seeds)
        integrals = seeds[entry_seed] + ts.term_shift[entry_term]
        weights = np.int64(1) << np.arange(family.n, dtype=np.int64)
        sectors = ((integrals > 0) * weights).sum(axis=1)
        zeros = zero_sectors(family)
        alive = ~np.isin(sectors, np.fromiter(zeros, dtype=np.int64, count=len(zeros)))
        keep = alive & (learned_coeffs[entry_seed, entry_term] != 0)
        entry_eq, entry_seed, entry_term = entry_eq[keep], entry_seed[keep], entry_term[keep]
        cols = columns_of(system, integrals[keep])
        if (cols < 0).any():
            raise AssertionError("a trimmed equation refers to an integral outside its system")

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
        relation_rows = []
        if len(relation_ids):
            from ibp_evolve.reducer.symmetry_rows import exact_relation  # sympy: only when used
        for k in relation_ids.tolist():
            mapping = relations.mappings[k]
            terms = exact_relation(mapping, family, relations.sources[k])
            where = columns_of(system, np.array([b for b, _ in terms], dtype=np.int64))
            # a term missing from the system had a coefficient that vanished at the learning
            # point (measure zero): the numeric row left it out too
            relation_rows.append((tuple(int(x) for x in relations.sources[k]),
                                  f"symmetry {mapping.source}->{mapping.target}",
                                  [(int(c), poly) for c, (_, poly) in zip(where, terms)
                                   if c >= 0]))
        relation_cols = np.array([c for _, _, row in relation_rows for c, _ in row],
                                 dtype=np.int64)
        all_cols = np.unique(np.concatenate([cols, relation_cols, np.array(
            [c for c in target_system_cols if c >= 0], dtype=np.int64)]))
        local = np.searchsorted(all_cols, cols)
        relation_rows = [(source, label, [(int(np.searchsorted(all_cols, c)), poly)
                                          for c, poly in row])
                         for source, label, row in relation_rows]
        eq_ptr = np.zeros(len(trimmed) + 1, dtype=np.int64)
        np.cumsum(np.bincount(entry_eq, minlength=len(trimmed)), out=eq_ptr[1:])
        model = cls(family=family, template_set=ts, integrals=system.integrals[all_cols],
                    seeds=seeds, entry_seed=entry_seed, entry_term=entry_term,
                    entry_col=local.astype(np.int64), eq_ptr=eq_ptr,
                    n_equations=len(trimmed) + len(relation_rows),
                    row_seed=system.seeds[seed_of], row_template=template_of,
                    targets=targets,
                    target_cols=np.array([int(np.searchsorted(all_cols, c)) if c >= 0 else -1
                                          for c in target_system_cols], dtype=np.int64),
                    constant_rows=constant_rows, relation_rows=relation_rows)
        params = parameter_residues(family, learn_point, system.prime)
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
        # Residues are integers, and an integer's residue is itself: a valid point mod prime.
        point = dict(zip(self.family.parameters, (int(x) for x in params)))
        coeffs = Instantiator(self.family, point, prime, self.template_set).coefficients(
            self.seeds)
        ptr, cols, vals = self.eq_ptr, self.entry_col, coeffs[self.entry_seed, self.entry_term]
        if not self.relation_rows:
            return ptr, cols, vals
        if self._relation_csr is None:
            self._relation_csr = CompiledRows.of_rows([row for _, _, row in self.relation_rows],
                                                      len(self.family.parameters))
        r_ptr, r_cols, r_vals = self._relation_csr.csr(params, prime)
        return (np.concatenate([ptr, ptr[-1] + r_ptr[1:]]), np.concatenate([cols, r_cols]),
                np.concatenate([vals, r_vals]))

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
        trimmed equation (a symmetry relation: its source integral and "symmetry S->S'"):
        each coefficient as an exact polynomial in the family's parameters
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
        for source, label, row in self.relation_rows:  # I(source) - sum c_b I(b) = 0
            yield source, label, [(tuple(int(x) for x in self.integrals[c]), dict(poly))
                                  for c, poly in row]


def _merge_terms(terms):
    """Sum the polynomials of terms that hit the same integral (shifts can coincide)."""
    merged: dict = {}
    for integral, poly in terms:
        into = merged.setdefault(integral, {})
        for key, v in poly.items():
            into[key] = into.get(key, 0) + v
    return [(i, {k: v for k, v in p.items() if v}) for i, p in merged.items()
            if any(p.values())]
