# Evolved seeding rule: strongly typed GP from a random start (`ibp-evolve evolve --seed 0
# --time-limit 120`, engine deap, candidate 12036, generation 40); fits the paper target only
# (not complete on triangle_box_train).
# formula: d == 0 and d == min(a3, d_target) and missing + s <= 3 and min(3, a7 - a5) < a3 and a7 - d_target <= min(a3, a6) and missing + s <= 3 + a6 and min(a6, a7 - a5) < a4 + a6
# Measured on suite triangle_box_paper (objective seeds; fixed judge point, prime 2^31-1): complete, fitness 67, 67 seeds, size 59
#   I(1,1,1,1,1,1,-3): reduced, 67 seeds, 603 equations, 342 trimmed, 13,270 mult-adds
def keep(seed, target):
    return seed.d == 0 and seed.d == min(seed.a[2], target.d) and seed.missing + seed.s <= 3 and min(3, seed.a[6] - seed.a[4]) < seed.a[2] and seed.a[6] - target.d <= min(seed.a[2], seed.a[5]) and seed.missing + seed.s <= 3 + seed.a[5] and min(seed.a[5], seed.a[6] - seed.a[4]) < seed.a[3] + seed.a[5]
