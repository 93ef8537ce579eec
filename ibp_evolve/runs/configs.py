"""Every engine's settings, in one place: frozen dataclasses over :class:`EngineConfig`.

A run's ``config.json`` holds its engine's config as ``engine_config``, written by
:meth:`EngineConfig.to_json` and read back by :meth:`EngineConfig.from_json` (the one pair for
every engine; keys a config does not know are ignored, so an older run still resumes).  Configs
are frozen: a changed setting (``--generations`` on resume, the time left for a run) is a new
config, :meth:`EngineConfig.replaced`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

__all__ = ["EngineConfig", "GPConfig", "SymbolicConfig", "OperonConfig", "PySRConfig",
           "LLMConfig", "IslandsConfig", "DEFAULT_CONSTANTS", "MUTATIONS", "LLM_OPTIONS"]

DEFAULT_CONSTANTS = (-1, 0, 1, 2, 3)
MUTATIONS = ("uniform", "node", "insert", "shrink", "conjoin")
# LLMConfig fields that ``ibp-evolve evolve --engine llm`` takes from its command line.
LLM_OPTIONS = ("backend", "model", "url", "lora", "device", "temperature", "top_p",
               "max_new_tokens", "samples_per_prompt", "prompts_per_batch",
               "functions_per_prompt", "islands", "reset_period", "deterministic", "queue_size",
               "request_timeout")


@dataclass(frozen=True)
class EngineConfig:
    """The settings every engine has."""
    generations: int | None = 40      # generations after the initial one (None: until the
                                      # time limit)
    seed: int = 0
    objective: str = "seeds"
    start_rules: tuple = ()           # rule sources injected into the first generation
    n_best: int = 5                   # best rules kept in RUN/best/
    time_limit: float | None = None   # seconds (hard deadline), per invocation

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict):
        """The config of a ``config.json`` (unknown keys ignored; lists of tuple-valued
        settings become tuples again)."""
        tuples = {f.name for f in fields(cls) if isinstance(f.default, tuple)}
        known = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if k in tuples and isinstance(v, list) else v
                      for k, v in data.items() if k in known})

    def replaced(self, **changes):
        """A copy with ``changes`` (a config is frozen)."""
        return type(self)(**{**{f.name: getattr(self, f.name) for f in fields(self)},
                             **changes})


@dataclass(frozen=True)
class GPConfig(EngineConfig):
    """Settings of a GP run (all have defaults that finish in minutes on a laptop)."""
    generations: int | None = 65         # 60 of breeding (40 left a third of the seeds'
                                         # runs above 70 seeds: benchmarks/evolve_seeds.py),
                                         # then the polish's 5
    population: int = 300
    selection: str = "lexicographic"     # or "nsga2"
    tournament_size: int = 5
    crossover_rate: float = 0.5          # share of offspring made by crossover
    mutation_rate: float = 0.5           # chance a crossover child is also mutated (the
                                         # others are always mutated)
    elite: int = 5                       # best distinct rules copied unchanged (lexicographic)
    init_min_height: int = 1
    init_max_height: int = 4
    max_height: int = 8                  # static limit on every variation operator
    constants: tuple = DEFAULT_CONSTANTS
    mutation_weights: dict = field(default_factory=lambda: {m: 1.0 for m in MUTATIONS})
    conjoin_height: int = 3              # height of the condition the conjoin mutation adds
    retries: int = 3                     # re-draws of an offspring whose mask is a duplicate
    features: tuple = ()                 # terminal features by display name; () = the classic
                                         # set, gp.default_features(N)
    stagnation: int = 8                  # generations without a better best rule before the
                                         # population restarts from fresh random trees, the
                                         # start rules and the restart rules (the best rules
                                         # stay in the hall of fame); 0: never restart
    restart_rules: tuple = ("improved_seeding",)   # library rules (or rule sources) that
                                         # join every restarted population, so that a run
                                         # stuck in a poor basin is rescued (the first
                                         # population stays random); () : fresh trees only
    inject_every: int = 20               # generations between visits of the restart rules to
                                         # a population that is not restarting (0: never)
    distinct_start: bool = True          # random trees of a first or restarted population
                                         # that repeat a seed selection are re-drawn (up to
                                         # ``retries`` times), as offspring are
    polish: int = 5                      # the last generations of a budget (at most a
                                         # quarter of it) climb from the best rule through
                                         # its neighbours (a clause dropped or added, a bound
                                         # moved by one...) instead of breeding; 0: never

    @classmethod
    def from_json(cls, data: dict):
        # a run begun before distinct first trees and restart rules resumes as it began
        if "distinct_start" not in data:
            data = {**data, "distinct_start": False, "restart_rules": [], "inject_every": 0}
        if "polish" not in data:   # and one begun before the polish, without it
            data = {**data, "polish": 0}
        return super().from_json(data)


@dataclass(frozen=True)
class SymbolicConfig(EngineConfig):
    """Settings of a symbolic-regression run."""
    generations: int = 3                 # rounds after the first
    sr_engine: str = "operon"            # operon, pysr or deap (the SR backend)
    seconds: float = 30.0                # per fit
    fits: int = 1                        # independent fits per round, fronts pooled
    runs: int = 8                        # randomised minimisations that label each round
    # accepted for the shared evolve command line; symbolic regression has no use for them
    population: int = 0
    selection: str = ""
    max_height: int = 0


@dataclass(frozen=True)
class OperonConfig(SymbolicConfig):
    sr_engine: str = "operon"


@dataclass(frozen=True)
class PySRConfig(SymbolicConfig):
    sr_engine: str = "pysr"


@dataclass(frozen=True)
class LLMConfig(EngineConfig):
    """Settings of an LLM-engine run (``start_rules`` empty: ``seeds/funsearch_*.py``)."""
    population: int = 64            # completions per round
    generations: int = 20           # rounds after round 0 (the start programs)
    backend: str = "transformers"   # or "openai"
    model: str | None = None        # model directory or hub name; the server's model name
    url: str | None = None          # OpenAI-compatible server
    lora: str | None = None
    device: str | None = None
    temperature: float = 1.0
    top_p: float = 0.95
    max_new_tokens: int = 160
    request_timeout: float = 120.0
    retries: int = 4
    samples_per_prompt: int = 4
    prompts_per_batch: int = 2      # prompts per backend call
    islands: int = 10
    functions_per_prompt: int = 2
    cluster_temperature: float = 0.1
    temperature_period: int = 1000
    reset_period: int = 200
    deterministic: bool = False
    queue_size: int = 4             # backend batches waiting for evaluation, at most
    mask_time_limit: float = 5.0    # seconds of one rule's mask evaluation in the sandbox
    mask_memory_mb: float = 512.0
    selection: str | None = None    # GP options: rejected by this engine
    max_height: int | None = None

    @classmethod
    def cli_options(cls, args) -> dict:
        """Settings given on ``evolve``'s command line (registered by
        :mod:`ibp_evolve.cli.llm`)."""
        return {k: getattr(args, k) for k in LLM_OPTIONS if getattr(args, k, None) is not None}


@dataclass(frozen=True)
class IslandsConfig(EngineConfig):
    """Settings of a run of islands (``evolve --islands gp:2,llm:1``); each island keeps its
    own engine's config."""
    islands: str = "gp:3"     # the islands, as spelled on the command line
    island_configs: tuple = ()   # per island {"engine": NAME, "engine_config": {...}}
    migrate_every: int = 5    # generations between migrations of the best programs; 0: never
    migrants: int = 3         # best distinct programs each island sends to the others
    budget: str = "equal"     # how islands share candidates: equal, adaptive (island_budget)
    budget_floor: float = 0.25   # adaptive: the share of generations a weak island keeps
    budget_halflife: float = 10.0   # adaptive: generations after which an island's past
                                    # contributions count half
