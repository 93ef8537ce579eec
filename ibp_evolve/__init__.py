"""ibp-evolve: discover better seeding heuristics for IBP reduction of Feynman integrals."""

__version__ = "0.1.0"

# The notebook API (ibp_evolve.api), loaded on first use so that ``import ibp_evolve`` stays
# light.  ``inspect``, ``compare`` and ``report`` are also submodule names: use them as
# ``ibp_evolve.api.inspect`` etc.
_API = ("rules", "load_rule", "load_suite", "load_run", "score", "evolve", "judge")


def __getattr__(name):
    if name in _API:
        from ibp_evolve import api
        return getattr(api, name)
    raise AttributeError(f"module 'ibp_evolve' has no attribute {name!r}")
