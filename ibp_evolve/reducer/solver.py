"""Sparse Laporta solver over a prime field GF(p), numba-accelerated.

The solver takes a cached IBP equation system in CSR form (``eq_ptr``, ``eq_cols``,
``eq_vals``), a subset of equation ids (``selected``) and a list of target columns, and
reports how the targets reduce together with the cost of the reduction.  A plain-Python,
dict-based :func:`reference_solve` implements exactly the same rules; it is the oracle of
the tests and the baseline of ``benchmarks/solver_kernel.py``.

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
   equations is processed in the same relative order.  (The "max column" and "number of
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

import functools
import heapq
import time
from dataclasses import dataclass, field

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

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


@functools.lru_cache(maxsize=64)
def _is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for n < 3,215,031,751 (bases 2, 3, 5, 7)."""
    if n < 2:
        return False
    for q in (2, 3, 5, 7):
        if n % q == 0:
            return n == q
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 3, 5, 7):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def mod_inverse(a: int, p: int) -> int:
    """Inverse of ``a`` modulo the prime ``p`` (plain Python)."""
    return pow(int(a) % p, p - 2, p)


# ---------------------------------------------------------------------------
# numba kernels
# ---------------------------------------------------------------------------


@njit(cache=True)
def _inv_mod(a, p):
    """Modular inverse by the extended Euclidean algorithm (a in [1, p), p < 2**31).

    The quotients are taken in floating point: for 0 < r1 <= r0 < 2**31 the double
    quotient r0 / r1 is never rounded up to the next integer, so truncation is exact
    (and much cheaper than a 64-bit integer division).
    """
    r0 = p
    r1 = a
    s0 = 0
    s1 = 1
    while r1 != 0:
        q = np.int64(np.float64(r0) / np.float64(r1))
        r0, r1 = r1, r0 - q * r1
        s0, s1 = s1, s0 - q * s1
    # r0 == 1 for prime p; s0 * a == 1 (mod p) with |s0| < p
    if s0 < 0:
        s0 += p
    return s0


@njit(cache=True, inline="always")
def _reduce(x, p, pinv):
    """x mod p for 0 <= x < p*p + p, p < 2**31, pinv = 1.0 / p (no integer division).

    The floating-point quotient is off by at most one, fixed by two conditional steps.
    """
    q = np.int64(np.float64(x) * pinv)
    r = x - q * p
    if r < 0:
        r += p
    elif r >= p:
        r -= p
    return r


@njit(cache=True, inline="always")
def _residue(v, p):
    """Any int64 -> [0, p) with Python semantics; cheap when already reduced."""
    if v >= 0 and v < p:
        return v
    return v % p


@njit(cache=True)
def _order_keys(eq_ptr, eq_cols, selected, n_cols):
    """Sort keys (leading column, number of terms) of the selected equations.

    Also validates the input (the kernels run without bounds checks): returns a status
    code, 0 if fine, else a key of _INPUT_ERRORS.
    """
    m = selected.shape[0]
    n_eq = eq_ptr.shape[0] - 1
    nnz = eq_cols.shape[0]
    lead = np.empty(m, np.int64)
    nterm = np.empty(m, np.int64)
    for i in range(m):
        e = selected[i]
        if e < 0 or e >= n_eq:
            return lead, nterm, 1
        a = eq_ptr[e]
        b = eq_ptr[e + 1]
        if a < 0 or b < a or b > nnz:
            return lead, nterm, 2
        mx = -1
        mn = n_cols
        for k in range(a, b):
            c = eq_cols[k]
            if c > mx:
                mx = c
            if c < mn:
                mn = c
        if mx >= n_cols or mn < 0:
            return lead, nterm, 3
        lead[i] = mx
        nterm[i] = b - a
    return lead, nterm, 0


@njit(cache=True, inline="always")
def _heap_push(heap, size, c):
    """Push c onto the max-heap heap[0:size]; return the new size.

    (Indices are non-negative; the np.uint64 casts only spare numba's wraparound code.)
    """
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        pc = heap[np.uint64(parent)]
        if pc >= c:
            break
        heap[np.uint64(i)] = pc
        i = parent
    heap[np.uint64(i)] = c
    return size + 1


@njit(cache=True, inline="always")
def _heap_pop(heap, size):
    """Pop the maximum of heap[0:size] (size > 0); return (max, new_size).

    Leaves the sentinel -1 at heap[new_size] (the array has one spare slot), so the
    sift-down can read the right child without a bounds test.
    """
    top = heap[0]
    size -= 1
    last = heap[np.uint64(size)]
    heap[np.uint64(size)] = -1
    i = 0
    child = 1
    while child < size:
        cv = heap[np.uint64(child)]
        rv = heap[np.uint64(child + 1)]
        if rv > cv:
            child += 1
            cv = rv
        if cv <= last:
            break
        heap[np.uint64(i)] = cv
        i = child
        child = 2 * i + 1
    heap[np.uint64(i)] = last
    return top, size


