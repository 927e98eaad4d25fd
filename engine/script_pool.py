"""A small pool of long-lived script workers (engine/script_worker.py), talking over pipes.

Each worker is a fresh interpreter started with subprocess (not a fork of the server), with a
scrubbed environment and an empty temporary directory as its working directory (its whole
file system when the server runs as root). A call takes an idle worker, writes one JSON line
and waits for one line back until the deadline; a worker that misses it, dies, or answers
something unreadable is killed and replaced by a fresh one on the next call. Answers are
decoded as JSON only: the worker is untrusted.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from . import script_worker
from .script_worker import ScriptTimeout

WORKER_PATH = Path(script_worker.__file__).resolve()
# How long the server waits past a request's timeout before it kills the worker (the worker
# stops a Python loop itself at the timeout; only a long C call needs the kill).
KILL_GRACE_SECONDS = 0.25
STARTUP_SECONDS = 15.0
# An answer larger than this is refused (and the worker killed): process data is far smaller.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
# The only environment a worker gets: no ATRIUM_* settings, no credentials, no PYTHON* paths.
WORKER_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class ScriptWorkerError(Exception):
    """The worker died, could not start, or answered something unreadable."""


class _Worker:
    def __init__(self, memory_mb: int):
        self.directory = tempfile.mkdtemp(prefix="atrium-script-")
        os.chmod(self.directory, 0o555)  # nobody may enter it, nothing may be written in it
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER_PATH), json.dumps({"memory_mb": memory_mb})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self.directory,
            env=dict(WORKER_ENV),
            close_fds=True,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        self.owner_pid = os.getpid()
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        self._poll_in, self._poll_out = select.poll(), select.poll()
        self._poll_in.register(self._out, select.POLLIN | select.POLLHUP | select.POLLERR)
        self._poll_out.register(self._in, select.POLLOUT | select.POLLHUP | select.POLLERR)
        self._pending = b""
        self._serial = 0
        self._late = "the script worker took too long to start"
        self.alive = True
        try:
            first = self._read(time.monotonic() + STARTUP_SECONDS)
        except BaseException:
            self.kill()
            raise
        if "ready" not in first:
            self.kill()
            raise ScriptWorkerError(f"the script worker did not start: {first.get('fatal', first)}")
        self.info = first["ready"]

    def call(self, request: dict, timeout: float) -> dict:
        """Send one request and return its answer; kills the worker if it misses the deadline."""
        self._serial += 1
        request["n"] = self._serial
        line = script_worker.dumps(script_worker.encode(request))
        deadline = time.monotonic() + timeout + KILL_GRACE_SECONDS
        self._late = f"script ran longer than {timeout:g} s and was stopped"
        try:
            self._write(line, deadline)
            answer = self._read(deadline)
        except BaseException:
            self.kill()
            raise
        if answer.get("n") != self._serial:
            self.kill()
            raise ScriptWorkerError("the script worker answered out of turn")
        if answer.get("retire"):
            self.kill()
        return answer

    def _write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            if not self._poll_out.poll(_ms_until(deadline)):
                raise ScriptTimeout(self._late)
            try:
                sent = os.write(self._in, view)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise ScriptWorkerError(self._died()) from exc
            view = view[sent:]

    def _read(self, deadline: float) -> dict:
        chunks = [self._pending]
        size = len(self._pending)
        while b"\n" not in chunks[-1]:
            if not self._poll_in.poll(_ms_until(deadline)):
                raise ScriptTimeout(self._late)
            chunk = os.read(self._out, 1 << 16)
            if not chunk:
                raise ScriptWorkerError(self._died())
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise ScriptWorkerError(f"the script's answer is larger than {MAX_ANSWER_BYTES // 2**20} MB")
        line, _, self._pending = b"".join(chunks).partition(b"\n")
        try:
            answer = script_worker.loads(line)
        except Exception as exc:
            raise ScriptWorkerError("the script worker sent an unreadable answer") from exc
        if not isinstance(answer, dict):
            raise ScriptWorkerError("the script worker sent an unreadable answer")
        return answer

    def _died(self) -> str:
        try:
            code = self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            if -code == signal.SIGXCPU:
                return "the script used more CPU time than it may and was stopped"
            return f"the script's worker was stopped by {name}"
        return "the script's worker stopped"

    def kill(self) -> None:
        """Kill the worker (its whole process group) and remove its directory."""
        if not self.alive:
            return
        self.alive = False
        if self.owner_pid == os.getpid():
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            shutil.rmtree(self.directory, ignore_errors=True)
        self.forget()

    def forget(self) -> None:
        """Drop this process's ends of the pipes (a forked child must not use its parent's workers)."""
        self.alive = False
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


def _ms_until(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000) + 1)


class WorkerPool:
    """Up to `size` workers, started on demand and reused; thread-safe."""

    def __init__(self, size: int, memory_mb: int):
        self.size = max(1, size)
        self.memory_mb = memory_mb
        self._idle: list[_Worker] = []
        self._busy = 0
        self._cond = threading.Condition()

    @contextmanager
    def worker(self):
        with self._cond:
            while not self._idle and self._busy >= self.size:
                self._cond.wait()
            worker = self._idle.pop() if self._idle else None
            self._busy += 1
        try:
            if worker is None:
                worker = _Worker(self.memory_mb)
            yield worker
        finally:
            with self._cond:
                self._busy -= 1
                if worker is not None and worker.alive:
                    self._idle.append(worker)
                self._cond.notify()

    def call(self, request: dict, timeout: float) -> dict:
        with self.worker() as worker:
            return worker.call(request, timeout)

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    def forget(self) -> None:
        for worker in self._idle:
            worker.forget()
        self._idle = []
        self._busy = 0
        self._cond = threading.Condition()


_pools: dict[tuple[int, int], WorkerPool] = {}
_pools_lock = threading.Lock()


def pool_for(size: int, memory_mb: int) -> WorkerPool:
    """The process-wide pool for these limits (engines built with the same settings share it)."""
    key = (size, memory_mb)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = WorkerPool(size, memory_mb)
        return pool


def close_all() -> None:
    with _pools_lock:
        pools = list(_pools.values())
    for pool in pools:
        pool.close()


def _after_fork_in_child() -> None:
    # The parent's workers stay the parent's: the child starts its own when it needs them.
    global _pools_lock
    _pools_lock = threading.Lock()
    for pool in _pools.values():
        pool.forget()
    _pools.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(close_all)
