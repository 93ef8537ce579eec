"""A family file validated once is restored from the cache by its content, without sympy."""

import json

import pytest

from ibp_evolve.reducer import family as family_module
from ibp_evolve.reducer.family import FamilyError, load_family

BOX = family_module.read_named_toml("box", family_module.BUILTIN_PACKAGE, "family",
                                    FamilyError)[0]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("IBP_EVOLVE_CACHE", str(folder))
    return folder


def _refuse_parsing(monkeypatch):
    def parse_family(*_, **__):
        raise AssertionError("the family was parsed again")
    monkeypatch.setattr(family_module, "parse_family", parse_family)


def test_the_box_restored_from_the_cache_is_the_box_parsed_from_its_file(
        cache, tmp_path, monkeypatch):
    path = tmp_path / "box.toml"
    path.write_text(BOX)
    parsed = load_family(path)
    (entry,) = cache.glob("family-*.json")
    with monkeypatch.context() as patch:
        _refuse_parsing(patch)
        restored = load_family(path)
    for field in ("name", "loop_momenta", "external_momenta", "propagators", "isps",
                  "dimension", "symbols", "lorentz_invariance", "preferred_masters",
                  "description", "source", "origin", "digest", "parameters"):
        assert getattr(restored, field) == getattr(parsed, field), field
    assert "_symbolic" not in vars(restored)   # the sympy parts wait until someone asks
    assert restored.quadratic_forms == parsed.quadratic_forms
    assert restored.constants == parsed.constants
    assert restored.kinematics == parsed.kinematics
    assert json.loads(entry.read_text())["source"] == BOX


def test_an_edited_family_file_is_validated_again(cache, tmp_path):
    path = tmp_path / "box.toml"
    path.write_text(BOX)
    load_family(path)
    path.write_text(BOX.replace('"k^2"', '"k^3"'))
    with pytest.raises(FamilyError, match="propagators"):
        load_family(path)


def test_a_damaged_cache_entry_is_parsed_and_written_again(cache, tmp_path):
    path = tmp_path / "box.toml"
    path.write_text(BOX)
    load_family(path)
    (entry,) = cache.glob("family-*.json")
    entry.write_text('{"name": "box", "isps": ')
    assert load_family(path).propagators == load_family("box").propagators
    assert json.loads(entry.read_text())["name"] == "box"


def test_a_family_loads_when_the_cache_folder_is_a_file(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("IBP_EVOLVE_CACHE", str(blocker))
    assert load_family("box").name == "box"


def test_changed_validation_code_never_reuses_an_old_entry(cache, tmp_path, monkeypatch):
    """The cache key holds a hash of the validating code, not a hand-bumped format number."""
    path = tmp_path / "box.toml"
    path.write_text(BOX)
    load_family(path)
    monkeypatch.setattr(family_module, "_code_version", lambda: "changedcode0")
    calls = []
    real_parse = family_module.parse_family

    def parse_family(*args, **kwargs):
        calls.append(1)
        return real_parse(*args, **kwargs)
    monkeypatch.setattr(family_module, "parse_family", parse_family)
    load_family(path)
    assert calls, "an entry written by other validation code was reused"
    assert len(list(cache.glob("family-*.json"))) == 2


def test_a_cache_key_follows_the_code_that_derives_the_data(tmp_path, monkeypatch):
    """Masters, symmetries and validated families are keyed by a hash of their code's source:
    editing any listed module changes the key (no hand-bumped format numbers)."""
    import importlib.util
    import shutil

    from ibp_evolve.reducer import cache
    before = cache.code_version("expressions", "family")
    package = tmp_path / "ibp_evolve" / "reducer"
    package.mkdir(parents=True)
    for name in ("__init__", "expressions", "family"):
        origin = importlib.util.find_spec(f"ibp_evolve.reducer.{name}").origin
        shutil.copy(origin, package / f"{name}.py")
    (tmp_path / "ibp_evolve" / "__init__.py").write_text("")
    (package / "expressions.py").write_text((package / "expressions.py").read_text() + "\n# edit\n")
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name.startswith("ibp_evolve.reducer."):
            return importlib.util.spec_from_file_location(
                name, package / f"{name.rsplit('.', 1)[1]}.py")
        return real_find_spec(name, *args)
    monkeypatch.setattr(cache.importlib.util, "find_spec", find_spec)
    cache.code_version.cache_clear()
    try:
        assert cache.code_version("expressions", "family") != before
    finally:
        cache.code_version.cache_clear()
