"""Runs of islands on the command line: ``evolve --engine gp:2,llm:1`` (engines/loop side).

The spelling is ``ENGINE:COUNT`` (or ``ENGINE`` for one) joined by commas; ``gp`` and ``deap``
name the GP engine, ``llm`` the LLM mutator.  Island ``k`` draws from its own random seed
``seed + ISLAND_SEED_STRIDE * k`` (island 0 from the run's seed: ``--engine gp:1`` repeats the
plain GP run).  :class:`IslandsEngine` is an ordinary engine built from its config alone (the
islands' own configs live inside it), so a run of islands is created, stored in
``config.json`` and resumed like a run of any one engine.
"""

from __future__ import annotations

from ibp_evolve.runs.configs import EngineConfig, IslandsConfig   # noqa: F401 (re-exported)
from ibp_evolve.runs.islands import Islands

__all__ = ["ISLAND_ENGINES", "ISLAND_SEED_STRIDE", "IslandsEngine", "is_islands",
           "parse_islands", "island_seed", "island_entries"]

ENGINE = "islands"
ISLAND_ENGINES = {"gp": "deap", "deap": "deap", "llm": "llm"}
ISLAND_SEED_STRIDE = 7919   # a prime: island seeds of neighbouring run seeds do not collide soon
MAX_ISLANDS = 64


def is_islands(text: str) -> bool:
    """Whether an ``--engine`` value names islands rather than one engine."""
    return ":" in text or "," in text


def parse_islands(text: str) -> list[str]:
    """The engine name of each island: ``gp:2,llm:1`` -> ``['deap', 'deap', 'llm']``;
    ValueError naming the part at fault."""
    out = []
    for part in text.split(","):
        name, _, count = part.strip().partition(":")
        if name not in ISLAND_ENGINES:
            raise ValueError(f"islands '{text}': unknown engine '{name}' in '{part}' "
                             f"(expected {', '.join(ISLAND_ENGINES)})")
        if count and not (count.isdigit() and int(count) >= 1):
            raise ValueError(f"islands '{text}': '{part}' needs a positive count, e.g. gp:3")
        out += [ISLAND_ENGINES[name]] * (int(count) if count else 1)
    if len(out) > MAX_ISLANDS:
        raise ValueError(f"islands '{text}': {len(out)} islands, at most {MAX_ISLANDS}")
    return out


def island_seed(seed: int, k: int) -> int:
    return seed + ISLAND_SEED_STRIDE * k


class IslandsEngine(Islands):
    """A run of islands built from an :class:`IslandsConfig`: its ``island_configs`` name each
    island's engine and config; the run's generation budget and time limit hold for all."""
    name = ENGINE

    def __init__(self, config: IslandsConfig | None = None, **overrides):
        from ibp_evolve.engines import engines
        config = config or IslandsConfig()
        if overrides:
            config = config.replaced(**overrides)
        if not config.island_configs:
            raise ValueError("a run of islands needs at least one island")
        known = engines()
        islands = []
        for entry in config.island_configs:
            name = entry.get("engine") if isinstance(entry, dict) else None
            if name not in known or name == ENGINE:
                raise ValueError(f"island engine {name!r} is not one of "
                                 f"{', '.join(sorted(set(ISLAND_ENGINES.values())))}")
            engine_cls, config_cls = known[name]
            island_config = config_cls.from_json(entry.get("engine_config") or {}).replaced(
                generations=config.generations, time_limit=config.time_limit,
                objective=config.objective)
            islands.append(engine_cls(island_config))
        super().__init__(islands, config)


def island_entries(configs: list[EngineConfig], names: list[str]) -> tuple:
    """``IslandsConfig.island_configs`` for islands of these engines and configs."""
    return tuple({"engine": n, "engine_config": c.to_json()} for n, c in zip(names, configs))
