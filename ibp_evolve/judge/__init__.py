"""The judge: the verdict on a rule — suites of targets, scores, minimal seed sets.

Uses the reducer and the rule language, nothing above them.
"""
