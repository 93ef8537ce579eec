# Improved seeding of Kira 3 (Lange, Usovitsch, Wu, arXiv:2505.20197): no more dots than the
# target, and one numerator power fewer for every line of the target's sector that the seed
# lacks.  For an undotted target this is d == 0 and s <= s_target - (T - t).
# Measured (ibp-evolve score improved_seeding --suite SUITE; fixed judge point, prime 2^31-1):
#   triangle_box_paper: complete, 92 seeds, 828 equations, 358 trimmed, 26,711 mult-adds
#   triangle_box_train: incomplete, 565 seeds; the dotted targets I(2,1,1,1,1,1,-2) and
#                       I(1,1,1,1,2,1,-1) keep 7 and 35 non-master integrals
def keep(seed, target):
    return seed.d <= target.d and seed.s <= target.s - seed.missing
