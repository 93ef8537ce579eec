"""The LLM mutator: FunSearch-style evolution of seeding rules with a code language model.

One module per question:

* :mod:`llm_mutator.prompt`   — what the model sees (preamble, two programs, a header) and how
  its completion becomes a validated rule;
* :mod:`llm_mutator.database` — where programs live (islands of score-signature clusters,
  Boltzmann sampling, resets), persisted in the run's SQLite database;
* :mod:`llm_mutator.sandbox`  — where an untrusted rule is executed (resource-limited child
  processes that only compute seed masks);
* :mod:`llm_mutator.backends` — who writes the completions (``transformers`` in process, or any
  OpenAI-compatible completions server);
* :mod:`llm_mutator.server`   — ``ibp-evolve serve-llm``, the batching completions server;
* :mod:`llm_mutator.engine`   — the evolution loop (``ibp-evolve evolve --engine llm``);
* :mod:`llm_mutator.train`    — ``ibp-evolve train-mutator``, a small model trained here;
* :mod:`llm_mutator.run_examples` — what it learns from scored runs (programs of one run,
  worse first, the better one as the completion).

Nothing here imports torch or transformers at module import time: the engine, the database and
the prompts work (with the ``openai`` backend) on an installation without the ``llm`` extra.
"""
