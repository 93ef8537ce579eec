# Improved seeding of Kira 3 (Lange, Usovitsch, Wu, arXiv:2505.20197): no more dots than the
# target, and one numerator power fewer for every line of the target's sector that the seed
# lacks.  For an undotted target this is d == 0 and s <= s_target - (T - t).
# Scores: see MEASURED below (filled in by `ibp-evolve score`).
def keep(seed, target):
    return seed.d <= target.d and seed.s <= target.s - seed.missing
