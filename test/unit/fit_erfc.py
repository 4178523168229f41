#!/usr/bin/python3
"""Fit the erfc polynomial of src/kernel/transformer.c (BERT's GELU).

    erfc(z) = t * exp(-z^2 + P(u)),  t = 1 / (1 + z/2),  u = 2.4 t - 1.4

P is fitted by least squares in Chebyshev polynomials of u on z in [0, 10]
(u in [-1, 1]) against mpmath's erfc, then written in powers of u.  Prints
the coefficients for degrees 9 (the float variant) and 10 (the double one)
and the largest relative error of erfc each gives in double.

    /usr/bin/python3 test/unit/fit_erfc.py      (needs python3-mpmath, numpy)
"""
import numpy as np
from mpmath import mp, erfc, log, mpf

mp.dps = 40
ZMAX = 10.0
T0 = 1 / (1 + 0.5 * ZMAX)          # t at z = ZMAX: 1/6


def f_of_t(t):
    z = (1 / mpf(t) - 1) / mpf(0.5)
    return float(log(erfc(z) / mpf(t)) + z * z)


def main():
    n = 3000
    x = np.cos(np.pi * (np.arange(n) + 0.5) / n)        # Chebyshev nodes in u
    t = T0 + (1 - T0) * (x + 1) / 2
    f = np.array([f_of_t(v) for v in t])
    zs = np.linspace(0, ZMAX, 4001)
    for deg in (9, 10):
        power = np.polynomial.chebyshev.cheb2poly(
            np.polynomial.chebyshev.chebfit(x, f, deg))
        worst = 0.0
        for z in zs:
            tt = 1 / (1 + 0.5 * z)
            u = 2.4 * tt - 1.4
            val = tt * np.exp(-z * z + np.polynomial.polynomial.polyval(u, power))
            ref = erfc(mpf(z))
            worst = max(worst, float(abs((val - ref) / ref)))
        print("degree %d: max relative error %.3g" % (deg, worst))
        print("  " + ", ".join("%.9g" % c for c in power))


if __name__ == "__main__":
    main()
