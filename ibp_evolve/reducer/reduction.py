"""Numeric reduction of targets on a subset of a cached equation system (one prime, one point).

A target is **reduced** when its fully back-substituted row contains master integrals only
(DESIGN.md §1); any other integral left in the row is a *survivor*.  Integrals of zero sectors
vanish and count as reduced (to zero).

With sector symmetries the system carries relation rows
(:func:`~ibp_evolve.reducer.symmetry_rows.with_symmetry_rows`): they are solved with the seeds'
equations but owned by no seed, so ``equations`` and ``trimmed_equations`` count the IBP
equations alone and ``symmetry_equations`` / ``trimmed_symmetry_equations`` the relations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ibp_evolve.reducer.sectors import sector_of, zero_sectors
from ibp_evolve.reducer.solver import Solution, solve
from ibp_evolve.reducer.system import EquationSystem


@dataclass
class TargetReduction:
    target: tuple[int, ...]
    reduced: bool
    coefficients: dict = field(default_factory=dict)  # master -> residue mod p (non-zero)
    survivor_coefficients: dict = field(default_factory=dict)  # non-masters left in the row

    @property
    def survivors(self) -> list:
        return sorted(self.survivor_coefficients)


@dataclass
class NumericReduction:
    targets: list[TargetReduction]
    seeds: int
    equations: int
    independent_equations: int
    trimmed_equations: int
    fill_in: int
    multiply_adds: int
    seconds: float
    solution: Solution = field(repr=False, default=None)
    symmetry_equations: int = 0
    trimmed_symmetry_equations: int = 0
    relations: object = field(repr=False, default=None)  # the RelationRows solved with

    @property
    def complete(self) -> bool:
        return all(t.reduced for t in self.targets)

    @property
    def trimmed_seed_equations(self) -> np.ndarray:
        """The trimmed equations that seeds own (relation rows left out)."""
        trimmed = np.asarray(self.solution.trimmed_equations, dtype=np.int64)
        return trimmed if self.relations is None else trimmed[trimmed < self.relations.first]

    def stats(self) -> dict:
        out = {"seeds": self.seeds, "equations": self.equations,
               "independent_equations": self.independent_equations,
               "trimmed_equations": self.trimmed_equations, "fill_in": self.fill_in,
               "multiply_adds": self.multiply_adds, "seconds": round(self.seconds, 6)}
        if self.relations is not None:
            out |= {"symmetry_equations": self.symmetry_equations,
                    "trimmed_symmetry_equations": self.trimmed_symmetry_equations}
        return out


def columns_of(system: EquationSystem, integrals: np.ndarray) -> np.ndarray:
    """Column of each integral in ``system`` (-1 when absent), vectorised: a Python dict over
    the hundreds of thousands of columns of a large system would cost seconds."""
    table = system.integrals
    if len(integrals) == 0 or len(table) == 0:
        return np.full(len(integrals), -1, dtype=np.int64)
    code = system._code
    if code is not None and system._sorted_keys is not None and code.contains(
            np.asarray(integrals).ravel()):
        # the system's keys are sorted already: a binary search, no sort of every column
        keys = system._sorted_keys
        wanted = code.encode(integrals)
        pos = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
        return np.where(keys[pos] == wanted, system._key_columns[pos], -1).astype(np.int64)
    lo = int(min(table.min(), integrals.min()))
    radix = int(max(table.max(), integrals.max())) - lo + 1
    place = radix ** np.arange(table.shape[1], dtype=np.int64)  # build_system checked the range
    keys = (table - lo) @ place
    order = np.argsort(keys)
    wanted = (integrals - lo) @ place
    pos = np.clip(np.searchsorted(keys[order], wanted), 0, len(keys) - 1)
    found = keys[order][pos] == wanted
    return np.where(found, order[pos], -1).astype(np.int64)


def reduce_on_seeds(system: EquationSystem, seed_ids, targets, masters,
                    engine: str = "numba", relations=None,
                    ties_in_given_order: bool = False) -> NumericReduction:
    """Solve the equations of the chosen seeds and express each target through ``masters``.
    ``engine``: see :func:`ibp_evolve.reducer.solver.solve`; ``relations`` (a
    :class:`~ibp_evolve.reducer.symmetry_rows.RelationRows` of ``system``) are solved too.

    ``ties_in_given_order``: the solver breaks ties between equations by their place here
    (the seeds' equations in the order of ``seed_ids``, then the relations in theirs), not by
    their ids in ``system``: the solve of a system holding these equations alone, numbered
    so.  The judge slices a universe's equations so and gets ``reduce``'s system, tie for tie,
    without copying them (:meth:`~ibp_evolve.judge.score.SymmetricUniverse.path_order`)."""
    masters = set(map(tuple, masters))
    seed_ids = np.asarray(seed_ids, dtype=np.int64)
    zeros = zero_sectors(system.family)
    targets = [tuple(int(x) for x in t) for t in targets]
    columns = columns_of(system, np.array(targets, dtype=np.int64).reshape(-1, system.family.n))
    solvable = columns >= 0
    selected = system.equations_of(seed_ids)
    if relations is not None:
        selected = np.concatenate([selected, relations.ids])
    ties = np.arange(len(selected), dtype=np.int64) if ties_in_given_order else None
    solution = solve(system.eq_ptr, system.eq_cols, system.eq_vals, selected,
                     system.n_columns, columns[solvable], system.prime, engine=engine,
                     ties=ties)
    row_of = np.cumsum(solvable) - 1  # position of each solvable target in the solution
    results = []
    for i, (target, col) in enumerate(zip(targets, columns)):
        if sector_of(target) in zeros:
            results.append(TargetReduction(target, True))
            continue
        if col < 0:  # appears in no equation at all
            own = {target: 1}
            results.append(TargetReduction(target, target in masters,
                                           own if target in masters else {},
                                           {} if target in masters else own))
            continue
        cols, vals = solution.target_rows[row_of[i]]
        coefficients, survivors = {}, {}
        for c, v in zip(cols.tolist(), vals.tolist()):
            integral = system.integral(c)
            (coefficients if integral in masters else survivors)[integral] = v
        results.append(TargetReduction(target, not survivors, coefficients, survivors))
    n_relations = len(relations) if relations is not None else 0
    trimmed_relations = (int((np.asarray(solution.trimmed_equations) >= relations.first).sum())
                         if relations is not None else 0)
    return NumericReduction(
        targets=results, seeds=len(seed_ids),
        equations=int(solution.n_equations) - n_relations,
        independent_equations=solution.n_independent,
        trimmed_equations=solution.n_trimmed - trimmed_relations, fill_in=solution.fill_in,
        multiply_adds=solution.multiply_adds, seconds=solution.seconds, solution=solution,
        symmetry_equations=n_relations, trimmed_symmetry_equations=trimmed_relations,
        relations=relations)
