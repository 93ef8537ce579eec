"""Engines that generate seeding rules; all share the estimator shape ``Engine(config).evolve(...)``
and run in the one engine loop (:mod:`ibp_evolve.runs.loop`, ask/tell); their configs live in
:mod:`ibp_evolve.runs.configs`.

``engines()`` maps the ``--engine`` names of ``ibp-evolve evolve`` to (engine class, config
class); ``islands`` is a run of several (``--engine gp:2,llm:1``, :mod:`.islands`).
"""

from __future__ import annotations


def engines() -> dict:
    from ibp_evolve.engines.gp import DeapEngine, GPConfig
    from llm_mutator.engine import LLMConfig, LLMEngine   # FunSearch-style, llm_mutator/
    from ibp_evolve.engines.symbolic.engine import engine_entries           # operon / pysr distillation loop
    from ibp_evolve.engines.islands import IslandsConfig, IslandsEngine   # gp:2,llm:1
    return {"deap": (DeapEngine, GPConfig), "llm": (LLMEngine, LLMConfig), **engine_entries(),
            "islands": (IslandsEngine, IslandsConfig)}


ENGINE_NAMES = ("deap", "llm", "operon", "pysr")
