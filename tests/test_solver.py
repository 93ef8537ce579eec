"""Tests of the GF(p) Laporta solver (ibp_evolve.reducer.solver)."""

from __future__ import annotations

import numpy as np
import pytest

from ibp_evolve.reducer.solver import Solution, forward_eliminate, mod_inverse, reference_solve, solve

PRIMES = [2147483647, 10007, 101]
SEEDS = [0, 1, 2, 3, 4]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def make_csr(equations):
    """equations: list of dicts {col: val} (or lists of (col, val))."""
    ptr = [0]
    cols, vals = [], []
    for eq in equations:
        items = list(eq.items()) if isinstance(eq, dict) else list(eq)
        for c, v in items:
            cols.append(c)
            vals.append(v)
        ptr.append(len(cols))
    return (np.array(ptr, np.int64), np.array(cols, np.int64), np.array(vals, np.int64))


def random_system(seed, prime, n_cols=40, n_eq=32, n_dep=8):
    """Random banded-ish sparse system with some exact linear dependencies.

    Columns of each equation are drawn near a random "centre", so elimination produces
    fill-in and multi-step back-substitution; a few extra equations are random linear
    combinations of earlier ones (dependent by construction).
    """
    rng = np.random.default_rng(seed)
    eqs = []
    for _ in range(n_eq):
        centre = int(rng.integers(0, n_cols))
        k = int(rng.integers(2, 7))
        lo, hi = max(0, centre - 8), min(n_cols, centre + 3)
        cols = rng.choice(np.arange(lo, hi), size=min(k, hi - lo), replace=False)
        vals = rng.integers(1, prime, size=len(cols))
        eqs.append({int(c): int(v) for c, v in zip(cols, vals)})
    for _ in range(n_dep):
        a, b = rng.choice(len(eqs), size=2, replace=False)
        fa, fb = (int(x) for x in rng.integers(1, prime, size=2))
        comb = {}
        for eq, f in ((eqs[a], fa), (eqs[b], fb)):
            for c, v in eq.items():
                comb[c] = (comb.get(c, 0) + f * v) % prime
        comb = {c: v for c, v in comb.items() if v}
        if comb:
            eqs.append(comb)
    # shuffle the columns inside each equation (arbitrary order is allowed)
    eqs = [dict(sorted(eq.items(), key=lambda _: rng.random())) for eq in eqs]
    ptr, cols, vals = make_csr(eqs)
    return ptr, cols, vals, eqs


def dense_rank(rows, n_cols, p):
    """Rank of a list of dense integer rows modulo p (plain Python, independent)."""
    mat = [[x % p for x in r] for r in rows]
    rank = 0
    for col in range(n_cols):
        piv = next((i for i in range(rank, len(mat)) if mat[i][col]), None)
        if piv is None:
            continue
        mat[rank], mat[piv] = mat[piv], mat[rank]
        inv = pow(mat[rank][col], p - 2, p)
        mat[rank] = [x * inv % p for x in mat[rank]]
        for i in range(len(mat)):
            if i != rank and mat[i][col]:
                f = mat[i][col]
                mat[i] = [(x - f * y) % p for x, y in zip(mat[i], mat[rank])]
        rank += 1
    return rank


def dense_rows(eqs, selected, n_cols):
    out = []
    for e in selected:
        row = [0] * n_cols
        for c, v in eqs[e].items():
            row[c] += v
        out.append(row)
    return out


def assert_same(a: Solution, b: Solution):
    np.testing.assert_array_equal(a.pivot_columns, b.pivot_columns)
    np.testing.assert_array_equal(a.pivot_mask, b.pivot_mask)
    assert a.n_equations == b.n_equations
    assert a.n_independent == b.n_independent
    assert len(a.target_rows) == len(b.target_rows)
    for (ca, va), (cb, vb) in zip(a.target_rows, b.target_rows):
        np.testing.assert_array_equal(ca, cb)
        np.testing.assert_array_equal(va, vb)
    np.testing.assert_array_equal(a.trimmed_equations, b.trimmed_equations)
    assert a.n_trimmed == b.n_trimmed
    assert a.fill_in == b.fill_in
    assert a.multiply_adds_forward == b.multiply_adds_forward
    assert a.multiply_adds_back == b.multiply_adds_back
    assert a.multiply_adds == b.multiply_adds
    np.testing.assert_array_equal(a.pivot_equations, b.pivot_equations)


