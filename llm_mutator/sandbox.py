"""Where untrusted rules run: long-lived, resource-limited child processes that compute masks.

An LLM completion is validated (:func:`llm_mutator.prompt.parse_completion`) before anything
executes it, and even then it is executed only here: a child interpreter
(``sys.executable``, not a fork of the engine, which may hold a model and threads) that

* receives the suite's candidate-seed features once, then limits its own address space
  (``RLIMIT_AS``: what it occupies then plus ``memory_limit_mb``) and writes no core files;
* for every rule sets its CPU-time limit (``RLIMIT_CPU``, soft) to what it has used plus
  ``time_limit`` + 1 s — past that the kernel's SIGXCPU ends it;
* answers with the bit-packed seed masks, and nothing else.

The parent gives each rule ``time_limit`` seconds of wall-clock time and then kills the child's
whole process group; a child that died or ran out of memory is replaced for the next rule.  The
child starts in a fresh session and in an empty scratch directory, with a minimal environment.
The solver never runs here (an address-space limit does not mix with numba's JIT): only masks
leave, and the judge's workers score them.

This is the same protection as :func:`ibp_evolve.language.sandbox.evaluate_mask`, without the start
of a fresh interpreter for every rule: the engine evaluates thousands of completions.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile

import numpy as np

from ibp_evolve.resources import package_root
from ibp_evolve.language.sandbox import (_ERROR, _MEMORY, _OK, _READY, _Late, encode_masks,
                                         receive_reply, write_reply)

__all__ = ["MaskSandbox", "SandboxResult"]

_HEADER = 8
STARTUP_TIMEOUT = 120.0


# ----------------------------------------------------------------------------- child side

def _read(stream):
    header = stream.read(_HEADER)
    if len(header) != _HEADER:
        raise EOFError
    size = int.from_bytes(header, "little")
    data = stream.read(size)
    if len(data) != size:
        raise EOFError
    return pickle.loads(data)


def _child_main() -> None:  # pragma: no cover - runs in the child process
    import resource

    from ibp_evolve.language.compile import compile_rule
    from ibp_evolve.language.parse import load_rule
    from ibp_evolve.language.sandbox import _address_space_bytes

    channel_in, channel_out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    time_limit, memory_limit_mb = float(sys.argv[1]), float(sys.argv[2])
    features = _read(channel_in)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    memory = (_address_space_bytes() or 0) + int(memory_limit_mb * 2**20)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory, resource.getrlimit(
            resource.RLIMIT_AS)[1]))
    except (ValueError, OSError):
        pass    # no RLIMIT_AS on this platform: the parent's clock remains
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    write_reply(channel_out, _READY, os.getpid().to_bytes(8, "little"))
    while True:
        try:
            source = _read(channel_in)
        except EOFError:
            return
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(usage.ru_utime + usage.ru_stime + time_limit) + 1
        if cpu_hard != resource.RLIM_INFINITY:
            soft = min(soft, cpu_hard)
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))
        except (ValueError, OSError):
            pass
        try:
            compiled = compile_rule(load_rule(source))
            masks = [np.asarray(compiled(f), dtype=bool) for f in features]
            reply = (_OK, encode_masks(masks))
        except MemoryError:
            write_reply(channel_out, _MEMORY)
            return          # a fresh child for the next rule
        except BaseException as exc:
            reply = (_ERROR, f"{type(exc).__name__}: {exc}"[:500].encode(errors="replace"))
        write_reply(channel_out, *reply)


# ----------------------------------------------------------------------------- parent side

class SandboxResult:
    """``status``: ok (``masks`` set), rejected (the rule raised), timeout, or crashed (out of
    memory or the child died); ``reason`` says why."""
    __slots__ = ("status", "masks", "reason")

    def __init__(self, status, masks=None, reason=""):
        self.status, self.masks, self.reason = status, masks, reason

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def __repr__(self) -> str:
        return f"SandboxResult({self.status!r}, reason={self.reason!r})"


class MaskSandbox:
    """Seed masks of rule sources over fixed candidate features, computed in a limited child.

    ``features``: one :class:`~ibp_evolve.language.compile.SeedFeatures` per target (e.g.
    :func:`ibp_evolve.runs.evaluation.suite_features`).  Not thread-safe: one caller at a time.
    """

    def __init__(self, features, time_limit: float = 5.0, memory_limit_mb: float = 512.0,
                 scratch_dir=None):
        if not (time_limit > 0 and memory_limit_mb > 0):
            raise ValueError("time_limit and memory_limit_mb must be positive")
        self.features = list(features)
        self._lengths = [f.n_seeds for f in self.features]
        self.time_limit = float(time_limit)
        self.memory_limit_mb = float(memory_limit_mb)
        self._payload = pickle.dumps(self.features, protocol=pickle.HIGHEST_PROTOCOL)
        # the child's working and temporary directory (e.g. inside the run folder)
        self._scratch = tempfile.TemporaryDirectory(prefix="ibp-llm-sandbox-", dir=scratch_dir)
        self.proc = None
        self.restarts = 0

    # -- child life cycle --------------------------------------------------------------------
    def _environment(self) -> dict:
        keep = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "SYSTEMROOT")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(package_root()), os.environ.get("PYTHONPATH"))
                                            if p)
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"
        env["TMPDIR"] = self._scratch.name
        return env

    def _start(self) -> None:
        command = [sys.executable, "-c",
                   "from llm_mutator.sandbox import _child_main; _child_main()",
                   repr(self.time_limit), repr(self.memory_limit_mb)]
        self.stderr = tempfile.TemporaryFile(dir=self._scratch.name)
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, bufsize=0, env=self._environment(),
                                     cwd=self._scratch.name, start_new_session=True,
                                     close_fds=True)
        self._send(self._payload, raw=True)
        try:
            status, _ = self._receive(STARTUP_TIMEOUT)
        except (_Late, EOFError):
            self._kill()
            raise RuntimeError(f"the mask sandbox did not start: {self._stderr_tail()}")
        if status != "ready":  # pragma: no cover
            self._kill()
            raise RuntimeError("the mask sandbox did not start")

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.kill()
        except ProcessLookupError:
            pass
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            self.stderr.close()
        except OSError:
            pass

    def _stderr_tail(self, limit: int = 500) -> str:
        try:
            self.stderr.seek(0)
            return self.stderr.read().decode(errors="replace").strip()[-limit:] or "-"
        except (OSError, ValueError):
            return "-"

    def _send(self, message, raw: bool = False) -> None:
        data = message if raw else pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(len(data).to_bytes(_HEADER, "little") + data)
        fd = self.proc.stdin.fileno()
        while view:
            view = view[os.write(fd, view):]

    def _receive(self, timeout: float):
        """The child's reply, decoded without unpickling (the child ran untrusted code)."""
        status, payload = receive_reply(self.proc.stdout.fileno(), timeout, self._lengths)
        if status == "died":
            raise EOFError
        return status, payload

    # -- the one verb ----------------------------------------------------------------------
    def masks(self, source: str) -> SandboxResult:
        """The rule's masks, or why there are none.  Never raises for a bad rule."""
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self._kill()
                self.restarts += 1
            self._start()
        try:
            self._send(source)
            status, payload = self._receive(self.time_limit)
        except _Late:
            self._kill()
            return SandboxResult("timeout", reason=f"rule evaluation exceeded the time limit "
                                 f"of {self.time_limit:g} s and was killed")
        except (EOFError, OSError):
            self.proc.wait()
            code = self.proc.returncode
            self._kill()
            if code is not None and -code in (signal.SIGXCPU, signal.SIGKILL):
                return SandboxResult("timeout", reason=f"rule evaluation exceeded the CPU time "
                                     f"limit of about {self.time_limit:g} s and was killed")
            return SandboxResult("crashed", reason=f"the sandbox died (exit status {code}), "
                                 f"most likely past the memory limit of "
                                 f"{self.memory_limit_mb:g} MB")
        if status == "ok":
            return SandboxResult("ok", payload)
        if status == "memory":
            self._kill()
            return SandboxResult("crashed", reason=f"rule evaluation exceeded the memory limit "
                                 f"of {self.memory_limit_mb:g} MB and was stopped")
        return SandboxResult("rejected", reason=f"rule evaluation failed: {payload}")

    def close(self) -> None:
        self._kill()
        self._scratch.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
