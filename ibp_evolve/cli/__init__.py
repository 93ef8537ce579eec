"""The ``ibp-evolve`` command line: ``main`` builds the parser, one module per group of verbs."""
