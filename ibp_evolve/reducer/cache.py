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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that it is always either the old or the new content, even after a kill
    or a crash of the machine (flushed to disk before the rename).  The one atomic write of the
    package: caches here, run folders, reports and benchmark results above."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # some file systems cannot fsync a directory
        pass


def atomic_write_text(path: Path, text: str) -> None:
    """``atomic_write_bytes`` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


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
