"""A table of candidate-seed features labelled by the solver, for symbolic regression.

Every row is one candidate seed of one target of a suite.  Its columns are features of the one
vocabulary under their display names (``a3`` is ``seed.a[2]``, ``s_target`` is ``target.s``) and
a few composites written in the rule language, so that a fitted formula translates straight back
into a rule; its label says how often the
seed was kept over several randomised minimisations (:func:`ibp_evolve.judge.minimize.minimize_suite`):
minimal complete sets are not unique, so a frequency is more honest than a 0/1 from one run.

Positives are rare (tens of seeds out of tens of thousands of candidates), so the table keeps
every positive, every seed of the start sets (the hard negatives: seeds a good rule selected but
the reduction did not need), the candidates one step around the start sets, and a random sample
of the remaining far negatives.  Per target, the positives and each of these three strata of
negatives get the same total weight, and the classes are then balanced: a fit cannot ignore the
hard negatives by getting the easy far ones right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ibp_evolve.judge.minimize import minimize_suite, neighbour_pool
from ibp_evolve.language.compile import compile_rule
from ibp_evolve.language.features import MAX_INDICES, display_name
from ibp_evolve.language.features import feature_node as vocabulary_node
from ibp_evolve.language.parse import parse_rule
from ibp_evolve.language.printer import expression_text, keep_program

__all__ = ["FEATURE_SOURCE", "LabelTable", "feature_matrix", "feature_names", "feature_node",
           "feature_source", "label_table"]

ISP_NUMERATORS = "sum(seed.numerators(i) for i in family.isps)"

# Composite columns, written in the rule language; every other column is a feature of the one
# vocabulary under its display name (language/features.py), e.g. a3 = seed.a[2], s_target.
FEATURE_SOURCE = {
    "s_isp": ISP_NUMERATORS,
    "s_lines": f"seed.s - {ISP_NUMERATORS}",
    # the two quantities of improved seeding (Kira 3): numerator powers left in the budget
    # target.s - missing lines, and dots beyond the target's
    "s_budget": "target.s - seed.missing - seed.s",
    "d_excess": "seed.d - target.d",
}


def feature_names(n_indices: int) -> list[str]:
    """Column names: seed measures, composites, the indices a1..aN, the target's measures."""
    return (["r", "s", "t", "d", "missing", "s_isp", "s_lines", "s_budget", "d_excess"]
            + [display_name("seed", "a", i) for i in range(n_indices)]
            + [display_name("target", m) for m in ("r", "s", "t", "d")])


@lru_cache(maxsize=None)
def _composite(name: str):
    return parse_rule(f"def priority(seed, target):\n    return {FEATURE_SOURCE[name]}\n"
                      ).body[0].value


def feature_node(name: str, n_indices: int):
    """The rule IR of a column."""
    if name in FEATURE_SOURCE:
        return _composite(name)
    try:
        return vocabulary_node(name, n_indices)
    except ValueError:
        raise KeyError(f"unknown feature '{name}'") from None


def feature_source(name: str, n_indices: int = MAX_INDICES) -> str:
    """The rule-language expression of a column."""
    return expression_text(feature_node(name, n_indices), board=False)


def feature_matrix(features) -> np.ndarray:
    """The columns of :func:`feature_names` for one target's SeedFeatures, as floats, each
    evaluated by the one rule compiler."""
    names = feature_names(features.n_indices)
    if not features.n_seeds:
        return np.zeros((0, len(names)))
    cols = [compile_rule(keep_program(feature_node(n, features.n_indices), "priority")
                         ).values(features) for n in names]
    return np.column_stack(cols).astype(np.float64)


