"""Symbolic regression: distil the seed sets the solver needs into closed-form rules.

* :mod:`.labels`   candidate-seed feature table labelled by randomised minimisations
* :mod:`.backends` the engines (operon, deap, pysr) behind one ``fit`` shape
* :mod:`.export`   formula (sympy) -> rule file of the shared rule language
* :mod:`.distill`  the pipeline: labels -> fit -> calibrated, scored rules (``Distiller``)

Nothing here imports an engine's package until that engine is used.
"""

from ibp_evolve.engines.symbolic.backends import ENGINES, BackendUnavailable, FrontFormula, make_backend  # noqa: F401
