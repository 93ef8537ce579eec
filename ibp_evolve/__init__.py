"""ibp-evolve: discover better seeding heuristics for IBP reduction of Feynman integrals."""

__version__ = "0.1.0"
