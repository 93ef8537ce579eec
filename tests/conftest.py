"""Test session set-up: derived data (templates, zero sectors, masters) goes to a fresh cache
so that the tests exercise discovery, not whatever an earlier run left behind."""

import os
import tempfile

import pytest

_CACHE = tempfile.mkdtemp(prefix="ibp-evolve-test-cache-")
os.environ.setdefault("IBP_EVOLVE_CACHE", _CACHE)


@pytest.fixture(scope="session")
def triangle_box():
    from ibp_evolve.reducer.family import load_family
    return load_family("triangle_box")