def pick_targets(rng, n_cols, k=6):
    return np.sort(rng.choice(n_cols, size=k, replace=False)).astype(np.int64)


# ---------------------------------------------------------------------------
# hand-made systems
# ---------------------------------------------------------------------------


def test_hand_made_chain():
    p = 10007
    # x2 - 3 x0 - x1 = 0 ; x1 - 2 x0 = 0   =>  x2 = 5 x0, x1 = 2 x0
    ptr, cols, vals = make_csr([{0: -3, 2: 1, 1: -1}, {1: 1, 0: p - 2}])
    for fn in (solve, reference_solve):
        s = fn(ptr, cols, vals, np.array([0, 1]), 3, np.array([2, 1, 0]), p)
        assert s.target_dict(0) == {0: 5}
        assert s.target_dict(1) == {0: 2}
        assert s.target_dict(2) == {0: 1}  # master: itself
        np.testing.assert_array_equal(s.pivot_columns, [1, 2])
        assert s.is_pivot(2) and s.is_pivot(1) and not s.is_pivot(0)
        assert list(s.target_is_pivot) == [True, True, False]
        assert s.n_independent == 2 and s.n_dependent == 0
        np.testing.assert_array_equal(s.trimmed_equations, [0, 1])
        # eq1 (leading column 1) goes first: row x1 - 2 x0; eq0 then claims x2 at once:
        # row x2 - x1 - 3 x0.  Back-substitution of x2 eliminates x1 (1 multiply-add).
        np.testing.assert_array_equal(s.pivot_equations, [1, 0])
        assert s.fill_in == 5
        assert s.multiply_adds_forward == 0
        assert s.multiply_adds_back == 1
        assert s.multiply_adds == 1


def test_hand_made_scaled_and_masters():
    p = 2147483647
    # 2 x3 + 4 x1 = 0 ; 5 x2 - x3 + x0 = 0  =>  x3 = -2 x1 ; x2 = (x3 - x0)/5 = (-2 x1 - x0)/5
    ptr, cols, vals = make_csr([{3: 2, 1: 4}, {2: 5, 3: -1, 0: 1}])
    s = solve(ptr, cols, vals, [0, 1], 4, [3, 2], p)
    inv5 = mod_inverse(5, p)
    assert s.target_dict(0) == {1: p - 2}
    assert s.target_dict(1) == {0: (-1 * inv5) % p, 1: (-2 * inv5) % p}
    assert_same(s, reference_solve(ptr, cols, vals, [0, 1], 4, [3, 2], p))


def test_negative_and_unreduced_values_are_taken_mod_p():
    """Values outside [0, p) (e.g. negative) are reduced with Python semantics in numba."""
    p = 10007
    good = make_csr([{2: 1, 0: p - 3, 1: p - 1}, {1: 1, 0: p - 2}])
    bad = make_csr([{2: 1 + 5 * p, 0: -3, 1: -1 - p}, {1: 1, 0: -2 - 7 * p}])
    a = solve(*good, [0, 1], 3, [2], p)
    b = solve(*bad, [0, 1], 3, [2], p)
    assert_same(a, b)
    assert_same(b, reference_solve(*bad, [0, 1], 3, [2], p))
    assert b.target_dict(0) == {0: 5}


def test_mod_inverse_kernel():
    from ibp_evolve.reducer.kernels import _inv_mod

    for p in (2147483647, 10007, 101, 2):
        for a in {1, 2 % p or 1, p - 1, 12345 % p or 1, 999999 % p or 1}:
            inv = _inv_mod(a, p)
            assert 0 <= inv < p
            assert a * inv % p == 1