@dataclass
class LabelTable:
    """Feature rows, label frequencies and weights; see the module docstring."""

    names: list[str]
    X: np.ndarray               # (rows, features)
    frequency: np.ndarray       # fraction of the minimisations that kept the seed
    weight: np.ndarray          # class and stratum weight of each row (mean 1)
    target_index: np.ndarray    # which suite target the row belongs to
    seed_index: np.ndarray      # row of the target's candidate universe
    minimal_sizes: list = field(default_factory=list)  # per run: sizes (one per system)
    start_sizes: list = field(default_factory=list)

    @property
    def positive(self) -> np.ndarray:
        return self.frequency > 0

    @property
    def y(self) -> np.ndarray:
        """Classification labels: +1 for a seed some minimal set kept, -1 otherwise."""
        return np.where(self.positive, 1.0, -1.0)

    def varying(self) -> list[int]:
        """Columns worth fitting: not constant over the table (e.g. the target's measures on a
        single-target suite) and not a copy of an earlier column (d_excess = d when every
        target is undotted)."""
        out = []
        for k in range(self.X.shape[1]):
            col = self.X[:, k]
            if np.ptp(col) > 0 and not any(np.array_equal(col, self.X[:, j]) for j in out):
                out.append(k)
        return out

    def summary(self) -> dict:
        return {"rows": int(len(self.X)), "positives": int(self.positive.sum()),
                "features": [self.names[k] for k in self.varying()],
                "minimal_sizes": self.minimal_sizes, "start_sizes": self.start_sizes}


def label_table(judge, masks, *, runs: int = 8, seed: int = 0, swaps: int = 100,
                seconds: float = 2.0, negatives: int = 3000) -> LabelTable:
    """Minimise the start masks ``runs`` times in random orders and label the candidates.

    ``masks`` are complete keep-masks per target (e.g. a good rule's); ``negatives`` bounds the
    number of far negative rows sampled per target.
    """
    rng = np.random.default_rng(seed)
    counts = [np.zeros(len(u), dtype=np.int64) for u in judge.universes]
    sizes = []
    for k in range(runs):
        report = minimize_suite(judge, masks, rng=seed + k, swaps=swaps, seconds=seconds)
        if not report.complete:
            raise ValueError("the start seed set does not reduce every target; start from a "
                             "complete rule (e.g. improved_seeding_dots or laporta)")
        sizes.append([r.size for r in report.results])
        for c, m in zip(counts, report.masks):
            c += m
    names = feature_names(judge.family.n)
    blocks, freqs, weights, tix, six = [], [], [], [], []
    for i, (universe, feats, count, mask) in enumerate(zip(judge.universes, judge.features,
                                                           counts, masks)):
        start = np.flatnonzero(mask)
        near = np.union1d(start, neighbour_pool(universe, start)) if len(start) else start
        kept_ever = np.flatnonzero(count)
        chosen = np.union1d(near, kept_ever)
        rest = np.setdiff1d(np.arange(len(universe)), chosen, assume_unique=True)
        sampled = rng.choice(rest, size=min(negatives, len(rest)), replace=False) \
            if len(rest) else rest
        rows = np.concatenate([chosen, sampled]).astype(np.int64)
        # strata of the negatives: 0 = in the start set (hard: a good rule chose them, the
        # reduction did not need them), 1 = one step around it, 2 = far (sampled)
        stratum = np.where(np.isin(rows, start), 0, np.where(np.isin(rows, near), 1, 2))
        stratum[np.isin(rows, kept_ever)] = -1
        w = np.ones(len(rows))
        for k in (0, 1, 2):  # each stratum of negatives gets the same total weight
            sel = stratum == k
            if sel.any():
                w[sel] = 1.0 / sel.sum()
        w[stratum == -1] = 1.0 / max((stratum == -1).sum(), 1)
        blocks.append(feature_matrix(feats)[rows])
        freqs.append(count[rows] / runs)
        weights.append(w)
        tix.append(np.full(len(rows), i))
        six.append(rows)
    X = np.vstack(blocks)
    frequency = np.concatenate(freqs)
    weight = np.concatenate(weights)
    pos = frequency > 0
    if pos.any() and (~pos).any():  # balance the classes
        weight[pos] *= weight[~pos].sum() / weight[pos].sum()
    weight /= weight.mean()
    return LabelTable(names, X, frequency, weight, np.concatenate(tix), np.concatenate(six),
                      sizes, [int(m.sum()) for m in masks])
