# Seed program (a starting rule for evolution, not a seed integral): classic Laporta seeding,
# r <= r_target and s <= s_target.  A deliberately weak start: complete but large (6764 seeds on
# triangle_box_paper, above the evolution's default cap of 2000 seeds per target).
#   ibp-evolve evolve --start seeds/laporta_start.py --max-seeds 8000
def keep(seed, target):
    return seed.r <= target.r and seed.s <= target.s
