"""How a benchmark writes its figures: one JSON document in benchmarks/results, atomically (the
files that benchmarks/readme_figures.py renders into the README)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ibp_evolve.runs.store import atomic_write_bytes


def write_result(out: Path, document: dict, stamp: bool = False, remark: str = "") -> None:
    """Write ``document`` to ``out`` (folders created); ``stamp`` adds the time of measurement
    as ``measured_at``; ``remark`` is appended to the printed ``wrote OUT`` line."""
    if stamp:
        document["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps(document, indent=2) + "\n").encode())
    print(f"wrote {out}{remark}")
