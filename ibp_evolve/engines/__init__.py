"""Engines that generate seeding rules; all share the estimator shape ``Engine(config).evolve(...)``
and run in the one engine loop (:mod:`ibp_evolve.runs.loop`, ask/tell); their configs live in
:mod:`ibp_evolve.runs.configs`.

``ENGINES`` maps the ``--engine`` names of ``ibp-evolve evolve`` to (engine class, config class).
"""

from __future__ import annotations


def engines() -> dict:
    from ibp_evolve.engines.gp import DeapEngine, GPConfig
    from llm_mutator.engine import LLMConfig, LLMEngine   # FunSearch-style, llm_mutator/
    from ibp_evolve.engines.symbolic.engine import engine_entries           # operon / pysr distillation loop
    return {"deap": (DeapEngine, GPConfig), "llm": (LLMEngine, LLMConfig), **engine_entries()}


ENGINE_NAMES = ("deap", "llm", "operon", "pysr")
