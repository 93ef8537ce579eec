"""Engines that generate seeding rules; all share the estimator shape ``Engine(config).evolve(...)``.

``ENGINES`` maps the ``--engine`` names of ``ibp-evolve evolve`` to (engine class, config class).
"""

from __future__ import annotations


def engines() -> dict:
    from .deap_gp import DeapEngine, GPConfig
    from llm_mutator.engine import LLMConfig, LLMEngine   # FunSearch-style, llm_mutator/
    return {"deap": (DeapEngine, GPConfig), "llm": (LLMEngine, LLMConfig)}


ENGINE_NAMES = ("deap", "llm")
