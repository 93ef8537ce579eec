# FunSearch start program for the LLM mutator: classic Laporta seeding written as a priority
# (r <= r_target and s <= s_target), with a bonus for seeds in the target's own sector.
# On triangle_box_paper it selects 6764 seeds: complete, but over the evolution's seed cap (2000),
# so it scores as a graded penalty that shrinking the selection removes.
def priority(seed, target):
    if seed.r > target.r or seed.s > target.s:
        return -1.0
    return 1.0 + (target.t - seed.t == 0)
