# Seed program (a starting rule for evolution, not a seed integral): rules/tube_seeding.py
# written as one expression in the features the GP sees with `--features offset,removed,tube,
# distance`, so that it converts to a GP tree.  "No dot on a line where the target has fewer
# dots" is, for a seed inside the target's sector, a[i] <= max(target.a[i], 1), i.e.
# min(offset_i, a_i - 1) <= 0; spelled out for the triangle box's seven indices (the seventh,
# the ISP, is never positive, so its clause always holds and is left out).
#   ibp-evolve evolve --suite triangle_box_train --features offset,removed,tube,distance \
#       --start tube_seeding_start
# Selects the same seeds as tube_seeding on every triangle-box target with five or six lines (not
# on targets of at most four lines, whose wider tube it leaves out, nor on families with more
# than six lines, whose further lines it leaves without a dot clause and whose seven-line
# clauses it lacks).
def keep(seed, target):
    return (min(seed.offset(0), seed.a[0] - 1) <= 0 and min(seed.offset(1), seed.a[1] - 1) <= 0
            and min(seed.offset(2), seed.a[2] - 1) <= 0 and min(seed.offset(3), seed.a[3] - 1) <= 0
            and min(seed.offset(4), seed.a[4] - 1) <= 0 and min(seed.offset(5), seed.a[5] - 1) <= 0
            and seed.tube <= 1 + min(seed.missing, 2) + min(target.d, 2)
            and seed.s <= max(target.s - seed.missing, target.d))
