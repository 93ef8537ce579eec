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

The child is a plain ``sys.executable`` subprocess talking length-prefixed messages over its
stdin/stdout (the parent's job as a pickle — the child trusts its parent —, the child's replies
in a fixed binary format the parent decodes without unpickling: the child ran untrusted code), rather than a :mod:`multiprocessing` process: it then works from daemonic pool
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
from ibp_evolve.language.parse import CandidateError, Rule, load_rule
from ibp_evolve.resources import package_root

__all__ = ["RuleSandboxError", "RuleTimeout", "RuleResourceError", "SandboxStartError",
           "evaluate_mask"]

STARTUP_TIMEOUT = 60.0   # seconds for a fresh interpreter to import numpy and report ready
_HEADER = 8              # bytes of the little-endian length prefix of every message


class RuleSandboxError(RuntimeError):
    """The sandboxed evaluation of a rule failed."""


class RuleTimeout(RuleSandboxError, CandidateError):
    """The rule ran past its wall-clock or CPU time limit and was killed."""


class RuleResourceError(RuleSandboxError, CandidateError):
    """The rule ran out of memory, raised, or made the sandbox worker die or misbehave."""


class SandboxStartError(RuleSandboxError):
    """The sandbox worker did not start: no rule ran yet, so it is no rule's fault."""


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
        write_reply(channel_out, _READY, os.getpid().to_bytes(8, "little"))
        source, seeds, target, isps = _read_message(channel_in)
        mask = compile_rule(load_rule(source))(features_from_indices(seeds, target, isps))
        write_reply(channel_out, _OK, encode_masks([mask]))
    except MemoryError:
        _try_reply(channel_out, _MEMORY)
    except BaseException as exc:       # report anything else, then exit
        _try_reply(channel_out, _ERROR,
                   f"{type(exc).__name__}: {exc}".encode(errors="replace")[:_MAX_TEXT])


# Replies of a sandbox child (this one and the LLM engine's): one status byte, then its payload.
# The parent decodes them by hand — never with pickle, whose loads would run code for a child
# that escaped the rule language.
_READY, _OK, _MEMORY, _ERROR = b"R", b"K", b"M", b"E"
_MAX_TEXT = 4000                      # bytes of an error message


def encode_masks(masks) -> bytes:
    """Keep-masks as the concatenation of their packed bits (the parent knows their lengths)."""
    return b"".join(np.packbits(np.asarray(m, dtype=bool)).tobytes() for m in masks)


def decode_masks(payload: bytes, lengths) -> list[np.ndarray] | None:
    """The masks of :func:`encode_masks`, or None when ``payload`` does not fit ``lengths``."""
    sizes = [(n + 7) // 8 for n in lengths]
    if len(payload) != sum(sizes):
        return None
    out, start = [], 0
    for n, size in zip(lengths, sizes):
        bits = np.frombuffer(payload, dtype=np.uint8, count=size, offset=start)
        out.append(np.unpackbits(bits, count=n).astype(bool))
        start += size
    return out


def reply_limit(lengths) -> int:
    """The largest reply an honest child writes for masks of ``lengths``."""
    return 1 + max(sum((n + 7) // 8 for n in lengths), _MAX_TEXT, 8)


def decode_reply(data: bytes, lengths):
    """A child's reply as (status, payload): ("ready", pid), ("ok", masks), ("memory", None),
    ("error", text); anything malformed is ("died", None)."""
    status, payload = data[:1], data[1:]
    if status == _READY and len(payload) == 8:
        return "ready", int.from_bytes(payload, "little")
    if status == _OK:
        masks = decode_masks(payload, lengths)
        if masks is not None:
            return "ok", masks
    if status == _MEMORY and not payload:
        return "memory", None
    if status == _ERROR:
        return "error", payload.decode(errors="replace")
    return "died", None


def write_reply(stream, status: bytes, payload: bytes = b"") -> None:
    stream.write((len(payload) + 1).to_bytes(_HEADER, "little") + status + payload)
    stream.flush()




def _try_reply(stream, status: bytes, payload: bytes = b"") -> None:
    try:
        write_reply(stream, status, payload)
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


def receive_reply(fd: int, timeout: float, lengths):
    """The child's next reply (see :func:`decode_reply`) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    size = int.from_bytes(_read_exact(fd, _HEADER, deadline), "little")
    if not 1 <= size <= reply_limit(lengths):
        return "died", None           # a reply no honest child writes: never read it
    return decode_reply(_read_exact(fd, size, deadline), lengths)


def _send(fd: int, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(_HEADER, "little") + data)
    while view:
        view = view[os.write(fd, view):]


def _child_environment() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(package_root()), env.get("PYTHONPATH")) if p)
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
    n_seeds = len(job[1])
    try:
        reply = receive_reply(out_fd, STARTUP_TIMEOUT, [n_seeds])
    except _Late:
        raise SandboxStartError(
            f"the sandbox worker did not start within {STARTUP_TIMEOUT:.0f} s") from None
    except EOFError:
        worker.wait()
        raise SandboxStartError(f"the sandbox worker failed to start "
                                f"({_describe_exit(worker.returncode)}): "
                                f"{_tail(stderr)}") from None
    if reply[0] == "ready":
        try:
            _send(worker.stdin.fileno(), job)
        except OSError:
            pass   # the child died while receiving; its reply or exit status says why
        try:
            reply = receive_reply(out_fd, time_limit, [n_seeds])
        except _Late:
            raise RuleTimeout(f"rule evaluation exceeded the time limit of {time_limit:g} s "
                              f"(wall clock) and was killed") from None
        except EOFError:
            reply = ("died", None)
    status, payload = reply
    if status == "ok":
        return payload[0]
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