def test_duplicate_and_dependent_equations():
    p = 10007
    eqs = [
        {3: 1, 2: 2, 0: 1},
        {3: 2, 2: 4, 0: 2},  # 2 x eq0 -> dependent
        {2: 1, 1: 1},
        {2: 1, 1: 1},  # duplicate of eq2 -> dependent
        {3: 1, 1: p - 1, 0: 1},  # eq0 - 2*eq2 ... = x3 + 2x2 + x0 - 2x2 - 2x1 -> not it
        {3: 3, 2: 6, 0: 3, 1: 0 + 1},  # independent? 3*eq0 + x1
    ]
    ptr, cols, vals = make_csr(eqs)
    sel = np.arange(len(eqs))
    s = solve(ptr, cols, vals, sel, 4, [3, 2, 1], p)
    r = reference_solve(ptr, cols, vals, sel, 4, [3, 2, 1], p)
    assert_same(s, r)
    rank = dense_rank(dense_rows(eqs, sel, 4), 4, p)
    assert s.n_independent == rank
    assert s.n_dependent == len(eqs) - rank
    # eq0, eq2 and eq4 = x3 - x1 + x0 span the system (eq4 - (eq0 - 2 eq2) = x1, so eq5 =
    # 3 eq0 + x1 depends on them): rank 3 of 4 unknowns
    assert rank == 3
    # eq1 and eq3 are dependent: never producers of pivot rows
    assert 1 not in set(s.pivot_equations.tolist())
    assert 3 not in set(s.pivot_equations.tolist())
    # only duplicates: everything after the first copy is dependent
    ptr2, cols2, vals2 = make_csr([{1: 1, 0: 3}] * 5)
    s2 = solve(ptr2, cols2, vals2, np.arange(5), 2, [1], p)
    assert s2.n_equations == 5 and s2.n_independent == 1 and s2.n_dependent == 4
    np.testing.assert_array_equal(s2.trimmed_equations, [0])  # smallest id wins the tie
    assert s2.target_dict(0) == {0: p - 3}


def test_primality_check():
    from ibp_evolve.reducer.solver import _is_prime

    small = [n for n in range(2000) if n > 1 and all(n % q for q in range(2, int(n**0.5) + 1))]
    assert [n for n in range(2000) if _is_prime(n)] == small
    assert _is_prime(2147483647) and not _is_prime(2147483647 - 2) and _is_prime(2147483629)
    assert not _is_prime(25326001)  # strong pseudoprime to bases 2, 3, 5


