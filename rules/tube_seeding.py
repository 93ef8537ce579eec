# Tube seeding (after the idea of arXiv:2606.10698, written here by hand): keep the seeds near
# the straight path from the corner of the target's sector (every line once, no numerator) up to
# the target.  The reduction of a target walks down that path to its sector's masters, so seeds
# far from it are never needed and the count grows linearly with the numerator power instead of
# improved seeding's polynomial (on I(1,1,1,1,1,1,-s): 53 seeds more per unit of s).
#   - a seed carries no dot on a line where the target has fewer dots (dots only move along the
#     path's own direction);
#   - its L1 distance from the path (`tube`) is at most 1 + min(missing, 2) + min(d_target, 2):
#     each missing line costs one unit of distance by itself, so subsectors get a wider tube,
#     one extra step of numerator on a removed line (twice for the smaller subsectors), and a
#     dotted target a wider tube still;
#   - the numerator budget of improved_seeding_dots: s <= max(s_target - missing, d_target).
# Complete on every built-in triangle-box, box and kite suite (paper, train, validation, sailir;
# box/kite train and validation).  Tuned on those suites: the tube widths are the smallest that
# keep them complete (a width of 1 + min(d_target, 1) leaves I(2,3,1,1,2,1,-7) unreduced).
def keep(seed, target):
    if any(seed.dots(i) > target.dots(i) for i in range(family.n)):
        return False
    return (seed.tube <= 1 + min(seed.missing, 2) + min(target.d, 2)
            and seed.s <= max(target.s - seed.missing, target.d))
