# Seed program (a starting rule for evolution, not a seed integral): the improved seeding of
# Kira 3 (Lange, Usovitsch, Wu, arXiv:2505.20197), written in the features the GP sees so that it
# converts to a GP tree.  Start a run from it with
#   ibp-evolve evolve --start seeds/improved_seeding_start.py
# (the default start is random).  On triangle_box_paper: complete, 92 seeds.
def keep(seed, target):
    return seed.d <= target.d and seed.s <= target.s - seed.missing
