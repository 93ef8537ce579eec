import random
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import sympy

from ibp_evolve.reducer.modular import (
    PRIMES,
    PointParseError,
    PoleError,
    Reconstructor,
    crt,
    format_fraction,
    format_point,
    mod_inverse,
    parse_point,
    random_point,
    rational_reconstruct,
    reconstruct_with,
    to_mod,
)


# -- primes -----------------------------------------------------------------

def test_primes_list():
    assert len(PRIMES) >= 40
    assert len(set(PRIMES)) == len(PRIMES)
    assert PRIMES[:2] == (2147483647, 2147483629)
    assert all(p < 2**31 for p in PRIMES)
    assert list(PRIMES) == sorted(PRIMES, reverse=True)
    assert all(sympy.isprime(p) for p in PRIMES)
    # they are exactly the largest primes below 2^31, none skipped
    p = 2**31
    for q in PRIMES:
        p = sympy.prevprime(p)
        assert q == p


def test_import_is_light():
    code = (
        "import sys, time; t=time.perf_counter(); import ibp_evolve.reducer.modular; "
        "print(time.perf_counter()-t); print('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[1] == "False"
    assert float(out[0]) < 0.5  # generous; typically a few ms


# -- scalar helpers ---------------------------------------------------------

def test_to_mod_basic_and_negative():
    p = PRIMES[0]
    assert to_mod(5, p) == 5
    assert to_mod(-1, p) == p - 1
    assert to_mod(np.int64(-3), p) == p - 3
    for x in [Fraction(-3, 7), Fraction(-1, 2), Fraction(22, -9), "-17/3", "-0.25"]:
        fr = Fraction(x)
        r = to_mod(x, p)
        assert 0 <= r < p
        assert (r * fr.denominator - fr.numerator) % p == 0
    assert to_mod("-1/2", 7) == 3  # 2*3 = 6 = -1 mod 7
    assert to_mod(Fraction(-3, 4), 11) == (-3 * pow(4, -1, 11)) % 11


def test_to_mod_pole():
    with pytest.raises(PoleError):
        to_mod(Fraction(1, 7), 7)
    with pytest.raises(ZeroDivisionError):
        to_mod(Fraction(3, 14), 7)
    with pytest.raises(ValueError, match="vanishes modulo 7"):
        to_mod("5/21", 7)
    p = PRIMES[3]
    with pytest.raises(PoleError):
        to_mod(Fraction(1, 2 * p), p)
    assert to_mod(Fraction(14, 7), 7) == 2  # reduces to an integer: no pole


def test_to_mod_rejects_float():
    with pytest.raises(TypeError):
        to_mod(0.25, 7)


def test_mod_inverse():
    for p in PRIMES[:3]:
        for x in [1, 2, 12345, -7, p - 1]:
            assert to_mod(x, p) * mod_inverse(x, p) % p == 1
    assert mod_inverse(Fraction(2, 3), 7) == to_mod(Fraction(3, 2), 7)
    with pytest.raises(PoleError):
        mod_inverse(0, 7)
    with pytest.raises(PoleError):
        mod_inverse(14, 7)


def test_crt_random_big_ints():
    rng = random.Random(1)
    for _ in range(50):
        k = rng.randint(1, 12)
        moduli = list(rng.sample(PRIMES, k))
        M = 1
        for m in moduli:
            M *= m
        x = rng.randrange(M)
        val, mod = crt([x % m for m in moduli], moduli)
        assert mod == M and val == x


def test_crt_general_coprime_and_errors():
    assert crt([2, 3, 1], [3, 4, 5]) == (11, 60)
    assert crt([], []) == (0, 1)
    big = [2**127 - 1, 2**89 - 1, 3**50]
    x = 123456789 * 2**150 + 987654321
    M = big[0] * big[1] * big[2]
    assert crt([x % m for m in big], big) == (x % M, M)
    with pytest.raises(ValueError, match="coprime"):
        crt([1, 2], [6, 9])
    with pytest.raises(ValueError):
        crt([1], [5, 7])


# -- rational reconstruction ------------------------------------------------

def test_rational_reconstruct_single_modulus():
    p = PRIMES[0]
    for fr in [Fraction(0), Fraction(1), Fraction(-1), Fraction(17, 3), Fraction(-5, 12345)]:
        assert rational_reconstruct(to_mod(fr, p), p) == fr
    # bound is sqrt(m/2): 3/5 mod 101 has |n|,|d| <= 7
    assert rational_reconstruct(to_mod(Fraction(3, 5), 101), 101) == Fraction(3, 5)


def test_rational_reconstruct_none():
    # in Z/11 the bound is floor(sqrt(5.5)) = 2: only n/d with |n|,|d| <= 2 qualify
    m = 11
    cands = {to_mod(Fraction(n, d), m) for n in range(-2, 3) for d in (1, 2)}
    missing = [a for a in range(m) if a not in cands]
    assert missing
    for a in missing:
        assert rational_reconstruct(a, m) is None
    for a in cands:
        fr = rational_reconstruct(a, m)
        assert fr is not None and to_mod(fr, m) == a
    # a fraction too large for the modulus is not recovered (wrong or None)
    big = Fraction(10**12 + 39, 10**12 - 11)
    p = PRIMES[0]
    assert rational_reconstruct(to_mod(big, p), p) != big


def _random_fraction(rng, bound):
    n = rng.randint(-bound, bound)
    d = rng.randint(1, bound)
    return Fraction(n, d)


def test_reconstructor_recovers_big_fractions():
    rng = random.Random(7)
    fracs = [_random_fraction(rng, 10**12) for _ in range(60)]
    fracs += [Fraction(0), Fraction(1), Fraction(-1), Fraction(10**12, 10**12 - 1)]
    rec = Reconstructor()
    used = 0
    for p in PRIMES:
        rec.add(p, np.array([to_mod(f, p) for f in fracs], dtype=np.int64))
        used += 1
        if rec.result() is not None:
            break
    assert rec.result() == fracs
    # |n|,|d| <= 1e12 needs a modulus > 2e24, i.e. 3 primes (+1 to verify)
    assert used == 4


def test_reconstructor_stability_rejects_too_few_primes():
    fr = Fraction(987654321987, 123456789123)  # needs 3 primes (> 2^62 * 2)
    rec = Reconstructor()
    rec.add(PRIMES[0], [to_mod(fr, PRIMES[0])])
    assert rec.result() is None
    rec.add(PRIMES[1], [to_mod(fr, PRIMES[1])])
    assert rec.result() is None
    rec.add(PRIMES[2], [to_mod(fr, PRIMES[2])])
    assert rec.result() is None  # first reconstruction here, not yet verified
    rec.add(PRIMES[3], [to_mod(fr, PRIMES[3])])
    assert rec.result() == [fr]


def test_reconstructor_small_needs_two_primes_and_lists():
    vals = [Fraction(1, 2), Fraction(-3), Fraction(0)]
    rec = Reconstructor()
    assert rec.result() is None
    rec.add(PRIMES[0], [to_mod(v, PRIMES[0]) for v in vals])
    assert rec.result() is None  # never trust a single prime
    rec.add(PRIMES[1], [to_mod(v, PRIMES[1]) for v in vals])
    assert rec.result() == vals
    assert rec.primes == PRIMES[:2]
    assert rec.modulus == PRIMES[0] * PRIMES[1]


def test_reconstructor_mixed_difficulty_and_partial():
    easy, hard = Fraction(2, 3), Fraction(10**15 + 37, 10**14 + 3)
    rec = Reconstructor()
    for k, p in enumerate(PRIMES[:2]):
        rec.add(p, [to_mod(easy, p), to_mod(hard, p)])
    assert rec.result() is None
    assert rec.partial() == [easy, None]
    assert rec.n_unstable == 1
    out = reconstruct_with(lambda p: [to_mod(easy, p), to_mod(hard, p)])
    assert out == [easy, hard]


def test_reconstructor_errors():
    rec = Reconstructor()
    rec.add(PRIMES[0], [1, 2])
    with pytest.raises(ValueError, match="length"):
        rec.add(PRIMES[1], [1, 2, 3])
    with pytest.raises(ValueError, match="already"):
        rec.add(PRIMES[0], [1, 2])
    with pytest.raises(ValueError):
        rec.add(PRIMES[1], np.zeros((2, 2), dtype=np.int64))


def test_reconstruct_with_skips_pole_primes():
    bad = PRIMES[1]
    fr = Fraction(5, 7)

    def f(p):
        if p == bad:
            raise PoleError("simulated")
        return [to_mod(fr, p)]

    assert reconstruct_with(f) == [fr]
    with pytest.raises(RuntimeError):
        reconstruct_with(lambda p: [to_mod(Fraction(10**30 + 1, 3), p)], max_primes=2)


# -- points -----------------------------------------------------------------

def test_parse_point_success():
    assert parse_point("d=17/3,s=5/7", ["d", "s"]) == {"d": Fraction(17, 3), "s": Fraction(5, 7)}
    pt = parse_point("  s = -5 / 7 ,  d=  4 ", ["d", "s"])
    assert pt == {"d": Fraction(4), "s": Fraction(-5, 7)}
    assert list(pt) == ["d", "s"]  # order of symbols
    assert parse_point("m2=0.25,t=-1.5,x=1e-3", ["t", "m2", "x"]) == {
        "t": Fraction(-3, 2), "m2": Fraction(1, 4), "x": Fraction(1, 1000)}
    assert parse_point("", []) == {}
    # values are arithmetic on numbers, read by the family-file grammar
    assert parse_point("d=1/2/3,s=2^10", ["d", "s"]) == {"d": Fraction(1, 6), "s": Fraction(1024)}
    d, s = sympy.symbols("d s")
    assert parse_point("d=1/2,s=3", [d, s]) == {d: Fraction(1, 2), s: Fraction(3)}


def test_parse_point_unknown_symbol():
    with pytest.raises(PointParseError, match=r"unknown symbol 'x'.*x=3"):
        parse_point("d=1,x=3", ["d"])


def test_parse_point_missing_symbols():
    with pytest.raises(ValueError, match=r"missing values for symbols: s, t\b"):
        parse_point("d=1", ["d", "s", "t"])


def test_parse_point_duplicate():
    with pytest.raises(PointParseError, match=r"duplicate.*'d'"):
        parse_point("d=1,s=2,d=3", ["d", "s"])


@pytest.mark.parametrize("bad", ["abc", "1//2", "", "1.2.3", "3/0", "1 2", "9^9^9^9",
                                 "factorial(10^9)", "(1", "1e999999999", "2^1000000"])
def test_parse_point_malformed_number(bad):
    with pytest.raises(PointParseError, match="malformed number"):
        parse_point(f"d={bad},s=1", ["d", "s"])


@pytest.mark.parametrize("bad", ["d=1,,s=2", "d1,s=2", "d=1=2,s=2", "2d=1,s=2"])
def test_parse_point_malformed_entry(bad):
    with pytest.raises(PointParseError, match="d"):
        parse_point(bad, ["d", "s"])


def test_random_point_deterministic():
    syms = ["d", "s", "t"]
    a = random_point(syms, np.random.default_rng(42))
    b = random_point(syms, np.random.default_rng(42))
    c = random_point(syms, np.random.default_rng(43))
    assert a == b and a != c
    assert list(a) == syms
    for v in a.values():
        assert isinstance(v, Fraction) and v != 0
        assert abs(v.numerator) <= 1000 and v.denominator <= 1000
    many = random_point([f"x{i}" for i in range(200)], np.random.default_rng(0))
    assert any(v < 0 for v in many.values()) and any(v > 0 for v in many.values())
    assert any(v.denominator > 1 for v in many.values())


def test_format_fraction_and_roundtrip():
    assert format_fraction(Fraction(17, 3)) == "17/3"
    assert format_fraction(Fraction(-4, 2)) == "-2"
    assert format_fraction(5) == "5"
    assert format_fraction("0.25") == "1/4"
    pt = random_point(["d", "s"], np.random.default_rng(3))
    assert parse_point(format_point(pt), ["d", "s"]) == pt


def test_primes_continue_the_table_downwards_with_true_primes():
    from ibp_evolve.reducer.modular import primes
    more = primes(120)
    assert more[:len(PRIMES)] == PRIMES and len(set(more)) == 120
    assert list(more) == sorted(more, reverse=True)
    assert all(sympy.isprime(p) for p in more[len(PRIMES):])


def test_primes_from_yields_the_table_one_prime_at_a_time():
    from ibp_evolve.reducer.modular import primes, primes_from
    assert list(primes_from(1, len(PRIMES) + 3)) == list(primes(len(PRIMES) + 3)[1:])


def test_an_exact_reduction_at_a_point_searches_no_primes_it_does_not_use(monkeypatch):
    # the bubble at a point reconstructs from a few primes of the table; allowing 400 must
    # not cost a search for the 400 (tens of milliseconds of a small reduce's start-up)
    from ibp_evolve.reducer import modular
    from ibp_evolve.reducer.exact import reduce_exact
    from ibp_evolve.reducer.family import load_family
    monkeypatch.setattr(modular, "_MORE_PRIMES", [])
    result = reduce_exact(load_family("bubble"), [(2, 1)], {"d": Fraction(17, 3),
                                                            "s": Fraction(5, 7)}, max_primes=400)
    assert result["targets"][0]["reduced"] and modular._MORE_PRIMES == []
