# Improved seeding extended to dotted targets (found by hand while building the judge): the
# Kira 3 rule, but a dotted target keeps a numerator budget of at least its number of dots.
# For undotted targets it is exactly improved_seeding.py.  Unlike improved_seeding.py it is
# complete on every target of triangle_box_train.
# Scores: see MEASURED below (filled in by `ibp-evolve score`).
def keep(seed, target):
    return seed.d <= target.d and seed.s <= max(target.s - seed.missing, target.d)
