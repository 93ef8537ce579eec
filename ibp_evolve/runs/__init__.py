"""Durable runs and parallel evaluation: the run folder (store), the worker pool (evaluation)
and the progress line. Uses the judge; engines plug into it.
"""