@njit(cache=True, inline="always")
def _axpy(work, heap, size, row_cols, row_vals, a, b, nf, p, pinv):
    """work += nf * row_vals[a:b] at row_cols[a:b] (mod p), pushing new columns.

    ``work[c] == -1`` marks a column that is not in the heap.  Indices are cast to
    unsigned so that numba emits no negative-index wraparound code in the hottest loop.
    Returns the new heap size.
    """
    for k in range(np.uint64(a), np.uint64(b)):
        cc = row_cols[k]
        ucc = np.uint64(cc)
        w = work[ucc]
        if w >= 0:
            work[ucc] = _reduce(w + nf * row_vals[k], p, pinv)
        else:
            work[ucc] = _reduce(nf * row_vals[k], p, pinv)
            size = _heap_push(heap, size, cc)
    return size


@njit(cache=True)
def _grow(a, need):
    n = a.shape[0]
    if need <= n:
        return a
    m = max(2 * n, need, 16)
    b = np.empty(m, a.dtype)
    b[:n] = a
    return b


@intrinsic
def _clz64(typingctx, x):
    """Count leading zeros of a uint64 (LLVM ``ctlz``; undefined for 0, never called so)."""
    if not isinstance(x, types.Integer):
        return None
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 1))

    return sig, codegen


_ONE = np.uint64(1)
_U6 = np.uint64(6)
_U63 = np.uint64(63)


@njit(cache=True, inline="always")
def _high_bit(w):
    """Index of the highest set bit of a non-zero uint64 (as int64)."""
    return np.int64(_U63 - _clz64(w))


@njit(cache=True, inline="always")
def _mark(bits, summ, uc):
    """Mark column ``uc`` (uint64) in the two-level bitset (idempotent, branch-free)."""
    wi = uc >> _U6
    bits[wi] |= _ONE << (uc & _U63)
    summ[wi >> _U6] |= _ONE << (wi & _U63)


@njit(cache=True, inline="always")
def _next_word(summ, wi, lo_s):
    """Largest index < wi of a non-empty bitset word, or -1 if there is none.

    ``bits[wi]`` has just been found empty.  Clears the summary bits of wi and of the
    (already drained) words above it in the same summary word.  Summary words below
    ``lo_s`` are known to be empty.
    """
    si = wi >> 6
    s = summ[np.uint64(si)] & ((_ONE << np.uint64(wi & 63)) - _ONE)
    summ[np.uint64(si)] = s
    while s == 0:
        si -= 1
        if si < lo_s:
            return -1
        s = summ[np.uint64(si)]
    return (si << 6) + _high_bit(s)


