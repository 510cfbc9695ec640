"""Running runtime processes for the benchmark: timed, reaped by pidfd, cleaned up.

The harness is a child subreaper, like containerd's shim: a container's init is
re-parented to it once `create` exits; it learns of the init's exit through a
pidfd and reaps it. Runtime processes are started with posix_spawn and reaped one
by one by pid, never with wait(-1), so a container's init is never reaped by
accident (and vice versa).
"""

from __future__ import annotations

import ctypes
import itertools
import os
import select
import signal
import time
from collections import deque
from dataclasses import dataclass
from typing import Optional

PR_SET_CHILD_SUBREAPER = 36
STEP_TIMEOUT_S = 60.0


@dataclass
class Result:
    """One finished runtime invocation."""

    argv: list[str]
    rc: Optional[int]  # None: killed after the timeout
    seconds: float
    finished: float  # time.perf_counter() when it was reaped
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def why(self) -> str:
        """A one-line reason for a failure, for the report."""
        if self.rc is None:
            return f"`{short_command(self.argv)}` was killed: no exit within its time limit"
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {self.rc}, no stderr"
        return f"`{short_command(self.argv)}`: {last[:200]}"


def short_command(argv: list[str]) -> str:
    """The program's name and first operand, leaving out a `--root DIR` in between."""
    words = [os.path.basename(argv[0])]
    rest = list(argv[1:])
    if rest[:1] == ["--root"]:
        rest = rest[2:]
    return " ".join(words + rest[:1])


class Scratch:
    """Numbered scratch files for the output of spawned processes."""

    def __init__(self, directory: str):
        self.directory = directory
        self.counter = itertools.count()
        os.makedirs(directory, exist_ok=True)

    def path(self, suffix: str) -> str:
        return os.path.join(self.directory, f"{next(self.counter)}.{suffix}")


class Spawned:
    """A process started with posix_spawn; stdin is /dev/null, output goes to files.

    A `keep_stdout` path is left in place (a container created by this process
    inherits it as its stdout); otherwise the output files are removed once read.
    """

    def __init__(self, argv: list[str], scratch: Scratch, keep_stdout: Optional[str] = None):
        self.argv = argv
        self.keep_stdout = keep_stdout
        self.out = keep_stdout or scratch.path("out")
        self.err = scratch.path("err")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, self.out, flags, 0o644),
            (os.POSIX_SPAWN_OPEN, 2, self.err, flags, 0o644),
        ]
        self.started = time.perf_counter()
        self.pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)

    def finish(self, killed: bool = False) -> Result:
        """Reap the process (it must have exited, or be killed first)."""
        _, status = os.waitpid(self.pid, 0)
        finished = time.perf_counter()
        rc = None if killed else os.waitstatus_to_exitcode(status)
        stdout = read_text(self.out)
        stderr = read_text(self.err)
        if self.keep_stdout is None:
            remove_quietly(self.out)
        remove_quietly(self.err)
        return Result(self.argv, rc, finished - self.started, finished, stdout, stderr)

    def kill(self) -> Result:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.finish(killed=True)


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


Step = tuple[list[str], Optional[str]]  # argv, and a stdout path to keep (or None)


def run_chains(
    chains: list[list[Step]], scratch: Scratch, concurrency: int, timeout: float = STEP_TIMEOUT_S
) -> list[list[Result]]:
    """Run each chain's steps one after the other, up to `concurrency` chains at once.

    A chain stops at its first failing step. Returns each chain's results.
    """
    return ChainRunner(chains, scratch, timeout * max(1, len(chains) / max(1, concurrency))).run(concurrency)


class ChainRunner:
    """The event loop behind run_chains.

    Exits are observed through pidfds, so only the runtime processes started here
    are ever reaped (never a container's init, also a child of this subreaper).
    """

    def __init__(self, chains: list[list[Step]], scratch: Scratch, timeout: float):
        self.chains = chains
        self.scratch = scratch
        self.deadline = time.monotonic() + timeout
        self.results: list[list[Result]] = [[] for _ in chains]
        self.waiting = deque(range(len(chains)))
        self.active: dict[int, tuple[int, int, Spawned]] = {}  # pidfd -> chain, step, process
        self.poller = select.poll()

    def run(self, concurrency: int) -> list[list[Result]]:
        try:
            for _ in range(min(concurrency, len(self.chains))):
                self.launch_next_chain()
            while self.active:
                self.step()
        finally:
            self.kill_active()
        return self.results

    def launch(self, chain: int, step: int) -> None:
        argv, keep = self.chains[chain][step]
        proc = Spawned(argv, self.scratch, keep)
        fd = os.pidfd_open(proc.pid)
        self.poller.register(fd, select.POLLIN)
        self.active[fd] = (chain, step, proc)

    def launch_next_chain(self) -> None:
        if self.waiting:
            self.launch(self.waiting.popleft(), 0)

    def forget(self, fd: int) -> tuple[int, int, Spawned]:
        entry = self.active.pop(fd)
        self.poller.unregister(fd)
        os.close(fd)
        return entry

    def step(self) -> None:
        """Wait for some runtime to exit and start what comes after it."""
        remaining_ms = max(0, int((self.deadline - time.monotonic()) * 1000))
        events = self.poller.poll(remaining_ms)
        if not events:
            self.kill_active()
            return
        for fd, _ in events:
            chain, step, proc = self.forget(fd)
            result = proc.finish()
            self.results[chain].append(result)
            if result.ok and step + 1 < len(self.chains[chain]):
                self.launch(chain, step + 1)
            else:
                self.launch_next_chain()

    def kill_active(self) -> None:
        """Kill what still runs (past the deadline, or on the way out of an exception)."""
        for fd in list(self.active):
            chain, _, proc = self.forget(fd)
            self.results[chain].append(proc.kill())


def chain_failures(results: list[list[Result]], length: int) -> list[str]:
    """Why each chain that did not run all `length` steps successfully stopped."""
    reasons = []
    for steps in results:
        if not steps:
            reasons.append("never started (the batch timed out)")
        elif not steps[-1].ok:
            reasons.append(steps[-1].why())
        elif len(steps) < length:
            reasons.append("stopped early (the batch timed out)")
    return reasons


def wait_exit(pid: int, timeout: float = STEP_TIMEOUT_S) -> bool:
    """Wait until `pid` has exited and reap it if it is our child. False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(int(timeout * 1000)):
            return False
    finally:
        os.close(fd)
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return True


def kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_exit(pid)


def reap_orphans() -> None:
    """Reap stray processes re-parented to us; call only when no runtime is running."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived; the harness cleans up and exits."""


def stop_on_signals() -> None:
    def interrupt(signum, _frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupt)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, interrupt)


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
