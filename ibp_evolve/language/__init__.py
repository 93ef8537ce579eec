"""The rule language: what a seeding rule may say and how it becomes a seed mask.

parse (validated AST of a rule file) -> compile (vectorised evaluation over candidate seeds) ->
sandbox (evaluation in a killable child process) ; library (the shipped rules by name).
Imports only the reducer.
"""