@njit(cache=True)
def _forward_kernel(eq_ptr, eq_cols, eq_vals, order, n_cols, p):
    """Online echelon form; see the module docstring, rule 2.

    Returns (pivot_row, row_ptr, row_cols, row_vals, row_eq, dep_ptr, dep_list,
    n_rows, n_madd).  Arrays are over-allocated; only the first n_rows rows are valid.
    Row r occupies row_cols[row_ptr[r]:row_ptr[r+1]] with the pivot (value 1) first and
    the other columns in descending order.

    The touched columns of the equation being reduced are kept in a two-level bitset
    (``bits``: one bit per column, ``summ``: one bit per non-empty word of ``bits``).  A
    pivot row has no column above its pivot, so elimination only ever touches columns
    below the current one: the columns are visited in decreasing order by a downward scan
    of the bitset (no priority queue).  ``work[c]`` is 0 for an untouched column, and
    ``span[2c], span[2c+1]`` bound the non-leading terms of the pivot row of column c
    (-1: no pivot).  The hot loop indexes with unsigned integers (no negative-index
    wraparound code) and never reassigns an array (no reference counting): the
    dependency list and the new row are first collected in scratch arrays of n_cols.
    """
    U = np.uint64
    pivot_row = np.full(n_cols, -1, np.int64)
    span = np.full(2 * n_cols, -1, np.int64)
    work = np.zeros(n_cols, np.int64)
    n_words = (n_cols + 63) >> 6
    bits = np.zeros(n_words + 1, np.uint64)
    summ = np.zeros(((n_words + 63) >> 6) + 1, np.uint64)
    deps = np.empty(n_cols + 1, np.int64)  # rows subtracted from the current equation
    new_cols = np.empty(n_cols + 1, np.int64)  # the current row being collected
    new_vals = np.empty(n_cols + 1, np.int64)

    m = order.shape[0]
    cap_rows = max(m, 16)
    row_ptr = np.zeros(cap_rows + 1, np.int64)
    row_eq = np.empty(cap_rows, np.int64)
    dep_ptr = np.zeros(cap_rows + 1, np.int64)
    nnz_sel = 0
    for i in range(m):
        nnz_sel += eq_ptr[order[i] + 1] - eq_ptr[order[i]]
    cap = 2 * nnz_sel + 16
    row_cols = np.empty(cap, np.int64)
    row_vals = np.empty(cap, np.int64)
    dep_list = np.empty(cap, np.int64)

    pinv = 1.0 / p
    n_rows = 0
    n_madd = 0
    for i in range(m):
        e = order[i]
        a0 = eq_ptr[e]
        b0 = eq_ptr[e + 1]
        if a0 == b0:
            continue
        hi = -1
        lo = n_cols
        for k in range(a0, b0):
            c = eq_cols[k]
            uc = U(c)
            v = work[uc] + _residue(eq_vals[k], p)
            if v >= p:
                v -= p
            work[uc] = v
            _mark(bits, summ, uc)
            if c > hi:
                hi = c
            if c < lo:
                lo = c
        lo_s = lo >> 12

        nd = 0
        piv = -1
        pivf = 0
        wi = hi >> 6
        while wi >= 0:
            w = bits[U(wi)]
            if w == 0:
                wi = _next_word(summ, wi, lo_s)
                continue
            bit = _high_bit(w)
            bits[U(wi)] = w ^ (_ONE << U(bit))
            c = (wi << 6) + bit
            uc = U(c)
            f = work[uc]
            if f == 0:
                continue
            work[uc] = 0
            a = span[uc << _ONE]
            if a < 0:
                piv = c
                pivf = f
                break
            # eliminate: w -= f * row  (row leading coefficient is 1)
            b = span[(uc << _ONE) + _ONE]
            nf = p - f
            n_madd += b - a
            for k in range(U(a), U(b)):
                cc = U(row_cols[k])
                work[cc] = _reduce(work[cc] + nf * row_vals[k], p, pinv)
                _mark(bits, summ, cc)
            # the row is sorted descending: its last column is its smallest
            ls = row_cols[U(b - 1)] >> 12
            if ls < lo_s:
                lo_s = ls
            deps[U(nd)] = pivot_row[uc]
            nd += 1

        if piv < 0:
            continue  # dependent equation (the bitset and work are clean again)

        # new pivot row: the remaining non-zero columns, descending
        inv = _inv_mod(pivf, p) if pivf != 1 else 1
        nr = 0
        while wi >= 0:
            w = bits[U(wi)]
            if w == 0:
                wi = _next_word(summ, wi, lo_s)
                continue
            bit = _high_bit(w)
            bits[U(wi)] = w ^ (_ONE << U(bit))
            c = (wi << 6) + bit
            uc = U(c)
            v = work[uc]
            if v == 0:
                continue
            work[uc] = 0
            new_cols[U(nr)] = c
            new_vals[U(nr)] = _reduce(v * inv, p, pinv)
            nr += 1

        start = row_ptr[n_rows]
        pos = start + 1 + nr
        if pos > row_cols.shape[0]:
            row_cols = _grow(row_cols, pos)
            row_vals = _grow(row_vals, pos)
        row_cols[start] = piv
        row_vals[start] = 1
        row_cols[start + 1:pos] = new_cols[:nr]
        row_vals[start + 1:pos] = new_vals[:nr]
        dstart = dep_ptr[n_rows]
        if dstart + nd > dep_list.shape[0]:
            dep_list = _grow(dep_list, dstart + nd)
        dep_list[dstart:dstart + nd] = deps[:nd]
        if n_rows + 1 >= cap_rows:
            cap_rows = 2 * cap_rows
            row_ptr = _grow(row_ptr, cap_rows + 1)
            dep_ptr = _grow(dep_ptr, cap_rows + 1)
            row_eq = _grow(row_eq, cap_rows)
        row_eq[n_rows] = e
        pivot_row[piv] = n_rows
        span[2 * piv] = start + 1
        span[2 * piv + 1] = pos
        n_rows += 1
        row_ptr[n_rows] = pos
        dep_ptr[n_rows] = dstart + nd
    return (pivot_row, row_ptr, row_cols, row_vals, row_eq, dep_ptr, dep_list,
            n_rows, n_madd)


