"""The rule language: what a seeding rule may say and how it becomes a seed mask.

features (the one feature vocabulary) ; ir (the typed rule IR every engine's rules become) ->
parse (validated IR of a rule file) -> compile (vectorised evaluation over candidate seeds) ->
sandbox (evaluation in a killable child process) ; printer (the one printer: rule sources and
simplified board formulas) ; library (the shipped rules by name).
Imports only the reducer.
"""
