# Tube seeding (after the idea of arXiv:2606.10698, written here by hand): keep the seeds near
# the straight path from the corner of the target's sector (each of its lines once, no dot, no
# numerator) to the target.  A reduction walks down that path to the sector's masters, so the
# kept seeds form a tube of fixed width whose length is the numerator power: their number grows
# linearly with it, where improved seeding grows polynomially (benchmarks/rank_scan.py).
#   - no dot on a line where the target has fewer dots (the path moves dots only there);
#   - distance from the path (`tube`) at most 1 + min(missing, 2) + min(d_target, 2): a missing
#     line is one unit away by itself, so a subsector's tube is one unit wider per missing line
#     (up to two), which lets a removed line carry a numerator; a dotted target's tube is wider;
#   - the numerator budget of improved_seeding_dots: s <= max(s_target - missing, d_target).
# Use: the default of `reduce`; any triangle-box, box or kite target, dotted or not, with high
# numerator powers or many dots (the four SAILIR integrals: benchmarks/sailir.py).  Tuned by
# hand on the built-in suites: the widths are the smallest found that keep all of them complete
# (1 + min(d_target, 1) leaves I(2,3,1,1,2,1,-7) of triangle_box_sailir unreduced).  Not complete
# (like improved seeding) on I(1,1,1,1,1,1,-s) for s <= 2, where the universe's extra numerator
# is needed.
# (judge: fixed point, prime 2^31-1; figures summed over the suite's targets; `ibp-evolve score RULE --suite SUITE`)
# Measured on triangle_box_paper: complete (1 target), 86 seeds, 774 equations, 348 trimmed, 18,960 mult-adds
# Measured on triangle_box_train: complete (5 targets), 537 seeds, 4,833 equations, 1,687 trimmed, 113,246 mult-adds
# Measured on triangle_box_validation: complete (6 targets), 2,735 seeds, 24,615 equations, 7,031 trimmed, 4,893,473 mult-adds
# Measured on box_train: complete (6 targets), 94 seeds, 658 equations, 62 trimmed, 7,390 mult-adds
# Measured on box_validation: complete (6 targets), 231 seeds, 1,617 equations, 144 trimmed, 28,059 mult-adds
# Measured on kite_train: complete (6 targets), 91 seeds, 546 equations, 180 trimmed, 2,321 mult-adds
# Measured on kite_validation: complete (6 targets), 358 seeds, 2,148 equations, 340 trimmed, 27,759 mult-adds
def keep(seed, target):
    if any(seed.dots(i) > target.dots(i) for i in range(family.n)):
        return False
    near_path = seed.tube <= 1 + min(seed.missing, 2) + min(target.d, 2)
    return near_path and seed.s <= max(target.s - seed.missing, target.d)