@njit(cache=True)
def _back_kernel(targets, pivot_row, row_ptr, row_cols, row_vals, n_cols, p):
    """Back-substitution of the targets; see the module docstring, rule 3.

    Returns (res_ptr, res_cols, res_vals, used_ptr, used_rows, n_madd).  Result columns
    are ascending; used_rows lists, per target, its own pivot row (if any) followed by
    every pivot row subtracted during its reduction.
    """
    work = np.full(n_cols, -1, np.int64)  # -1: column not touched (not in the heap)
    heap = np.empty(n_cols + 1, np.int64)  # + sentinel slot
    nt = targets.shape[0]
    res_ptr = np.zeros(nt + 1, np.int64)
    res_cols = np.empty(16, np.int64)
    res_vals = np.empty(16, np.int64)
    used_ptr = np.zeros(nt + 1, np.int64)
    used_rows = np.empty(16, np.int64)
    pinv = 1.0 / p
    n_madd = 0
    nres = 0
    nused = 0
    for t in range(nt):
        tc = targets[t]
        r0 = pivot_row[tc]
        if r0 < 0:
            res_cols = _grow(res_cols, nres + 1)
            res_vals = _grow(res_vals, nres + 1)
            res_cols[nres] = tc
            res_vals[nres] = 1
            nres += 1
            res_ptr[t + 1] = nres
            used_ptr[t + 1] = nused
            continue
        used_rows = _grow(used_rows, nused + 1)
        used_rows[nused] = r0
        nused += 1
        # I[tc] + sum v_j I[c_j] = 0  ->  I[tc] = sum (p - v_j) I[c_j]
        size = 0
        for k in range(row_ptr[r0] + 1, row_ptr[r0 + 1]):
            c = row_cols[k]
            work[c] = p - row_vals[k]
            size = _heap_push(heap, size, c)
        rstart = nres
        while size > 0:
            c, size = _heap_pop(heap, size)
            f = work[c]
            work[c] = -1
            if f == 0:
                continue
            r = pivot_row[c]
            if r < 0:
                if nres >= res_cols.shape[0]:
                    res_cols = _grow(res_cols, nres + 1)
                    res_vals = _grow(res_vals, nres + 1)
                res_cols[nres] = c
                res_vals[nres] = f
                nres += 1
                continue
            nf = p - f
            a = row_ptr[r] + 1
            b = row_ptr[r + 1]
            n_madd += b - a
            size = _axpy(work, heap, size, row_cols, row_vals, a, b, nf, p, pinv)
            if nused >= used_rows.shape[0]:
                used_rows = _grow(used_rows, nused + 1)
            used_rows[nused] = r
            nused += 1
        # columns were collected descending: reverse to ascending
        i = rstart
        j = nres - 1
        while i < j:
            tmp = res_cols[i]
            res_cols[i] = res_cols[j]
            res_cols[j] = tmp
            tmp = res_vals[i]
            res_vals[i] = res_vals[j]
            res_vals[j] = tmp
            i += 1
            j -= 1
        res_ptr[t + 1] = nres
        used_ptr[t + 1] = nused
    return res_ptr, res_cols[:nres], res_vals[:nres], used_ptr, used_rows[:nused], n_madd


@njit(cache=True)
def _sweep_kernel(used_rows, dep_ptr, dep_list, row_eq, n_rows):
    """Closure of used_rows under the dependency lists -> sorted equation ids."""
    marked = np.zeros(n_rows, np.bool_)
    for i in range(used_rows.shape[0]):
        marked[used_rows[i]] = True
    count = 0
    for r in range(n_rows - 1, -1, -1):
        if marked[r]:
            count += 1
            for k in range(dep_ptr[r], dep_ptr[r + 1]):
                marked[dep_list[k]] = True
    out = np.empty(count, np.int64)
    j = 0
    for r in range(n_rows):
        if marked[r]:
            out[j] = row_eq[r]
            j += 1
    out.sort()
    return out


# ---------------------------------------------------------------------------
# Python wrappers
# ---------------------------------------------------------------------------


def _equation_order(eq_ptr, eq_cols, selected, n_cols):
    lead, nterm, status = _order_keys(eq_ptr, eq_cols, selected, n_cols)
    if status:
        raise ValueError(_INPUT_ERRORS[status])
    perm = np.lexsort((selected, nterm, lead))
    return selected[perm]


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
    t0 = time.perf_counter()
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


def solve(eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime) -> Solution:
    """Reduce ``targets`` with the equations ``selected`` of a CSR system over GF(prime).

    See the module docstring for the pivot rules and the meaning of every counter.
    """
    t0 = time.perf_counter()
    eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime = _check_inputs(
        eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime)
    order = _equation_order(eq_ptr, eq_cols, selected, n_cols)
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


def reference_solve(eq_ptr, eq_cols, eq_vals, selected, n_cols, targets, prime) -> Solution:
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

    def key(e):
        a, b = ptr[e], ptr[e + 1]
        return (max(cols_l[a:b], default=-1), b - a, e)

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
            for cc, v in rows[r][1]:
                if cc in work:
                    work[cc] = (work[cc] - f * v) % p
                else:
                    work[cc] = (-f * v) % p
                    heapq.heappush(heap, -cc)
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
            for cc, v in rows[r][1]:
                if cc in work:
                    work[cc] = (work[cc] - f * v) % p
                else:
                    work[cc] = (-f * v) % p
                    heapq.heappush(heap, -cc)
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