@pytest.mark.parametrize("prime", [2147483647, 10007, 7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_long_rows_match_reference(seed, prime):
    """Dense-ish rows (long remainders, many touched columns per bitset word)."""
    rng = np.random.default_rng(500 + seed)
    n_cols, eqs = 90, []
    for _ in range(70):
        k = int(rng.integers(20, 60))
        cols = rng.choice(n_cols, size=k, replace=False)
        eqs.append({int(c): int(v) for c, v in zip(cols, rng.integers(1, prime, size=k))})
    eqs.append({})  # an empty equation is trivially dependent
    ptr, cols, vals = make_csr(eqs)
    sel = rng.permutation(len(eqs)).astype(np.int64)
    targets = pick_targets(rng, n_cols, k=10)
    a = solve(ptr, cols, vals, sel, n_cols, targets, prime)
    assert_same(a, reference_solve(ptr, cols, vals, sel, n_cols, targets, prime))
    assert a.fill_in > 30 * a.n_independent  # the long-row code path is exercised
    rows = dense_rows(eqs, sel, n_cols)
    assert a.n_independent == dense_rank(rows, n_cols, prime)


def test_empty_selection_and_no_targets():
    p = 10007
    ptr, cols, vals = make_csr([{1: 1, 0: 3}])
    s = solve(ptr, cols, vals, np.zeros(0, np.int64), 2, [1], p)
    assert s.n_independent == 0 and s.n_trimmed == 0 and s.target_dict(0) == {1: 1}
    assert len(s.pivot_columns) == 0
    s = solve(ptr, cols, vals, [0], 2, np.zeros(0, np.int64), p)
    assert s.target_rows == [] and s.n_trimmed == 0 and s.n_independent == 1


def test_invalid_inputs():
    ptr, cols, vals = make_csr([{1: 1, 0: 3}])
    with pytest.raises(ValueError):
        solve(ptr, cols, vals, [0], 2, [1], 2**31 + 11)
    with pytest.raises(ValueError):
        solve(ptr, cols, vals, [0], 2, [1], 10005)  # not a prime
    with pytest.raises(ValueError):
        solve(ptr, cols, vals, [1], 2, [1], 101)
    for fn in (solve, reference_solve):
        with pytest.raises(ValueError, match="target"):
            fn(ptr, cols, vals, [0], 2, [2], 101)
        with pytest.raises(ValueError, match="selected"):
            fn(ptr, cols, vals, [1], 2, [1], 101)
        with pytest.raises(ValueError, match="column id"):
            fn(ptr, cols, vals, [0], 1, [0], 101)  # column 1 >= n_cols
        with pytest.raises(ValueError, match="column id"):
            fn(ptr, np.array([1, -1]), vals, [0], 2, [0], 101)
        with pytest.raises(ValueError, match="eq_ptr"):
            fn(np.array([0, 3]), cols, vals, [0], 2, [0], 101)


# ---------------------------------------------------------------------------
# random systems
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("prime", PRIMES)
@pytest.mark.parametrize("seed", SEEDS)
def test_numba_matches_reference(seed, prime):
    ptr, cols, vals, eqs = random_system(seed, prime)
    rng = np.random.default_rng(100 + seed)
    n_cols = 40
    sel = rng.permutation(len(eqs)).astype(np.int64)
    targets = pick_targets(rng, n_cols)
    a = solve(ptr, cols, vals, sel, n_cols, targets, prime)
    b = reference_solve(ptr, cols, vals, sel, n_cols, targets, prime)
    assert_same(a, b)
    # the systems must be non-trivial for the comparison to mean something
    assert a.multiply_adds_forward > 0
    assert a.n_dependent > 0
    # order of `selected` does not matter
    assert_same(a, solve(ptr, cols, vals, np.sort(sel), n_cols, targets, prime))


@pytest.mark.parametrize("prime", PRIMES)
@pytest.mark.parametrize("seed", SEEDS)
def test_target_rows_lie_in_row_space(seed, prime):
    n_cols = 40
    ptr, cols, vals, eqs = random_system(seed, prime, n_cols=n_cols)
    rng = np.random.default_rng(200 + seed)
    sel = np.sort(rng.choice(len(eqs), size=len(eqs) - 15, replace=False)).astype(np.int64)
    targets = pick_targets(rng, n_cols, k=8)
    s = solve(ptr, cols, vals, sel, n_cols, targets, prime)

    rows = dense_rows(eqs, sel, n_cols)
    rank = dense_rank(rows, n_cols, prime)
    assert s.n_independent == rank
    assert len(s.pivot_columns) == rank
    for t, (rc, rv) in zip(targets, s.target_rows):
        assert np.all(np.diff(rc) > 0), "result columns must be ascending"
        assert np.all((rv > 0) & (rv < prime))
        if s.is_pivot(t):
            assert not np.any(s.pivot_mask[rc]), "result must contain non-pivot columns only"
            assert np.all(rc < t)
            v = [0] * n_cols
            v[int(t)] = 1
            for c, x in zip(rc, rv):
                v[int(c)] = (v[int(c)] - int(x)) % prime
            assert dense_rank(rows + [v], n_cols, prime) == rank
            # a perturbed result is detected (the check can fail): adding any non-pivot
            # column takes the vector out of the row space
            m = int(np.flatnonzero(~s.pivot_mask)[0])
            v[m] = (v[m] + 1) % prime
            assert dense_rank(rows + [v], n_cols, prime) == rank + 1
        else:
            assert rc.tolist() == [t] and rv.tolist() == [1]


@pytest.mark.parametrize("prime", PRIMES)
@pytest.mark.parametrize("seed", SEEDS)
def test_trimmed_equations_reproduce_targets(seed, prime):
    n_cols = 40
    ptr, cols, vals, eqs = random_system(seed, prime, n_cols=n_cols)
    rng = np.random.default_rng(300 + seed)
    sel = rng.permutation(len(eqs)).astype(np.int64)
    targets = pick_targets(rng, n_cols, k=3)
    s = solve(ptr, cols, vals, sel, n_cols, targets, prime)
    assert set(s.trimmed_equations.tolist()) <= set(sel.tolist())
    assert s.n_trimmed == len(s.trimmed_equations) <= s.n_independent
    assert set(s.trimmed_equations.tolist()) <= set(s.pivot_equations.tolist())
    t = solve(ptr, cols, vals, s.trimmed_equations, n_cols, targets, prime)
    for (ca, va), (cb, vb) in zip(s.target_rows, t.target_rows):
        np.testing.assert_array_equal(ca, cb)
        np.testing.assert_array_equal(va, vb)
    # trimming is idempotent and every trimmed equation is independent
    np.testing.assert_array_equal(t.trimmed_equations, s.trimmed_equations)
    assert t.n_independent == t.n_equations == s.n_trimmed
    assert t.multiply_adds_back == s.multiply_adds_back
    assert_same(t, reference_solve(ptr, cols, vals, s.trimmed_equations, n_cols, targets, prime))


def test_trimming_drops_unrelated_equations():
    p = 10007
    # block A on columns 0..2 (reaches target 2), block B on columns 3..5 (unrelated)
    eqs = [{2: 1, 1: 3}, {1: 1, 0: 4}, {5: 1, 4: 2}, {4: 1, 3: 5}, {2: 2, 1: 6}]
    ptr, cols, vals = make_csr(eqs)
    s = solve(ptr, cols, vals, np.arange(5), 6, [2], p)
    np.testing.assert_array_equal(s.trimmed_equations, [0, 1])
    assert s.n_independent == 4 and s.n_dependent == 1
    assert s.target_dict(0) == {0: 12}  # x2 = -3 x1 = 12 x0


@pytest.mark.parametrize("prime", [2147483647, 10007])
@pytest.mark.parametrize("seed", SEEDS)
def test_subset_equals_fresh_csr(seed, prime):
    n_cols = 40
    ptr, cols, vals, eqs = random_system(seed, prime, n_cols=n_cols)
    rng = np.random.default_rng(400 + seed)
    subset = np.sort(rng.choice(len(eqs), size=len(eqs) // 2, replace=False)).astype(np.int64)
    targets = pick_targets(rng, n_cols)
    a = solve(ptr, cols, vals, rng.permutation(subset), n_cols, targets, prime)
    # fresh CSR of just those equations, in the same relative order (so id tie-breaks agree)
    fptr, fcols, fvals = make_csr([eqs[e] for e in subset])
    b = solve(fptr, fcols, fvals, np.arange(len(subset)), n_cols, targets, prime)
    np.testing.assert_array_equal(a.pivot_columns, b.pivot_columns)
    assert a.n_equations == b.n_equations == len(subset)
    assert a.n_independent == b.n_independent
    for (ca, va), (cb, vb) in zip(a.target_rows, b.target_rows):
        np.testing.assert_array_equal(ca, cb)
        np.testing.assert_array_equal(va, vb)
    np.testing.assert_array_equal(a.trimmed_equations, subset[b.trimmed_equations])
    np.testing.assert_array_equal(a.pivot_equations, subset[b.pivot_equations])
    assert (a.fill_in, a.multiply_adds_forward, a.multiply_adds_back) == (
        b.fill_in, b.multiply_adds_forward, b.multiply_adds_back)


@pytest.mark.parametrize("engine", ["numba", "python"])
@pytest.mark.parametrize("seed", SEEDS)
def test_ties_solve_a_slice_as_a_fresh_csr_numbered_in_the_given_order(seed, engine):
    """A subset solved with ``ties`` = its positions is the fresh CSR of those equations in
    that (shuffled) order, tie for tie: how the judge solves a slice of a universe as the
    system ``reduce`` builds for the same seeds."""
    prime, n_cols = 10007, 40
    ptr, cols, vals, eqs = random_system(seed, prime, n_cols=n_cols)
    # equal equations under a new id: ties on (leading column, terms) that only ids break
    ptr, cols, vals = make_csr(eqs + eqs)
    rng = np.random.default_rng(500 + seed)
    subset = rng.choice(2 * len(eqs), size=len(eqs), replace=False).astype(np.int64)
    targets = pick_targets(rng, n_cols)
    a = solve(ptr, cols, vals, subset, n_cols, targets, prime, engine=engine,
              ties=np.arange(len(subset)))
    fptr, fcols, fvals = make_csr([(eqs + eqs)[e] for e in subset])
    b = solve(fptr, fcols, fvals, np.arange(len(subset)), n_cols, targets, prime)
    np.testing.assert_array_equal(a.pivot_equations, subset[b.pivot_equations])
    np.testing.assert_array_equal(a.trimmed_equations, np.sort(subset[b.trimmed_equations]))
    assert (a.fill_in, a.multiply_adds_forward, a.multiply_adds_back) == (
        b.fill_in, b.multiply_adds_forward, b.multiply_adds_back)
    with pytest.raises(ValueError, match="ties: 1 keys for"):
        solve(ptr, cols, vals, subset, n_cols, targets, prime, engine=engine, ties=[0])


def test_equation_order_simple_first():
    """Smaller leading column first, then fewer terms, then smaller id."""
    p = 10007
    # both equations lead with column 2; eq0 has 3 terms, eq1 has 2 -> eq1 claims x2
    eqs = [{2: 1, 1: 1, 0: 1}, {2: 1, 0: 2}]
    ptr, cols, vals = make_csr(eqs)
    s = solve(ptr, cols, vals, [0, 1], 3, [2], p)
    np.testing.assert_array_equal(s.pivot_equations, [1, 0])
    np.testing.assert_array_equal(s.pivot_columns, [1, 2])
    assert s.target_dict(0) == {0: p - 2}
    np.testing.assert_array_equal(s.trimmed_equations, [1])
    assert_same(s, reference_solve(ptr, cols, vals, [0, 1], 3, [2], p))


@pytest.mark.parametrize("prime", [2147483647, 10007, 5])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_wide_sparse_columns_match_reference(seed, prime):
    """Columns spread over many bitset words and summary words of the forward kernel.

    The kernel visits touched columns with a two-level bitset (64 columns per word, 4096
    per summary word): use columns on both sides of those boundaries, equations spanning
    several summary words, and exact dependencies that reduce all the way to zero.
    """
    rng = np.random.default_rng(900 + seed)
    n_cols = 3 * 4096 + 70
    edges = [0, 1, 62, 63, 64, 65, 127, 128, 4031, 4032, 4095, 4096, 4097, 8191, 8192,
             8193, 12287, 12288, n_cols - 1]
    pool = np.unique(np.concatenate([edges, rng.choice(n_cols, size=40, replace=False)]))
    eqs = []
    for _ in range(70):
        # local equations (a few neighbouring pool columns), so that eliminations cascade
        # downwards across word and summary-word boundaries
        k = int(rng.integers(2, 6))
        top = int(rng.integers(k, len(pool) + 1))
        cols = rng.choice(pool[max(0, top - 7):top], size=k, replace=False)
        eqs.append({int(c): int(v) for c, v in zip(cols, rng.integers(1, prime, size=k))})
    for _ in range(40):
        a, b = rng.choice(len(eqs), size=2, replace=False)
        fa, fb = (int(x) for x in rng.integers(1, prime, size=2))
        comb = {}
        for eq, f in ((eqs[a], fa), (eqs[b], fb)):
            for c, v in eq.items():
                comb[c] = (comb.get(c, 0) + f * v) % prime
        eqs.append(comb)  # may hold explicit zeros: fine
    ptr, cols, vals = make_csr(eqs)
    sel = rng.permutation(len(eqs)).astype(np.int64)
    targets = np.sort(rng.choice(pool, size=8, replace=False)).astype(np.int64)
    a = solve(ptr, cols, vals, sel, n_cols, targets, prime)
    assert_same(a, reference_solve(ptr, cols, vals, sel, n_cols, targets, prime))
    assert a.n_dependent >= 40 and a.multiply_adds_forward > 0
    fw = forward_eliminate(ptr, cols, vals, sel, n_cols, prime)
    # rows: pivot first with value 1, then strictly descending columns with values in [1, p)
    for r in range(fw.n_rows):
        rc = fw.row_cols[fw.row_ptr[r]:fw.row_ptr[r + 1]]
        rv = fw.row_vals[fw.row_ptr[r]:fw.row_ptr[r + 1]]
        assert rv[0] == 1 and fw.pivot_row[rc[0]] == r
        assert np.all(np.diff(rc) < 0) and np.all((rv > 0) & (rv < prime))
    # dependency lists point to older rows only
    for r in range(fw.n_rows):
        assert np.all(fw.dep_list[fw.dep_ptr[r]:fw.dep_ptr[r + 1]] < r)


@pytest.mark.parametrize("engine", ["python", "auto"])
def test_every_engine_gives_the_numba_solution(engine):
    prime = PRIMES[0]
    ptr, cols, vals, eqs = random_system(3, prime)
    rng = np.random.default_rng(7)
    sel = rng.permutation(len(eqs)).astype(np.int64)
    targets = pick_targets(rng, 40)
    assert_same(solve(ptr, cols, vals, sel, 40, targets, prime, engine=engine),
                solve(ptr, cols, vals, sel, 40, targets, prime, engine="numba"))
    with pytest.raises(ValueError, match="unknown solver engine"):
        solve(ptr, cols, vals, sel, 40, targets, prime, engine="gpu")


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_ctrl_c_during_a_kernel_is_raised_after_the_kernel_returns(monkeypatch, signame):
    """A Python handler that raises inside a numba kernel fires while numba boxes the results
    and leaves a broken tuple behind (Ctrl-C or `kill` during a large `reduce` died of a
    segmentation fault): the signal must wait until the kernel's results are Python objects."""
    import os
    import signal

    from ibp_evolve.reducer import kernels
    signum = getattr(signal, signame)
    real_forward = kernels._forward_kernel
    finished = []

    def forward_hit_by_a_signal(*args):
        os.kill(os.getpid(), signum)        # the user presses Ctrl-C (or kill PID) now ...
        for _ in range(1000):               # ... while numba still calls into Python
            pass
        result = real_forward(*args)
        finished.append(True)
        return result

    def interrupt(number, frame):
        raise KeyboardInterrupt
    monkeypatch.setattr(kernels, "_forward_kernel", forward_hit_by_a_signal)
    previous = signal.signal(signum, interrupt)
    try:
        ptr, cols, vals = make_csr([{0: 1, 1: 2}, {1: 1, 2: 1}])
        with pytest.raises(KeyboardInterrupt):
            solve(ptr, cols, vals, np.arange(2), 3, np.array([2]), 101)
    finally:
        signal.signal(signum, previous)
    assert finished == [True]
    assert signal.getsignal(signum) is previous
