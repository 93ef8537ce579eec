# FunSearch skeleton for the LLM mutator (ibp-evolve evolve --engine llm): the trivial program
# evolution starts from.  It keeps every candidate seed (the whole box r <= r_target + 1,
# s <= s_target + 1 of the target's non-zero subsectors), which exceeds the evolution's seed cap
# and so scores as an incomplete reduction graded by its size: the model has to find what to drop.
def priority(seed, target):
    return 1.0
