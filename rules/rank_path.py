# Rank path for numerator powers in the triangle-box's top sector (written by hand from
# minimal seed sets): seeds for the triangle-box's undotted top-sector targets
# I(1,1,1,1,1,1,-s) whose number grows linearly in s, 35 per unit
# of s, complete for s = 3..12 with and without sector symmetries; tube_seeding elsewhere.
# Lines (1-based): 1 k1^2, 2 k2^2, 3 (k1+k2)^2, 4 (k1+p1)^2, 5 (k2+p1+p2)^2, 6 (k2-p1)^2;
# position 7 is the ISP (k1+p1+p2)^2, where the target's numerator sits.
# Where minimal complete sets put their seeds (`python benchmarks/rank_classes.py` derives this
# table: it removes whole classes (a sector, and the removed line carrying a numerator) from the
# tube while the targets s = 4, 6, 8 stay complete with and without symmetries, then swaps
# classes while that saves seeds or trimmed equations; rank_floor.py's seed-by-seed floors show
# the same pattern):
#   - on the straight path of every non-zero sector: no dot, the numerator on the ISP alone,
#     up to the improved-seeding budget s_T - missing.  One seed per sector and numerator
#     power: this is what grows with s (1 + 6 + 11 + 4 = 22 seeds per unit of s);
#   - one step off the path: one numerator unit on a removed line, beside any ISP power.  The
#     tube allows it on every removed line of a sector with at most two missing (53 seeds per
#     unit of s in all); minimal sets need it only in 13 (sector, line) pairs, below, and never
#     with three lines missing;
#   - never a numerator on line 3, the line joining the two loops (without it a sector
#     factorises into one-loop integrals, and the ISP involves k1 alone), nor on line 5 except
#     where lines 4 and 5 are both removed;
#   - no seed in the sector without lines 5 and 6 (k2 only in k2^2 and (k1+k2)^2: a bubble
#     insertion); the integrals the other seeds bring in there reduce without its equations.
# The table is empirical: found at s = 4, 6, 8 and checked on s = 3..12, never derived; a
# family with seven indices whose target's sector is lines 1..6 is taken to be the triangle-box.
# Use: I(1,1,1,1,1,1,-s), s >= 3, with or without symmetries; elsewhere it is tube_seeding (the
# rest of this file repeats that rule).  rank_path_symmetric.py drops most mirror-sector
# seeds too (30 per unit of s), complete with symmetries only.
# Rank scan (benchmarks/results/rank_scan_nosym.json, rank_scan.json): 170, 240 and 380 seeds
# at s = 6, 8, 12 (35 s - 40); with symmetries 177, 284 and 602 solved.  Complete on every
# built-in triangle-box suite (the Measured lines; the tube's figures where no target is
# I(1,1,1,1,1,1,-s)).
# Measured on triangle_box_paper: complete (1 target), 65 seeds, 585 equations, 330 trimmed, 14,078 mult-adds
# Measured on triangle_box_train: complete (5 targets), 477 seeds, 4,293 equations, 1,598 trimmed, 95,298 mult-adds
# Measured on triangle_box_validation: complete (6 targets), 2,735 seeds, 24,615 equations, 7,031 trimmed, 4,893,473 mult-adds
# Measured on triangle_box_symmetric (symmetries on): complete (6 targets), 241 seeds, 2,169 equations, 1,035 trimmed, 57,444 mult-adds
# Measured on triangle_box_rank_train (symmetries on): complete (4 targets), 463 seeds, 4,167 equations, 2,567 trimmed, 214,867 mult-adds
# Measured on triangle_box_rank_validation (symmetries on): complete (2 targets), 511 seeds, 4,599 equations, 3,131 trimmed, 484,785 mult-adds
def keep(seed, target):
    rank_target = (family.n == 7 and target.sector == 63 and target.d == 0
                   and target.s >= 3)
    if not rank_target:
        # tube_seeding.py unchanged (its comments say why each clause is there)
        seven_lines = target.t >= 7
        below_budget = seed.missing >= max(2, target.s) and seed.s <= 1 and seed.d <= 1
        if seven_lines and target.d == 0 and below_budget:
            return True
        if seed.d > target.d:
            return False
        dots_anywhere = seven_lines and seed.s == 0
        if not dots_anywhere and any(seed.dots(i) > target.dots(i) for i in range(family.n)):
            return False
        small = target.t <= 4
        near_path = seed.tube <= 1 + min(seed.missing, 2) + min(target.d, 2) + small
        few_numerators = target.s <= target.t - 4 and not small and not seven_lines
        return near_path and seed.s <= max(target.s - seed.missing, target.d, few_numerators)
    # numerator power on the target's lines: 0 on the path, 1 one step off it
    off_path = sum(seed.numerators(i) for i in range(6))
    if seed.d > 0 or seed.s > target.s - seed.missing or off_path > 1:
        return False
    if seed.missing == 2 and seed.removed(4) and seed.removed(5):
        return False
    if off_path == 0:
        return True
    if seed.missing == 1:
        return seed.numerators(2) == 0 and seed.numerators(4) == 0
    if seed.missing > 2:
        return False
    # two lines removed: the line that may carry the numerator, given the other removed one
    on1 = seed.numerators(0) == 1 and (seed.removed(1) or seed.removed(4) or seed.removed(5))
    on2 = seed.numerators(1) == 1 and (seed.removed(0) or seed.removed(5))
    on4 = seed.numerators(3) == 1 and (seed.removed(1) or seed.removed(4))
    on5 = seed.numerators(4) == 1 and seed.removed(3)
    on6 = seed.numerators(5) == 1 and seed.removed(0)
    return on1 or on2 or on4 or on5 or on6
