# Evolved seeding rule for numerator powers in the triangle-box's top sector: DEAP GP, 400
# generations of 120 on triangle_box_rank_train (I(1,1,1,1,1,1,-s), s = 3..6, sector symmetries on),
# started from seeds/tube_seeding_start.py with `--features offset,removed,tube,distance`, exported
# by validation on triangle_box_rank_validation (s = 7, 8):
#   ibp-evolve evolve --suite triangle_box_rank_train --validate triangle_box_rank_validation \
#       --start tube_seeding_start --features offset,removed,tube,distance --population 120 \
#       --generations 400 --time-limit 1500 --seed 1
# It is the tube with one clause more (found by evolution, not derived), which narrows the tube by
# how far a seed's third index lies below the target's (and its fifth, beyond one unit).  Use: undotted targets of the top sector with a numerator power
# I(1,1,1,1,1,1,-s) (complete for s = 3..12, s = 9..12 never seen; 15-18% fewer solved seeds than
# tube_seeding: benchmarks/rank_scan.py).  Not for anything else: it leaves dotted and subsector
# targets of triangle_box_train and triangle_box_validation unreduced.
# formula: d <= d_target and max(d_target, s_target - missing) >= 1 and s <= max(d_target, s_target - missing) and tube <= min(2, d_target) + min(2, missing) + 1 and tube <= min(2, offset3) + min(missing, missing + min(d_target, offset5) + 1) + 1
# Measured on triangle_box_rank_train (symmetries on): complete (4 targets), 500 seeds, 4,500 equations, 2,726 trimmed, 250,030 mult-adds
# Measured on triangle_box_rank_validation (symmetries on): complete (2 targets), 555 seeds, 4,995 equations, 3,305 trimmed, 564,976 mult-adds
# Measured on triangle_box_paper: complete (1 target), 68 seeds, 612 equations, 368 trimmed, 15,712 mult-adds
def keep(seed, target):
    return seed.d <= target.d and max(target.d, target.s - seed.missing) >= 1 and seed.s <= max(target.d, target.s - seed.missing) and seed.tube <= min(2, target.d) + min(2, seed.missing) + 1 and seed.tube <= min(2, seed.offset(2)) + min(seed.missing, seed.missing + min(target.d, seed.offset(4)) + 1) + 1
