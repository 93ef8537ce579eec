"""Whether a model folder's weights fit in the memory of the device that would load them.

``from_pretrained`` of a model larger than the machine's memory does not fail cleanly: the
process swaps, or the kernel's out-of-memory killer ends it (CUDA raises a bare
``OutOfMemoryError`` half-way through).  So the weights are sized from the folder before
loading: parameters from the ``*.safetensors`` headers (their first bytes, never the tensors),
else the bytes of the other weight files, at the dtype they will be loaded in; available
memory is ``MemAvailable`` (and the cgroup's limit, as a batch scheduler sets it) on the CPU,
``torch.cuda.mem_get_info`` on a GPU.  A model that does not fit is refused with the numbers.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

__all__ = ["ModelSize", "model_size", "available_bytes", "misfit"]

_HEADER_LIMIT = 100 * 2**20        # a safetensors header is JSON of at most 100 MB
_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth")
# the share of the available memory the weights may take: activations, the tokenizer and
# (for training) gradients of the adapter need the rest
_WEIGHT_SHARE = 0.8


class ModelSize:
    """Parameters and their bytes as stored, from safetensors headers; or the size of the
    pickled weight files when there are no others (then ``parameters`` is None)."""

    def __init__(self, parameters: int | None, stored_bytes: int):
        self.parameters, self.stored_bytes = parameters, stored_bytes

    def bytes_at(self, dtype_bytes: int | None) -> int:
        """In memory at ``dtype_bytes`` per parameter (None: as stored)."""
        if self.parameters is None or dtype_bytes is None:
            return self.stored_bytes
        return self.parameters * dtype_bytes


_DTYPE_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2,
                "BF16": 2, "I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1,
                "F8_E5M2": 1}


def _safetensors_tensors(path: Path) -> tuple[int, int]:
    """(parameters, bytes as stored) from a safetensors file's header."""
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise ValueError("shorter than a safetensors header")
        (length,) = struct.unpack("<Q", raw)
        if length > _HEADER_LIMIT:
            raise ValueError(f"header of {length} bytes")
        header = json.loads(fh.read(length))
    parameters = stored = 0
    for name, tensor in header.items():
        if name != "__metadata__":
            n = math.prod(tensor["shape"])
            parameters += n
            stored += n * _DTYPE_BYTES.get(tensor["dtype"], 4)
    return parameters, stored


def model_size(folder: Path) -> ModelSize | None:
    """The weights in ``folder`` (None: no weight file found, e.g. a hub name)."""
    tensors = sorted(folder.glob("*.safetensors"))
    if tensors:
        parameters = stored = 0
        for path in tensors:
            try:
                n, nbytes = _safetensors_tensors(path)
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{path}: not a readable safetensors file ({exc})") from None
            parameters, stored = parameters + n, stored + nbytes
        return ModelSize(parameters, stored)
    pickled = [p for p in folder.iterdir() if p.suffix in _WEIGHT_SUFFIXES and p.is_file()]
    if pickled:
        return ModelSize(None, sum(p.stat().st_size for p in pickled))
    return None


def _cpu_available() -> int | None:
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:   # a cgroup v2 limit (batch schedulers, containers) below the machine's memory
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            room = max(0, int(limit) - used)
            available = room if available is None else min(available, room)
    except (OSError, ValueError):
        pass
    return available


def available_bytes(device: str, torch=None) -> int | None:
    """Free memory of ``device`` ("cpu", "cuda", "cuda:1"); None when it cannot be told."""
    if device.startswith("cuda") and torch is not None:
        try:
            free, _total = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
        except Exception:   # no driver answer: let the loader speak
            return None
    if device == "cpu":
        return _cpu_available()
    return None


def misfit(folder: str | Path, dtype_bytes: int | None, device: str, torch=None,
           available: int | None = None) -> str | None:
    """Why the weights in ``folder`` cannot be loaded on ``device`` at ``dtype_bytes`` per
    parameter (None: as stored) — None when they fit, or when the folder or the device's
    memory cannot be sized."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return None
    size = model_size(folder)
    if size is None:
        return None
    available = available_bytes(device, torch) if available is None else available
    if available is None:
        return None
    needed = size.bytes_at(dtype_bytes)
    if needed <= _WEIGHT_SHARE * available:
        return None
    what = (f"{size.parameters / 1e6:,.0f}M parameters x {dtype_bytes} bytes"
            if size.parameters is not None and dtype_bytes else "as stored")
    return (f"the model in {folder} is too large for {device}: its weights need "
            f"{needed / 2**30:.1f} GiB ({what}), {available / 2**30:.1f} GiB is free "
            f"(at most {int(_WEIGHT_SHARE * 100)}% of it for weights)")
