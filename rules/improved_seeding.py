# Improved seeding of Kira 3 (Lange, Usovitsch, Wu, arXiv:2505.20197): no more dots than the
# target, and one numerator power fewer for every line of the target's sector that the seed
# lacks.  For an undotted target this is d == 0 and s <= s_target - (T - t).
# (judge: fixed point, prime 2^31-1; figures summed over the suite's targets; `ibp-evolve score RULE --suite SUITE`)
# Measured on triangle_box_paper: complete (1 target), 92 seeds, 828 equations, 358 trimmed, 26,711 mult-adds
# Measured on triangle_box_train: incomplete (2 of 5 targets not reduced, 42 non-master integrals left), 565 seeds, 5,085 equations, 1,742 trimmed, 372,117 mult-adds
def keep(seed, target):
    return seed.d <= target.d and seed.s <= target.s - seed.missing
