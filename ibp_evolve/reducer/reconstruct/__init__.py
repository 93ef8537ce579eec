"""Rational functions from finite-field samples: the stages of an analytic reduction.

Each stage is one small module that can be tested alone (FireFly and FiniteFlow describe the
same pipeline):

* :mod:`.sampling`     -- a target's coefficients at one point mod p, replaying the learned rows;
* :mod:`.polynomials`  -- sparse polynomials mod p and over Q (evaluate, shift, normalise);
* :mod:`.univariate`   -- Thiele's continued fraction in one variable, as numerator/denominator;
* :mod:`.newton`       -- dense Newton interpolation of a polynomial on a tensor grid;
* :mod:`.multivariate` -- one prime: shift, rays in t, degree scan, grid, unshift;
* :mod:`.rationals`    -- several primes: CRT and rational reconstruction of the coefficients;
* :mod:`.expressions`  -- the result as text, sympy-readable strings or Mathematica.
"""
