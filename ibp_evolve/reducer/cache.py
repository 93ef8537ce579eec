"""Where derived data lives on disk (templates, zero sectors, masters, validated families), and
how it is written: atomically, so that a reader sees the old content or the new, never half."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from functools import lru_cache
from pathlib import Path


class CacheDirError(OSError):
    """The folder for derived data cannot be used (a file, unwritable): bad input, exit 2."""


def cache_dir() -> Path:
    """Where derived data is cached; IBP_EVOLVE_CACHE overrides."""
    root = os.environ.get("IBP_EVOLVE_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "ibp-evolve"
    where = f"IBP_EVOLVE_CACHE={root}" if root else str(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CacheDirError(f"the cache folder {where} is a file, not a folder") from None
    except OSError as exc:
        raise CacheDirError(f"cannot create the cache folder {where}: "
                            f"{exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise CacheDirError(f"the cache folder {where} is not writable")
    return path


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see either the old or the new content, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@lru_cache(maxsize=None)
def code_version(*modules: str) -> str:
    """Hash of the source of the named ``ibp_evolve.reducer`` modules: part of a cache key, so
    that data derived by other code is never reused.  The files are found, not imported (some
    load sympy, which a warm run never needs)."""
    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(f"ibp_evolve.reducer.{name}")
        digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()[:16]
