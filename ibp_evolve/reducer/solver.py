"""Sparse Laporta solver over a prime field GF(p), numba-accelerated.

The solver takes a cached IBP equation system in CSR form (``eq_ptr``, ``eq_cols``,
``eq_vals``), a subset of equation ids (``selected``) and a list of target columns, and
reports how the targets reduce together with the cost of the reduction.  A plain-Python,
dict-based :func:`reference_solve` implements exactly the same rules; it is the oracle of
the tests, the baseline of ``benchmarks/solver_kernel.py`` and, through ``engine="auto"``, the
solver of small systems in a process that has not loaded numba (the compiled kernels live in
:mod:`ibp_evolve.reducer.kernels` and are imported on first use).

Conventions
-----------
* Equation ``e`` is ``sum(eq_vals[k] * I[eq_cols[k]] for k in eq_ptr[e]:eq_ptr[e+1]) == 0``.
  Values are taken modulo ``prime`` when loaded (Python semantics, so negative values are
  fine); repeated columns inside one equation are summed.
* Columns are ``0 .. n_cols-1`` and **the column id is the ordering**: a larger id is a
  more complex integral.  The *leading column* of a row is its largest column id with a
  non-zero coefficient.
* ``prime`` must be a prime below ``2**31`` so that the product of two residues fits into
  an int64.

Pivot and tie-breaking rules (shared by :func:`solve` and :func:`reference_solve`)
---------------------------------------------------------------------------------
1. *Equation order.*  The selected equations are processed in ascending order of the key
   ``(max column id among its terms, number of stored terms, equation id)``: simple
   equations first.  The key depends only on the equation itself, so any subset of the
   equations is processed in the same relative order.  ``ties`` replaces the equation id by
   a number the caller gives each selected equation: the judge solves a slice of a large
   system as the smaller system ``reduce`` builds for the same seeds, whose ids differ.  (The "max column" and "number of
   terms" are read from the CSR as stored, before any reduction.)
2. *Forward elimination (online echelon form).*  An equation is loaded into a dense work
   vector and a set of touched columns (a two-level bitset in the numba kernel: a pivot
   row has no column above its pivot, so the touched columns are visited in strictly
   decreasing order by a downward scan; the back-substitution and the reference use a
   max-heap).  The largest column is taken repeatedly:
   a zero value is skipped; a column that already owns a pivot row is eliminated by
   subtracting ``value * pivot_row`` (one multiply-add per non-leading term of the
   pivot row); the first column with a non-zero value and no pivot becomes the row's
   pivot.  The remaining non-zero columns are collected (descending), the row is
   normalised to leading coefficient 1 and appended to the pivot storage, together with
   the id of the equation that produced it and its *dependency list*: the pivot rows
   subtracted while reducing it.  A pivot is therefore always the largest surviving
   column of its row, and the first equation (in the order of rule 1) that reaches a
   column claims it.  An equation that reduces to zero is *dependent* and is dropped.
3. *Back-substitution (targets only).*  For a target whose column owns a pivot row, the
   row (with the unit leading term moved to the other side) is reduced completely: every
   remaining column that owns a pivot row and has a non-zero value is eliminated, again
   from the largest column down; columns without a pivot are kept.  The result is
   ``target = sum(vals * I[cols])`` over non-pivot columns only.  A target without a
   pivot is returned as itself with coefficient 1 (the caller decides whether that is a
   master integral or an unreduced survivor).
4. *Mark and sweep.*  The pivot rows of the targets and all pivot rows used in their
   back-substitution are marked, then the closure under the forward dependency lists is
   taken (a single pass from the newest row to the oldest, since a row only depends on
   older rows).  The *trimmed equations* are the equation ids that produced the marked
   rows.  Re-solving with only the trimmed equations reproduces the target rows exactly.

Counters
--------
``multiply_adds_forward`` / ``multiply_adds_back`` count one per term update
``w[c] = w[c] - f * row[c]`` (normalisation by the inverse of the leading coefficient is
not counted).  ``fill_in`` is the number of stored non-zeros in all pivot rows, including
the unit leading entries.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ibp_evolve.reducer.modular import is_prime

__all__ = [
    "Solution",
    "solve",
    "reference_solve",
    "ForwardResult",
    "forward_eliminate",
    "mod_inverse",
    "warmup",
]

_I64 = np.int64


# ---------------------------------------------------------------------------
# Result container
# ---------------------------------------------------------------------------


@dataclass
class Solution:
    """Outcome of one solve (all counts are plain ints, all arrays int64 unless noted).

    * ``targets``: the target columns as given; ``target_rows[i] = (cols, vals)`` means
      ``targets[i] = sum(vals * I[cols])`` (mod ``prime``) with ``cols`` ascending and
      free of pivot columns -- except for a target without a pivot, which is returned as
      itself with coefficient 1 (see ``target_is_pivot``).  An empty row means zero.
    * ``pivot_columns``: sorted columns that received a pivot row; ``pivot_mask``: the
      same as a boolean array over all ``n_cols`` columns (:meth:`is_pivot`).  Columns
      without a pivot are masters (or unreduced survivors).
    * ``n_equations`` = len(selected); ``n_independent`` = number of pivot rows;
      ``n_dependent`` = equations that reduced to zero.
    * ``pivot_equations``: for each pivot row, in creation order, the equation id that
      produced it.
    * ``trimmed_equations``: sorted ids of the equations actually needed for the targets
      (mark and sweep); ``n_trimmed`` its length.
    * ``fill_in``: non-zeros stored in all pivot rows (unit leading entries included).
    * ``multiply_adds_forward`` / ``multiply_adds_back`` / ``multiply_adds`` (sum).
    * ``seconds``: wall time of the whole solve (``seconds_forward``: input checks,
      ordering and forward elimination; ``seconds_back``: back-substitution and sweep).
    """

    prime: int
    n_cols: int
    targets: np.ndarray
    pivot_columns: np.ndarray
    pivot_mask: np.ndarray
    n_equations: int
    n_independent: int
    target_rows: list
    trimmed_equations: np.ndarray
    n_trimmed: int
    fill_in: int
    multiply_adds_forward: int
    multiply_adds_back: int
    multiply_adds: int
    seconds: float
    seconds_forward: float = 0.0
    seconds_back: float = 0.0
    pivot_equations: np.ndarray = field(default_factory=lambda: np.zeros(0, _I64))

    @property
    def n_dependent(self) -> int:
        """Number of selected equations that reduced to zero."""
        return self.n_equations - self.n_independent

    def is_pivot(self, col: int) -> bool:
        """True if column ``col`` received a pivot row (i.e. it is not a master)."""
        return bool(self.pivot_mask[int(col)])

    @property
    def target_is_pivot(self) -> np.ndarray:
        """Boolean array: did target i own a pivot row (i.e. was it eliminated)?"""
        return self.pivot_mask[self.targets] if len(self.targets) else np.zeros(0, bool)

    def target_dict(self, i: int) -> dict:
        """Target ``i`` as a ``{col: coefficient}`` dict."""
        cols, vals = self.target_rows[i]
        return {int(c): int(v) for c, v in zip(cols, vals)}


# ---------------------------------------------------------------------------
# Input handling shared by both implementations
# ---------------------------------------------------------------------------


def _as_i64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=_I64).reshape(-1)


def _check_inputs(eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime):
    eq_ptr = _as_i64(eq_ptr)
    eq_cols = _as_i64(eq_cols)
    eq_vals = _as_i64(eq_vals)
    selected = _as_i64(selected)
    targets = _as_i64(targets)
    n_cols = int(n_cols)
    prime = int(prime)
    if not 2 <= prime < 2**31 or not _is_prime(prime):
        raise ValueError(f"prime must be a prime in [2, 2**31), got {prime}")
    if eq_cols.shape != eq_vals.shape:
        raise ValueError("eq_cols and eq_vals must have the same length")
    if len(eq_ptr) == 0 or eq_ptr[-1] > len(eq_cols):
        raise ValueError("eq_ptr is inconsistent with eq_cols")
    if n_cols < 0:
        raise ValueError("n_cols must be non-negative")
    if len(targets) and (targets.min() < 0 or targets.max() >= n_cols):
        raise ValueError("target column out of range")
    # selected ids, eq_ptr ranges and column ids are checked by _order_keys (numba) in
    # solve() and in Python by reference_solve()
    return eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime


_INPUT_ERRORS = {
    1: "selected equation id out of range",
    2: "eq_ptr is inconsistent with eq_cols (decreasing or past the end)",
    3: "column id out of range [0, n_cols) in a selected equation",
}


# the solver checks every prime it is given; one Miller-Rabin for the whole reducer
_is_prime = functools.lru_cache(maxsize=64)(is_prime)


def mod_inverse(a: int, p: int) -> int:
    """Inverse of ``a`` modulo the prime ``p`` (plain Python)."""
    return pow(int(a) % p, p - 2, p)


# ---------------------------------------------------------------------------
# Python wrappers
# ---------------------------------------------------------------------------


# A Python signal handler that raises (Ctrl-C's KeyboardInterrupt, the command line's SIGTERM
# handler) while a kernel runs fires when numba calls back into Python to box the kernel's
# results, and numba then hands on a broken tuple: the process dies of a segmentation fault
# (or, for one array, of a SystemError).  So the handlers only note a signal during a kernel
# call; it is raised again, and handled as usual, once the results are Python objects.
_HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _signals_held():
    if threading.current_thread() is not threading.main_thread():
        yield   # only the main thread runs Python signal handlers
        return
    caught: list[int] = []
    previous = {}
    for signum in _HELD_SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):   # SIG_IGN / SIG_DFL never call into Python
            previous[signum] = handler
            signal.signal(signum, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


def _equation_order(eq_ptr, eq_cols, selected, n_cols, ties=None):
    from ibp_evolve.reducer.kernels import _order_keys
    lead, nterm, status = _order_keys(eq_ptr, eq_cols, selected, n_cols)
    if status:
        raise ValueError(_INPUT_ERRORS[status])
    perm = np.lexsort((selected if ties is None else _tie_keys(ties, selected), nterm, lead))
    return selected[perm]


def _tie_keys(ties, selected) -> np.ndarray:
    ties = _as_i64(ties)
    if ties.shape != selected.shape:
        raise ValueError(f"ties: {len(ties)} keys for {len(selected)} selected equations")
    return ties


@dataclass
class ForwardResult:
    """Echelon form produced by :func:`forward_eliminate` (trimmed to n_rows)."""

    pivot_row: np.ndarray  # per column: index of its pivot row or -1
    row_ptr: np.ndarray
    row_cols: np.ndarray
    row_vals: np.ndarray
    row_eq: np.ndarray  # equation id that produced each row
    dep_ptr: np.ndarray
    dep_list: np.ndarray
    n_rows: int
    multiply_adds: int
    seconds: float


def forward_eliminate(eq_ptr, eq_cols, eq_vals, selected, n_cols, prime) -> ForwardResult:
    """Run only the forward elimination (rule 1 and 2); used by benchmarks."""
    eq_ptr, eq_cols, eq_vals, selected, n_cols, _, prime = _check_inputs(
        eq_ptr, eq_cols, eq_vals, selected, n_cols, np.zeros(0, _I64), prime)
    from ibp_evolve.reducer.kernels import _forward_kernel
    t0 = time.perf_counter()
    with _signals_held():
        order = _equation_order(eq_ptr, eq_cols, selected, n_cols)
        (pivot_row, row_ptr, row_cols, row_vals, row_eq, dep_ptr, dep_list,
         n_rows, n_madd) = _forward_kernel(eq_ptr, eq_cols, eq_vals, order, n_cols, prime)
    nnz = int(row_ptr[n_rows])
    ndep = int(dep_ptr[n_rows])
    return ForwardResult(
        pivot_row=pivot_row,
        row_ptr=row_ptr[: n_rows + 1],
        row_cols=row_cols[:nnz],
        row_vals=row_vals[:nnz],
        row_eq=row_eq[:n_rows],
        dep_ptr=dep_ptr[: n_rows + 1],
        dep_list=dep_list[:ndep],
        n_rows=int(n_rows),
        multiply_adds=int(n_madd),
        seconds=time.perf_counter() - t0,
    )


# Below this many stored terms in the selected equations, engine="auto" solves in plain Python:
# a kite or a box reduces in a few milliseconds there, while loading numba's compiled kernels
# costs about a second per process.  Once the kernels are loaded, "auto" always uses them.
AUTO_PYTHON_TERMS = 20_000


def _kernels_loaded() -> bool:
    return "ibp_evolve.reducer.kernels" in sys.modules


def solve(eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime,
          engine: str = "numba", ties=None) -> Solution:
    """Reduce ``targets`` with the equations ``selected`` of a CSR system over GF(prime).

    See the module docstring for the pivot rules and the meaning of every counter.
    ``engine``: "numba" (the compiled kernels), "python" (:func:`reference_solve`, identical
    results) or "auto" (Python for small systems while numba is not loaded yet).
    ``ties``: one key per selected equation, breaking ties in rule 1 instead of its id.
    """
    if engine == "auto":
        ptr, sel = _as_i64(eq_ptr), _as_i64(selected)
        try:
            terms = int((ptr[sel + 1] - ptr[sel]).sum())
        except IndexError:  # bad ids: the numba path reports them
            terms = AUTO_PYTHON_TERMS + 1
        engine = "python" if terms <= AUTO_PYTHON_TERMS and not _kernels_loaded() else "numba"
    if engine == "python":
        return reference_solve(eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime,
                               ties)
    if engine != "numba":
        raise ValueError(f"unknown solver engine '{engine}' (numba, python or auto)")
    from ibp_evolve.reducer.kernels import _back_kernel, _forward_kernel, _sweep_kernel
    t0 = time.perf_counter()
    eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime = _check_inputs(
        eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime)
    with _signals_held():   # one guard for the three kernels (it costs about 10 µs)
        order = _equation_order(eq_ptr, eq_cols, selected, n_cols, ties)
        (pivot_row, row_ptr, row_cols, row_vals, row_eq, dep_ptr, dep_list,
         n_rows, n_madd_f) = _forward_kernel(eq_ptr, eq_cols, eq_vals, order, n_cols, prime)
        t1 = time.perf_counter()
        res_ptr, res_cols, res_vals, used_ptr, used_rows, n_madd_b = _back_kernel(
            targets, pivot_row, row_ptr, row_cols, row_vals, n_cols, prime)
        trimmed = _sweep_kernel(used_rows, dep_ptr, dep_list, row_eq, n_rows)
    t2 = time.perf_counter()

    pivot_mask = pivot_row >= 0
    target_rows = [
        (res_cols[res_ptr[i]:res_ptr[i + 1]].copy(), res_vals[res_ptr[i]:res_ptr[i + 1]].copy())
        for i in range(len(targets))
    ]
    n_madd_f = int(n_madd_f)
    n_madd_b = int(n_madd_b)
    return Solution(
        prime=prime,
        n_cols=n_cols,
        targets=targets,
        pivot_columns=np.flatnonzero(pivot_mask).astype(_I64),
        pivot_mask=pivot_mask,
        n_equations=len(selected),
        n_independent=int(n_rows),
        target_rows=target_rows,
        trimmed_equations=trimmed,
        n_trimmed=len(trimmed),
        fill_in=int(row_ptr[n_rows]),
        multiply_adds_forward=n_madd_f,
        multiply_adds_back=n_madd_b,
        multiply_adds=n_madd_f + n_madd_b,
        seconds=time.perf_counter() - t0,
        seconds_forward=t1 - t0,
        seconds_back=t2 - t1,
        pivot_equations=row_eq[:n_rows].copy(),
    )


def warmup() -> None:
    """Compile (or load from the numba cache) every kernel on a tiny system."""
    ptr = np.array([0, 2, 4], _I64)
    cols = np.array([1, 0, 2, 1], _I64)
    vals = np.array([1, 2, 1, 3], _I64)
    solve(ptr, cols, vals, np.array([0, 1], _I64), 3, np.array([2], _I64), 10007)


# ---------------------------------------------------------------------------
# Plain-Python reference
# ---------------------------------------------------------------------------


def _subtract_row(work: dict, heap: list, f: int, row, p: int) -> None:
    """work -= f * row (mod p) on a sparse row; columns new to ``work`` join the max-heap."""
    for cc, v in row:
        if cc in work:
            work[cc] = (work[cc] - f * v) % p
        else:
            work[cc] = (-f * v) % p
            heapq.heappush(heap, -cc)


def reference_solve(eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime,
                    ties=None) -> Solution:
    """Dict-based pure-Python implementation of :func:`solve` (same rules and counters)."""
    t0 = time.perf_counter()
    eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime = _check_inputs(
        eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime)
    p = prime
    ptr = eq_ptr.tolist()
    cols_l = eq_cols.tolist()
    vals_l = eq_vals.tolist()
    sel = selected.tolist()

    for e in sel:
        if not 0 <= e < len(ptr) - 1:
            raise ValueError(_INPUT_ERRORS[1])
        if not 0 <= ptr[e] <= ptr[e + 1] <= len(cols_l):
            raise ValueError(_INPUT_ERRORS[2])
        if any(not 0 <= c < n_cols for c in cols_l[ptr[e]:ptr[e + 1]]):
            raise ValueError(_INPUT_ERRORS[3])

    tie = dict(zip(sel, sel if ties is None else _tie_keys(ties, selected).tolist()))

    def key(e):
        a, b = ptr[e], ptr[e + 1]
        return (max(cols_l[a:b], default=-1), b - a, tie[e])

    order = sorted(sel, key=key)

    pivot_of = {}  # column -> row index
    rows = []  # list of (pivot, [(col, val), ...] non-leading, descending)
    row_eq = []
    deps = []
    madd_f = 0
    for e in order:
        work = {}
        for k in range(ptr[e], ptr[e + 1]):
            c = cols_l[k]
            work[c] = (work.get(c, 0) + vals_l[k]) % p
        heap = [-c for c in work]
        heapq.heapify(heap)
        used = []
        piv = None
        while heap:
            c = -heapq.heappop(heap)
            f = work.pop(c)
            if f == 0:
                continue
            r = pivot_of.get(c)
            if r is None:
                piv = c
                break
            _subtract_row(work, heap, f, rows[r][1], p)
            madd_f += len(rows[r][1])
            used.append(r)
        if piv is None:
            continue
        inv = pow(f, p - 2, p)
        rest = [(c, work[c] * inv % p) for c in sorted(work, reverse=True) if work[c]]
        pivot_of[piv] = len(rows)
        rows.append((piv, rest))
        row_eq.append(e)
        deps.append(used)
    t1 = time.perf_counter()

    madd_b = 0
    target_rows = []
    marked = set()
    for tc in targets.tolist():
        r0 = pivot_of.get(tc)
        if r0 is None:
            target_rows.append((np.array([tc], _I64), np.array([1], _I64)))
            continue
        marked.add(r0)
        work = {c: (p - v) % p for c, v in rows[r0][1]}
        heap = [-c for c in work]
        heapq.heapify(heap)
        out = {}
        while heap:
            c = -heapq.heappop(heap)
            f = work.pop(c)
            if f == 0:
                continue
            r = pivot_of.get(c)
            if r is None:
                out[c] = f
                continue
            _subtract_row(work, heap, f, rows[r][1], p)
            madd_b += len(rows[r][1])
            marked.add(r)
        oc = sorted(out)
        target_rows.append((np.array(oc, _I64), np.array([out[c] for c in oc], _I64)))

    # mark and sweep
    stack = list(marked)
    while stack:
        r = stack.pop()
        for d in deps[r]:
            if d not in marked:
                marked.add(d)
                stack.append(d)
    trimmed = np.array(sorted(row_eq[r] for r in marked), _I64)

    pivot_mask = np.zeros(n_cols, bool)
    for c in pivot_of:
        pivot_mask[c] = True
    t2 = time.perf_counter()
    return Solution(
        prime=p,
        n_cols=n_cols,
        targets=targets,
        pivot_columns=np.array(sorted(pivot_of), _I64),
        pivot_mask=pivot_mask,
        n_equations=len(sel),
        n_independent=len(rows),
        target_rows=target_rows,
        trimmed_equations=trimmed,
        n_trimmed=len(trimmed),
        fill_in=sum(1 + len(r[1]) for r in rows),
        multiply_adds_forward=madd_f,
        multiply_adds_back=madd_b,
        multiply_adds=madd_f + madd_b,
        seconds=t2 - t0,
        seconds_forward=t1 - t0,
        seconds_back=t2 - t1,
        pivot_equations=np.array(row_eq, _I64),
    )
