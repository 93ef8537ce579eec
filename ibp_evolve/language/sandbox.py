"""Compute a rule's keep-mask in a resource-limited child process (the last line of defence).

Rules written by an LLM are untrusted. The rule language already makes them harmless and bounded
(a whitelist of constructs, clipped ``range`` bounds and ``**`` exponents), but a legal rule can
still be slow (nested generator expressions over large ranges) or need much memory (many seeds).
:func:`evaluate_mask` therefore evaluates the rule in a fresh child interpreter that

* limits its own address space (``RLIMIT_AS``: ``memory_limit_mb`` on top of what the child
  occupies once numpy and the evaluator are imported) and CPU time (``RLIMIT_CPU``), and writes no
  core files;
* gets ``time_limit`` seconds of wall-clock time from the parent, counted from the moment it is
  ready (the start-up of a fresh interpreter is not charged to the rule); then the parent kills it.

The child is a plain ``sys.executable`` subprocess talking length-prefixed pickles over its
stdin/stdout, rather than a :mod:`multiprocessing` process: it then works from daemonic pool
workers (which may not have multiprocessing children), never re-imports the caller's
``__main__`` script, and leaves no resource-tracker process behind. Only the child is limited;
the calling process is never touched.

Failures surface as :class:`RuleTimeout` or :class:`RuleResourceError`; an invalid rule raises
:class:`~ibp_evolve.language.parse.RuleError` before any process is started. The child is always
killed and reaped before :func:`evaluate_mask` returns or raises.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from ibp_evolve.language.compile import _check_seeds, compile_rule, features_from_indices
from ibp_evolve.language.parse import Rule, load_rule

__all__ = ["RuleSandboxError", "RuleTimeout", "RuleResourceError", "evaluate_mask"]

STARTUP_TIMEOUT = 60.0   # seconds for a fresh interpreter to import numpy and report ready
_HEADER = 8              # bytes of the little-endian length prefix of every message
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class RuleSandboxError(RuntimeError):
    """The sandboxed evaluation of a rule failed."""


class RuleTimeout(RuleSandboxError):
    """The rule ran past its wall-clock or CPU time limit and was killed."""


class RuleResourceError(RuleSandboxError):
    """The rule ran out of memory, or the sandbox worker died or misbehaved."""


# ----------------------------------------------------------------------------- child side

def _address_space_bytes() -> int | None:
    """Current virtual memory size of this process (Linux), or None when unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _limit_self(time_limit: float, memory_limit_mb: float) -> None:
    import resource

    def set_limit(which, soft, hard):
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass   # a platform without this limit (RLIMIT_AS on macOS): the parent's clock remains

    set_limit(resource.RLIMIT_CORE, 0, 0)
    memory = (_address_space_bytes() or 0) + int(memory_limit_mb * 2**20)
    set_limit(resource.RLIMIT_AS, memory, memory)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(usage.ru_utime + usage.ru_stime + time_limit) + 2   # SIGXCPU, then SIGKILL at +2
    set_limit(resource.RLIMIT_CPU, cpu, cpu + 2)


def _write_message(stream, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(_HEADER, "little"))
    stream.write(data)
    stream.flush()


def _read_message(stream):
    header = stream.read(_HEADER)
    if len(header) != _HEADER:
        raise EOFError("the parent closed the pipe")
    data = stream.read(int.from_bytes(header, "little"))
    return pickle.loads(data)


def _child_main() -> None:
    """Entry point of the sandboxed worker: limit itself, receive the job, evaluate, reply."""
    channel_in, channel_out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr              # nothing but protocol messages on the channel
    time_limit, memory_limit_mb = float(sys.argv[1]), float(sys.argv[2])
    try:
        _limit_self(time_limit, memory_limit_mb)
        _write_message(channel_out, ("ready", os.getpid()))
        source, seeds, target, isps = _read_message(channel_in)
        mask = compile_rule(load_rule(source))(features_from_indices(seeds, target, isps))
        _write_message(channel_out, ("ok", np.ascontiguousarray(mask, dtype=bool)))
    except MemoryError:
        _try_write(channel_out, ("memory", None))
    except BaseException as exc:       # report anything else, then exit
        _try_write(channel_out, ("error", f"{type(exc).__name__}: {exc}"))


def _try_write(stream, message) -> None:
    try:
        _write_message(stream, message)
    except BaseException:
        pass


# ----------------------------------------------------------------------------- parent side

class _Late(Exception):
    pass


