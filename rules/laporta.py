# Classic Laporta seeding: every integral of the target's sector and its non-zero subsectors
# with no more positive powers (r) and no more numerator powers (s) than the target.
# Source: S. Laporta, Int. J. Mod. Phys. A15 (2000) 5087 (the rule of thumb of every reducer).
# Scores: see MEASURED below (filled in by `ibp-evolve score`).
def keep(seed, target):
    return seed.r <= target.r and seed.s <= target.s
