"""The numba kernels of the sparse Laporta solver (see :mod:`ibp_evolve.reducer.solver` for the
pivot rules, the counters and the Python wrappers).

Kept apart so that importing the solver does not import numba: loading numba and its cached
machine code costs about a second, more than a whole reduction of a small family, which the
plain-Python reference path of :func:`ibp_evolve.reducer.solver.solve` handles instead.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


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

        # one downward scan of the touched columns: eliminate until the first column without
        # a pivot row (the new pivot), then collect the rest, normalised, as the new row
        nd = 0
        nr = 0
        piv = -1
        inv = 1
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
            if piv >= 0:
                new_cols[U(nr)] = c
                new_vals[U(nr)] = _reduce(f * inv, p, pinv)
                nr += 1
                continue
            a = span[uc << _ONE]
            if a < 0:
                piv = c
                if f != 1:
                    inv = _inv_mod(f, p)
                continue
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