def _read_exact(fd: int, size: int, deadline: float) -> bytes:
    chunks, remaining = [], size
    while remaining:
        timeout = deadline - time.monotonic()
        if timeout <= 0 or not select.select([fd], [], [], timeout)[0]:
            raise _Late
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int, timeout: float):
    deadline = time.monotonic() + timeout
    size = int.from_bytes(_read_exact(fd, _HEADER, deadline), "little")
    return pickle.loads(_read_exact(fd, size, deadline))


def _send(fd: int, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(_HEADER, "little") + data)
    while view:
        view = view[os.write(fd, view):]


def _child_environment() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"   # no thread pools: less address space, no CPU shared with the caller
    return env


def _describe_exit(returncode) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def evaluate_mask(rule_source: str, seeds, target, isps, time_limit: float = 5.0,
                  memory_limit_mb: float = 1024) -> np.ndarray:
    """The rule's keep-mask over ``seeds`` (shape (n_seeds, N)), computed in a sandboxed child.

    ``rule_source`` is rule source text (or a loaded :class:`Rule`, whose source is sent).

    ``time_limit`` is the wall-clock time in seconds the evaluation may take (the child's CPU
    limit is slightly more generous); ``memory_limit_mb`` the address space it may claim beyond
    its baseline after start-up.

    Raises :class:`~ibp_evolve.language.parse.RuleError` for an invalid rule and ``ValueError`` for
    malformed seeds (both checked here, before a child is started), :class:`RuleTimeout` when the
    time limit is exceeded and :class:`RuleResourceError` when the memory limit is exceeded or the
    child dies or misbehaves.
    """
    if not (time_limit > 0 and memory_limit_mb > 0):
        raise ValueError("time_limit and memory_limit_mb must be positive")
    if isinstance(rule_source, Rule):
        rule_source = rule_source.source
    load_rule(rule_source)   # reject invalid rules cheaply and with the proper error
    seeds, target, isps = _check_seeds(seeds, target, isps)

    command = [sys.executable, "-c",
               "from ibp_evolve.language.sandbox import _child_main; _child_main()",
               repr(float(time_limit)), repr(float(memory_limit_mb))]
    with tempfile.TemporaryFile() as stderr:
        worker = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=stderr, bufsize=0, env=_child_environment(),
                                  start_new_session=True, close_fds=True)
        try:
            return _run_job(worker, (rule_source, seeds, target, isps), time_limit,
                            memory_limit_mb, stderr)
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
            for pipe in (worker.stdin, worker.stdout):
                pipe.close()


def _run_job(worker, job, time_limit, memory_limit_mb, stderr) -> np.ndarray:
    out_fd = worker.stdout.fileno()
    try:
        reply = _receive(out_fd, STARTUP_TIMEOUT)
    except _Late:
        raise RuleResourceError(
            f"the sandbox worker did not start within {STARTUP_TIMEOUT:.0f} s") from None
    except EOFError:
        worker.wait()
        raise RuleResourceError(f"the sandbox worker failed to start "
                                f"({_describe_exit(worker.returncode)}): "
                                f"{_tail(stderr)}") from None
    if reply[0] == "ready":
        try:
            _send(worker.stdin.fileno(), job)
        except OSError:
            pass   # the child died while receiving; its reply or exit status says why
        try:
            reply = _receive(out_fd, time_limit)
        except _Late:
            raise RuleTimeout(f"rule evaluation exceeded the time limit of {time_limit:g} s "
                              f"(wall clock) and was killed") from None
        except EOFError:
            reply = ("died", None)
    status, payload = reply
    if status == "ok":
        return payload
    if status == "memory":
        raise RuleResourceError(f"rule evaluation exceeded the memory limit of "
                                f"{memory_limit_mb:g} MB and was stopped")
    if status == "error":
        raise RuleResourceError(f"rule evaluation failed in the sandbox: {payload}")
    worker.wait()
    if worker.returncode is not None and -worker.returncode in (signal.SIGXCPU, signal.SIGKILL):
        raise RuleTimeout(f"rule evaluation exceeded the CPU time limit of about "
                          f"{time_limit:g} s and was killed ({_describe_exit(worker.returncode)})")
    raise RuleResourceError(f"the sandbox worker died without an answer "
                            f"({_describe_exit(worker.returncode)}), most likely past the memory "
                            f"limit of {memory_limit_mb:g} MB: {_tail(stderr)}")


def _tail(stderr, limit: int = 2000) -> str:
    try:
        stderr.seek(0)
        text = stderr.read().decode(errors="replace").strip()
    except OSError:
        return "(no diagnostics)"
    return text[-limit:] or "(no diagnostics)"
