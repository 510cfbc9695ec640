#!/usr/bin/env python3
"""Side-by-side benchmark of runc-compatible runtimes: berth, crun, runc.

Driven by run.sh, which prepares the machine (packages, release build, rootfs,
hugetlb hierarchy) and cleans it up. This script only measures, interleaving the
runtimes sample by sample, and writes the Markdown report. Stdlib only.

The harness is a child subreaper, like containerd's shim: a container's init is
re-parented to it once `create` exits, and it learns of the init's exit through a
pidfd, reaps it, and only then calls `delete`.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import itertools
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

PR_SET_CHILD_SUBREAPER = 36
PAGE = 4096
KIB = 1024
MIB = 1024 * 1024
STEP_TIMEOUT_S = 60.0
LONG_SLEEP = ["/bin/sleep", "100000"]


# ---------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Plan:
    """How many samples each phase takes."""

    name: str
    warmup: int
    iterations: int
    memory_iterations: int
    parallel_sizes: tuple[int, ...]
    parallel_reps: int
    population_checkpoints: tuple[int, ...]
    latency_iterations: int
    floor_start: int
    floor_resolution: int
    fill_concurrency: int


FULL = Plan(
    name="full",
    warmup=3,
    iterations=30,
    memory_iterations=10,
    parallel_sizes=(50, 200),
    parallel_reps=3,
    population_checkpoints=(1, 100, 500),
    latency_iterations=20,
    floor_start=64 * MIB,
    floor_resolution=PAGE,
    fill_concurrency=4,
)

QUICK = Plan(
    name="quick",
    warmup=1,
    iterations=3,
    memory_iterations=2,
    parallel_sizes=(5, 10),
    parallel_reps=1,
    population_checkpoints=(1, 10),
    latency_iterations=3,
    floor_start=64 * MIB,
    floor_resolution=256 * KIB,
    fill_concurrency=2,
)


# ---------------------------------------------------------------- processes


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
            return f"timed out after {STEP_TIMEOUT_S:.0f} s: {' '.join(self.argv[3:])}"
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {self.rc}, no stderr"
        return f"`{' '.join(self.argv[3:5])}`: {last[:200]}"


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


# ---------------------------------------------------------------- cgroups


@dataclass(frozen=True)
class CgroupLayout:
    """Where a container's memory usage is read, on the host and from inside."""

    unified: bool  # pure cgroup v2
    host_mount: str = "/sys/fs/cgroup"
    guest_mount: str = "/hostcg"  # the host's cgroup tree, bind-mounted read-only

    @staticmethod
    def detect() -> "CgroupLayout":
        return CgroupLayout(unified=os.path.exists("/sys/fs/cgroup/cgroup.controllers"))

    def _relative_usage_file(self, cgroup_path: str) -> str:
        if self.unified:
            return f"{cgroup_path.lstrip('/')}/memory.current"
        return f"memory/{cgroup_path.lstrip('/')}/memory.usage_in_bytes"

    def host_usage_file(self, cgroup_path: str) -> str:
        return f"{self.host_mount}/{self._relative_usage_file(cgroup_path)}"

    def guest_usage_file(self, cgroup_path: str) -> str:
        return f"{self.guest_mount}/{self._relative_usage_file(cgroup_path)}"

    def guest_mount_entry(self) -> dict:
        return {
            "destination": self.guest_mount,
            "type": "bind",
            "source": self.host_mount,
            "options": ["rbind", "ro", "nosuid", "nodev", "noexec"],
        }


def read_int(path: str) -> int:
    with open(path, encoding="ascii") as f:
        return int(f.read().strip())


def vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0  # a kernel thread or a zombie has no VmRSS line


# ---------------------------------------------------------------- runtimes, bundles


@dataclass(frozen=True)
class Runtime:
    name: str
    binary: str
    root: str

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--root", self.root, *args]


@dataclass
class ContainerSpec:
    """What a benchmark container runs and how it differs from `runc spec`."""

    args: list[str]
    network_namespace: bool = True
    memory_limit: Optional[int] = None
    extra_mounts: list[dict] = field(default_factory=list)


class Bundles:
    """One bundle directory per container, sharing one read-only busybox rootfs."""

    def __init__(self, template: dict, rootfs: str, directory: str, cgroup_parent: str):
        self.template = template
        self.rootfs = rootfs
        self.directory = directory
        self.cgroup_parent = cgroup_parent
        os.makedirs(directory, exist_ok=True)

    def cgroup_path(self, cid: str) -> str:
        return f"/{self.cgroup_parent}/{cid}"

    def path(self, cid: str) -> str:
        return os.path.join(self.directory, cid)

    def pid_file(self, cid: str) -> str:
        return os.path.join(self.path(cid), "init.pid")

    def stdout_file(self, cid: str) -> str:
        return os.path.join(self.path(cid), "stdout")

    def make(self, cid: str, spec: ContainerSpec) -> str:
        config = self.config_for(cid, spec)
        bundle = self.path(cid)
        os.makedirs(bundle, exist_ok=True)
        with open(os.path.join(bundle, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f)
        return bundle

    def config_for(self, cid: str, spec: ContainerSpec) -> dict:
        config = copy.deepcopy(self.template)
        config["process"]["terminal"] = False
        config["process"]["args"] = list(spec.args)
        config["root"] = {"path": self.rootfs, "readonly": True}
        linux = config.setdefault("linux", {})
        linux["cgroupsPath"] = self.cgroup_path(cid)
        if not spec.network_namespace:
            linux["namespaces"] = [ns for ns in linux.get("namespaces", []) if ns["type"] != "network"]
        if spec.memory_limit is not None:
            linux.setdefault("resources", {})["memory"] = {"limit": spec.memory_limit}
        config["mounts"] = config.get("mounts", []) + spec.extra_mounts
        return config

    def remove(self, cid: str) -> None:
        shutil.rmtree(self.path(cid), ignore_errors=True)


# ---------------------------------------------------------------- metrics


@dataclass
class Metric:
    """Samples of one measurement per runtime, or the reason a runtime has none."""

    key: str
    label: str
    unit: str  # "s" (shown as ms), "KiB", "B" (shown as MB), "count", "text"
    samples: dict[str, list] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, runtime: str, value) -> None:
        self.samples.setdefault(runtime, []).append(value)

    def fail(self, runtime: str, why: str) -> None:
        self.errors.setdefault(runtime, why)

    def value(self, runtime: str):
        """The median for numbers, the last sample for text; None without samples."""
        values = self.samples.get(runtime)
        if not values:
            return None
        if self.unit == "text":
            return values[-1]
        return statistics.median(values)

    def shown(self, runtime: str) -> str:
        if runtime in self.errors and not self.samples.get(runtime):
            return "error"
        value = self.value(runtime)
        return "—" if value is None else format_value(value, self.unit)

    def ratio(self, runtime: str, other: str) -> str:
        if self.unit in ("text", "count"):
            return ""
        mine, theirs = self.value(runtime), self.value(other)
        if mine is None or theirs is None or theirs == 0:
            return ""
        return f"{mine / theirs:.2f}x"


def format_value(value, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.2f} ms"
    if unit == "KiB":
        return f"{value:,.0f} KiB"
    if unit == "B":
        return f"{value / 1e6:.2f} MB"
    if unit == "count":
        return f"{value:g}"
    return str(value)


class Metrics:
    def __init__(self):
        self.by_key: dict[str, Metric] = {}

    def get(self, key: str, label: str, unit: str) -> Metric:
        if key not in self.by_key:
            self.by_key[key] = Metric(key, label, unit)
        return self.by_key[key]

    def __iter__(self):
        return iter(self.by_key.values())

    def lookup(self, key: str) -> Optional[Metric]:
        return self.by_key.get(key)


# ---------------------------------------------------------------- the bench


class Bench:
    def __init__(self, runtimes: list[Runtime], bundles: Bundles, plan: Plan, scratch: Scratch):
        self.runtimes = runtimes
        self.bundles = bundles
        self.plan = plan
        self.scratch = scratch
        self.layout = CgroupLayout.detect()
        self.metrics = Metrics()
        self.ids = itertools.count()
        self.live: dict[tuple[str, str], Optional[int]] = {}  # (runtime, id) -> init pid

    # -- helpers

    def new_id(self, runtime: Runtime, phase: str) -> str:
        return f"{runtime.name}-{phase}-{next(self.ids)}"

    def run_one(self, argv: list[str], keep_stdout: Optional[str] = None) -> Result:
        return run_chains([[(argv, keep_stdout)]], self.scratch, 1)[0][0]

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def interleaved(self, rounds: int, phase: Callable[[Runtime, bool], Optional[str]]) -> None:
        """Call phase(runtime, record) round after round, runtime after runtime.

        The first `warmup` rounds are not recorded. A runtime whose phase returns
        an error message is dropped from the remaining rounds.
        """
        active = list(self.runtimes)
        for round_no in range(self.plan.warmup + rounds):
            for runtime in list(active):
                why = phase(runtime, round_no >= self.plan.warmup)
                if why is not None:
                    self.log(f"{runtime.name}: {why}")
                    active.remove(runtime)
            reap_orphans()

    def created(self, runtime: Runtime, cid: str) -> Optional[int]:
        """Record a container as existing; returns its init pid from the pid file."""
        try:
            pid = read_int(self.bundles.pid_file(cid))
        except (FileNotFoundError, ValueError):
            pid = None
        self.live[(runtime.name, cid)] = pid
        return pid

    def destroy(self, runtimes: dict[str, Runtime], keys: Iterable[tuple[str, str]]) -> None:
        """Kill and reap each container's init, then `delete --force` it, like a shim."""
        keys = list(keys)
        for key in keys:
            pid = self.live.get(key)
            if pid:
                kill_and_reap(pid)
        chains = [[(runtimes[name].argv("delete", "--force", cid), None)] for name, cid in keys]
        run_chains(chains, self.scratch, self.plan.fill_concurrency)
        for key in keys:
            self.live.pop(key, None)
            self.bundles.remove(key[1])
        reap_orphans()

    def destroy_all(self) -> None:
        self.destroy({rt.name: rt for rt in self.runtimes}, list(self.live))

    def destroy_one(self, runtime: Runtime, cid: str) -> None:
        self.destroy({runtime.name: runtime}, [(runtime.name, cid)])

    # -- 1. run

    def bench_run(self) -> None:
        self.log("run /bin/true, with and without a network namespace")
        variants = [
            ("run_netns", "`run` /bin/true, `runc spec` config (with network ns)", True),
            ("run_nonetns", "`run` /bin/true, same config without network ns", False),
        ]
        def one(runtime: Runtime, record: bool) -> Optional[str]:
            for key, label, netns in variants:
                metric = self.metrics.get(key, label, "s")
                cid = self.new_id(runtime, "run")
                bundle = self.bundles.make(cid, ContainerSpec(["/bin/true"], network_namespace=netns))
                result = self.run_one(runtime.argv("run", "--bundle", bundle, cid))
                if not result.ok:
                    self.destroy_one(runtime, cid)
                    metric.fail(runtime.name, result.why())
                    return result.why()
                self.bundles.remove(cid)
                if record:
                    metric.add(runtime.name, result.seconds)
            return None

        self.interleaved(self.plan.iterations, one)

    # -- 2. create + start + delete

    def bench_lifecycle(self) -> None:
        self.log("create + start + wait + delete, as containerd does it")
        steps = {
            "create": self.metrics.get("lc_create", "`create` (runtime exits, init waits)", "s"),
            "start": self.metrics.get("lc_start", "`start`", "s"),
            "exit": self.metrics.get("lc_exit", "start returned -> init exited (reaped)", "s"),
            "delete": self.metrics.get("lc_delete", "`delete` (after exit, no --force)", "s"),
        }
        total = self.metrics.get("lc_total", "create+start+delete, wall incl. wait for exit", "s")

        def one(runtime: Runtime, record: bool) -> Optional[str]:
            cid = self.new_id(runtime, "lc")
            bundle = self.bundles.make(cid, ContainerSpec(["/bin/true"]))
            began = time.perf_counter()
            timings, why = self.lifecycle(runtime, cid, bundle)
            if why is not None:
                for metric in steps.values():
                    metric.fail(runtime.name, why)
                total.fail(runtime.name, why)
                return why
            if record:
                total.add(runtime.name, time.perf_counter() - began)
                for step, seconds in timings.items():
                    steps[step].add(runtime.name, seconds)
            return None

        self.interleaved(self.plan.iterations, one)

    def lifecycle(self, runtime: Runtime, cid: str, bundle: str) -> tuple[dict, Optional[str]]:
        """create, start, wait for the init to exit, delete; each step timed."""
        timings: dict = {}
        create = self.run_one(runtime.argv("create", "--bundle", bundle, "--pid-file", self.bundles.pid_file(cid), cid))
        pid = self.created(runtime, cid)
        if not create.ok or pid is None:
            self.destroy_one(runtime, cid)
            return timings, create.why() if not create.ok else "create wrote no pid file"
        timings["create"] = create.seconds
        start = self.run_one(runtime.argv("start", cid))
        if not start.ok:
            self.destroy_one(runtime, cid)
            return timings, start.why()
        timings["start"] = start.seconds
        began = time.perf_counter()
        if not wait_exit(pid):
            self.destroy_one(runtime, cid)
            return timings, "container init did not exit after start"
        timings["exit"] = time.perf_counter() - began
        self.live[(runtime.name, cid)] = None
        delete = self.run_one(runtime.argv("delete", cid))
        if not delete.ok:
            self.destroy_one(runtime, cid)
            return timings, delete.why()
        timings["delete"] = delete.seconds
        self.live.pop((runtime.name, cid), None)
        self.bundles.remove(cid)
        return timings, None

    # -- 3. memory charged to the container

    def bench_memory(self) -> None:
        self.log("peak RSS of the runtime, memory charged to the container cgroup")
        rss_run = self.metrics.get("rss_run", "peak RSS of `run` (runtime + reaped children)", "KiB")
        rss_create = self.metrics.get("rss_create", "peak RSS of `create` (runtime + reaped children)", "KiB")
        at_created = self.metrics.get("mem_created", "container cgroup memory while `created`", "KiB")
        at_start = self.metrics.get("mem_user", "container cgroup memory as the user process starts", "KiB")
        init_rss = self.metrics.get("init_rss", "container init RSS while `created` (VmRSS)", "KiB")
        readings_of = (rss_create, at_created, init_rss, at_start)

        def one(runtime: Runtime, record: bool) -> Optional[str]:
            peak = self.peak_rss_of_run(runtime)
            if isinstance(peak, str):
                rss_run.fail(runtime.name, peak)
                return peak
            readings = self.container_memory(runtime)
            if isinstance(readings, str):
                for metric in readings_of:
                    metric.fail(runtime.name, readings)
                return readings
            if record:
                rss_run.add(runtime.name, peak)
                for metric, value in zip(readings_of, readings):
                    metric.add(runtime.name, value)
            return None

        self.interleaved(self.plan.memory_iterations, one)

    def with_peak_rss(self, argv: list[str], keep_stdout: Optional[str] = None) -> tuple[Result, Optional[int]]:
        """Run argv under GNU time: (its result, peak RSS in KiB from wait4).

        The harness's own pages would leak into ru_maxrss of anything it forks, so a
        small separate process (GNU time) forks the runtime and reports it.
        """
        report = self.scratch.path("rss")
        result = self.run_one(["/usr/bin/time", "-o", report, "-f", "%M", *argv], keep_stdout)
        lines = read_text(report).split()
        remove_quietly(report)
        return result, (int(lines[-1]) if lines and lines[-1].isdigit() else None)

    def peak_rss_of_run(self, runtime: Runtime):
        """Peak RSS in KiB of `run` of /bin/true with the `runc spec` config, or why not."""
        cid = self.new_id(runtime, "rss")
        bundle = self.bundles.make(cid, ContainerSpec(["/bin/true"]))
        result, peak = self.with_peak_rss(runtime.argv("run", "--bundle", bundle, cid))
        self.destroy_one(runtime, cid)
        if not result.ok or peak is None:
            return result.why() if not result.ok else "GNU time reported no peak RSS"
        return peak

    def container_memory(self, runtime: Runtime):
        """Create a container whose process prints its cgroup's memory usage; start it.

        Returns (peak RSS of `create` KiB, cgroup usage while created KiB, init VmRSS
        KiB, usage seen by the user process KiB), or why not.
        """
        cid = self.new_id(runtime, "mem")
        cgroup = self.bundles.cgroup_path(cid)
        spec = ContainerSpec(
            ["/bin/cat", self.layout.guest_usage_file(cgroup)],
            extra_mounts=[self.layout.guest_mount_entry()],
        )
        bundle = self.bundles.make(cid, spec)
        stdout = self.bundles.stdout_file(cid)
        argv = runtime.argv("create", "--bundle", bundle, "--pid-file", self.bundles.pid_file(cid), cid)
        create, peak = self.with_peak_rss(argv, keep_stdout=stdout)
        pid = self.created(runtime, cid)
        try:
            if not create.ok or pid is None or peak is None:
                return create.why() if not create.ok else "create wrote no pid file, or GNU time no RSS"
            host_usage = read_int(self.layout.host_usage_file(cgroup))
            rss = vm_rss_kib(pid)
            start = self.run_one(runtime.argv("start", cid))
            if not start.ok:
                return start.why()
            if not wait_exit(pid):
                return "container init did not exit after start"
            printed = read_text(stdout).strip()
            if not printed.isdigit():
                return f"the container printed {printed[:80]!r}, not its memory usage"
            return peak, host_usage / KIB, rss, int(printed) / KIB
        except OSError as err:
            return f"cannot read the container's memory usage: {err}"
        finally:
            self.destroy_one(runtime, cid)

    # -- 4. memory floor

    def bench_floor(self) -> None:
        """Binary search, per runtime in lockstep, of the smallest limit that runs `echo hi`."""
        self.log("memory floor: smallest memory.limit that still runs `echo hi`")
        metric = self.metrics.get("floor", "smallest `memory.limit` that runs `echo hi`", "KiB")
        bounds = {rt.name: [0, self.plan.floor_start] for rt in self.runtimes}
        for runtime in self.runtimes:
            ok, why = self.probe_floor(runtime, self.plan.floor_start)
            if not ok:
                metric.fail(runtime.name, f"fails even at {self.plan.floor_start // MIB} MiB: {why}")
                del bounds[runtime.name]
        by_name = {rt.name: rt for rt in self.runtimes}
        while any(hi - lo > self.plan.floor_resolution for lo, hi in bounds.values()):
            for name, (lo, hi) in bounds.items():
                if hi - lo <= self.plan.floor_resolution:
                    continue
                mid = (lo + hi) // 2 // PAGE * PAGE
                ok, _ = self.probe_floor(by_name[name], mid)
                bounds[name] = [lo, mid] if ok else [mid, hi]
            reap_orphans()
        for name, (_, hi) in bounds.items():
            metric.add(name, hi / KIB)
            self.log(f"{name}: floor {hi // KIB} KiB")

    def probe_floor(self, runtime: Runtime, limit: int) -> tuple[bool, str]:
        cid = self.new_id(runtime, "floor")
        bundle = self.bundles.make(cid, ContainerSpec(["/bin/echo", "hi"], memory_limit=limit))
        result = self.run_one(runtime.argv("run", "--bundle", bundle, cid))
        ok = result.ok and result.stdout.strip() == "hi"
        if ok:
            self.bundles.remove(cid)
        else:
            self.destroy_one(runtime, cid)
        return ok, ("" if ok else result.why())

    # -- 5. parallel create + start

    def bench_parallel(self) -> None:
        for size in self.plan.parallel_sizes:
            self.log(f"{size} containers created and started in parallel")
            wall = self.metrics.get(f"par{size}", f"{size} x (create, start) in parallel, wall", "s")
            creating = self.metrics.get(f"par{size}_create", f"{size} in parallel: until the last `create` returned", "s")
            listed = self.metrics.get(f"par{size}_listed", f"{size} in parallel: running in `list`", "count")
            for _ in range(self.plan.parallel_reps):
                for runtime in self.runtimes:
                    if runtime.name in wall.errors:
                        continue
                    why = self.parallel_once(runtime, size, wall, creating, listed)
                    if why is not None:
                        wall.fail(runtime.name, why)
                        self.log(f"{runtime.name}: {why}")

    def parallel_once(self, runtime: Runtime, size: int, wall: Metric, creating: Metric, listed: Metric) -> Optional[str]:
        ids = [self.new_id(runtime, f"par{size}") for _ in range(size)]
        chains = [
            [
                (runtime.argv("create", "--bundle", self.bundles.make(cid, ContainerSpec(LONG_SLEEP)),
                              "--pid-file", self.bundles.pid_file(cid), cid), None),
                (runtime.argv("start", cid), None),
            ]
            for cid in ids
        ]
        began = time.perf_counter()
        results = run_chains(chains, self.scratch, concurrency=size)
        elapsed = time.perf_counter() - began
        for cid in ids:
            self.created(runtime, cid)
        try:
            failures = chain_failures(results, 2)
            if failures:
                return f"{len(failures)} of {size} failed, first: {failures[0]}"
            running = self.count_running(runtime, set(ids))
            if isinstance(running, str):
                return running
            wall.add(runtime.name, elapsed)
            creating.add(runtime.name, max(steps[0].finished for steps in results) - began)
            listed.add(runtime.name, running)
            return None
        finally:
            self.destroy({runtime.name: runtime}, [(runtime.name, cid) for cid in ids])

    def count_running(self, runtime: Runtime, ids: set[str]):
        """How many of `ids` `list --format json` shows as running, or why it failed."""
        result = self.run_one(runtime.argv("list", "--format", "json"))
        if not result.ok:
            return result.why()
        try:
            entries = json.loads(result.stdout) or []
        except json.JSONDecodeError as err:
            return f"`list --format json` printed invalid JSON: {err}"
        return sum(1 for e in entries if e.get("id") in ids and e.get("status") == "running")

    # -- 6. state and list with many containers

    def bench_population(self) -> None:
        """`state` and `list` latency as the number of running containers grows."""
        population: dict[str, list[str]] = {rt.name: [] for rt in self.runtimes}
        broken: dict[str, str] = {}
        for checkpoint in self.plan.population_checkpoints:
            self.log(f"state/list with {checkpoint} containers")
            for runtime in self.runtimes:
                if runtime.name not in broken:
                    why = self.grow_population(runtime, population[runtime.name], checkpoint)
                    if why is not None:
                        broken[runtime.name] = why
            self.time_state_and_list(checkpoint, population, broken)
        by_name = {rt.name: rt for rt in self.runtimes}
        self.log("removing the containers")
        for name, ids in population.items():
            self.destroy(by_name, [(name, cid) for cid in ids])

    def grow_population(self, runtime: Runtime, ids: list[str], target: int) -> Optional[str]:
        new = [self.new_id(runtime, "pop") for _ in range(target - len(ids))]
        chains = [
            [
                (runtime.argv("create", "--bundle", self.bundles.make(cid, ContainerSpec(LONG_SLEEP)),
                              "--pid-file", self.bundles.pid_file(cid), cid), None),
                (runtime.argv("start", cid), None),
            ]
            for cid in new
        ]
        results = run_chains(chains, self.scratch, self.plan.fill_concurrency)
        for cid in new:
            self.created(runtime, cid)
        ids.extend(new)
        failed = chain_failures(results, 2)
        return f"could not start {target} containers: {failed[0]}" if failed else None

    def time_state_and_list(self, checkpoint: int, population: dict[str, list[str]], broken: dict[str, str]) -> None:
        state = self.metrics.get(f"state{checkpoint}", f"`state` with {checkpoint} containers", "s")
        listing = self.metrics.get(f"list{checkpoint}", f"`list` with {checkpoint} containers", "s")
        for name, why in broken.items():
            state.fail(name, why)
            listing.fail(name, why)
        active = [rt for rt in self.runtimes if rt.name not in broken]
        for round_no in range(self.plan.warmup + self.plan.latency_iterations):
            for runtime in active:
                first = population[runtime.name][0]
                for metric, argv in ((state, runtime.argv("state", first)),
                                     (listing, runtime.argv("list", "--format", "json"))):
                    result = self.run_one(argv)
                    why = result.why() if not result.ok else self.check_listing(metric, result, checkpoint)
                    if why is not None:
                        metric.fail(runtime.name, why)
                    elif round_no >= self.plan.warmup:
                        metric.add(runtime.name, result.seconds)

    @staticmethod
    def check_listing(metric: Metric, result: Result, expected: int) -> Optional[str]:
        try:
            parsed = json.loads(result.stdout) or []
        except json.JSONDecodeError as err:
            return f"invalid JSON: {err}"
        if metric.key.startswith("list") and len(parsed) != expected:
            return f"`list` showed {len(parsed)} containers, expected {expected}"
        if metric.key.startswith("state") and parsed.get("status") != "running":
            return f"`state` says {parsed.get('status')!r}, expected 'running'"
        return None

    # -- 7. binary size

    def bench_binary_size(self) -> None:
        self.log("binary sizes")
        stripped = self.metrics.get("size_stripped", "binary size, stripped", "B")
        unstripped = self.metrics.get("size_file", "binary size as installed/built", "B")
        linkage = self.metrics.get("linkage", "linkage (shared libraries besides libc)", "text")
        for runtime in self.runtimes:
            copy_path = self.scratch.path("bin")
            shutil.copyfile(runtime.binary, copy_path)
            subprocess.run(["strip", "--strip-all", copy_path], check=True)
            stripped.add(runtime.name, os.path.getsize(copy_path))
            unstripped.add(runtime.name, os.path.getsize(runtime.binary))
            linkage.add(runtime.name, describe_linkage(runtime.binary))
            os.unlink(copy_path)


def describe_linkage(binary: str) -> str:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    if "not a dynamic executable" in out or "statically linked" in out or not out.strip():
        return "static"
    libs = [line.split()[0] for line in out.splitlines() if "=>" in line]
    extra = [lib for lib in libs if not lib.startswith(("libc.so", "libm.so", "libpthread", "libdl", "librt", "libgcc_s"))]
    return f"dynamic: {', '.join(extra)}" if extra else "dynamic (libc only)"


# ---------------------------------------------------------------- the report


@dataclass
class Machine:
    facts: list[tuple[str, str]]

    @staticmethod
    def describe(runtimes: list[Runtime], notes: list[str]) -> "Machine":
        facts = [
            ("date (UTC)", time.strftime("%Y-%m-%d %H:%M", time.gmtime())),
            ("CPU", f"{cpu_model()}, {os.cpu_count()} cores online"),
            ("memory", f"{mem_total_mib():,} MiB"),
            ("kernel", f"{platform.release()} ({platform.machine()})"),
            ("cgroups", cgroup_layout()),
        ]
        facts += [(f"{rt.name} version", version_of(rt)) for rt in runtimes]
        facts += [("busybox", busybox_version())]
        facts += [("note", n) for n in notes]
        return Machine(facts)


def cpu_model() -> str:
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mem_total_mib() -> int:
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def cgroup_layout() -> str:
    v1, v2 = [], []
    with open("/proc/self/mounts", encoding="ascii") as f:
        for line in f:
            _, mountpoint, fstype, options, *_ = line.split()
            if fstype == "cgroup":
                v1.append(os.path.basename(mountpoint))
            elif fstype == "cgroup2":
                controllers = read_text(os.path.join(mountpoint, "cgroup.controllers")).split()
                v2.append(f"{mountpoint} (controllers: {' '.join(controllers) or 'none'})")
    if not v1:
        return "pure cgroup v2: " + "; ".join(v2)
    return f"hybrid: v1 hierarchies {', '.join(sorted(v1))}; cgroup2 at {'; '.join(v2) or 'none'}"


def version_of(runtime: Runtime) -> str:
    out = subprocess.run([runtime.binary, "--version"], capture_output=True, text=True)
    lines = [ln.strip() for ln in (out.stdout or out.stderr).splitlines() if ln.strip()]
    return "; ".join(lines[:3]) or f"`--version` exited {out.returncode}"


def busybox_version() -> str:
    out = subprocess.run(["/bin/busybox"], capture_output=True, text=True)
    return (out.stdout.splitlines() or ["unknown"])[0]


def load_average() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


MAIN_ROWS = [
    "run_netns", "run_nonetns", "lc_total", "lc_create", "lc_start", "lc_exit", "lc_delete",
    "rss_run", "rss_create", "init_rss", "mem_created", "mem_user", "floor",
]


def ordered_keys(metrics: Metrics) -> list[str]:
    """The main rows first, then parallel, population and size rows as measured."""
    keys = [k for k in MAIN_ROWS if metrics.lookup(k)]
    return keys + [m.key for m in metrics if m.key not in keys]


def results_table(metrics: Metrics, runtimes: list[Runtime]) -> list[str]:
    names = [rt.name for rt in runtimes]
    ratio_pairs = [("berth", other) for other in ("crun", "runc") if "berth" in names and other in names]
    header = ["Measurement (median)"] + names + [f"{a}/{b}" for a, b in ratio_pairs]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in ordered_keys(metrics):
        metric = metrics.lookup(key)
        cells = [metric.label] + [metric.shown(n) for n in names] + [metric.ratio(a, b) for a, b in ratio_pairs]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def samples_table(metrics: Metrics, runtimes: list[Runtime]) -> list[str]:
    lines = ["| Measurement | runtime | n | min | median | max |", "|---|---|---|---|---|---|"]
    for key in ordered_keys(metrics):
        metric = metrics.lookup(key)
        if metric.unit == "text":
            continue
        for rt in runtimes:
            values = metric.samples.get(rt.name)
            if values:
                cells = [metric.label, rt.name, str(len(values))] + [
                    format_value(v, metric.unit) for v in (min(values), statistics.median(values), max(values))
                ]
                lines.append("| " + " | ".join(cells) + " |")
    return lines


def errors_list(metrics: Metrics) -> list[str]:
    lines = []
    for metric in metrics:
        for name, why in metric.errors.items():
            lines.append(f"- {name}, {metric.label}: {why}")
    return lines


@dataclass
class Target:
    label: str
    check: Callable[[Metrics], Optional[tuple[str, bool]]]  # (shown value, met) or None


def ratio_target(key: str, limit: float) -> Callable[[Metrics], Optional[tuple[str, bool]]]:
    def check(metrics: Metrics):
        metric = metrics.lookup(key)
        if not metric or metric.value("berth") is None or metric.value("crun") is None:
            return None
        ratio = metric.value("berth") / metric.value("crun")
        return f"{ratio:.2f}x crun", ratio <= limit
    return check


def absolute_target(key: str, limit: float, unit: str) -> Callable[[Metrics], Optional[tuple[str, bool]]]:
    def check(metrics: Metrics):
        metric = metrics.lookup(key)
        if not metric or metric.value("berth") is None:
            return None
        value = metric.value("berth")
        return format_value(value, unit), value <= limit
    return check


def list_linearity(metrics: Metrics) -> Optional[tuple[str, bool]]:
    """Linear: the cost per added container does not grow with the population."""
    points = sorted(
        (int(m.key[4:]), m.value("berth")) for m in metrics if m.key.startswith("list") and m.value("berth") is not None
    )
    if len(points) < 3:
        return None
    (n0, t0), (n1, t1), (n2, t2) = points[0], points[-2], points[-1]
    early, late = (t1 - t0) / (n1 - n0), (t2 - t1) / (n2 - n1)
    shown = f"{early * 1e6:.0f} µs/container up to {n1}, {late * 1e6:.0f} µs/container up to {n2}"
    return shown, late <= max(1.5 * early, 20e-6)


def targets(metrics: Metrics) -> list[Target]:
    found = [
        Target("`run` (with network ns) <= 0.8x crun", ratio_target("run_netns", 0.8)),
        Target("`run` (no network ns) <= 0.8x crun", ratio_target("run_nonetns", 0.8)),
        Target("create+start+delete <= 0.8x crun", ratio_target("lc_total", 0.8)),
        Target("peak RSS of `run` <= crun's", ratio_target("rss_run", 1.0)),
        Target("peak RSS of `create` <= crun's", ratio_target("rss_create", 1.0)),
        Target("stripped release binary <= 3 MB", absolute_target("size_stripped", 3e6, "B")),
        Target("memory floor <= crun's", ratio_target("floor", 1.0)),
    ]
    found += [
        Target(f"{m.label}: not worse than crun", ratio_target(m.key, 1.0))
        for m in metrics if m.key.startswith("par") and m.key[3:].isdigit()
    ]
    found += [
        Target(f"{m.label} < 2 ms", absolute_target(m.key, 0.002, "s"))
        for m in metrics if m.key.startswith("state")
    ]
    found.append(Target("`list` linear in the number of containers", list_linearity))
    return found


def targets_table(metrics: Metrics) -> list[str]:
    lines = ["| Target | berth | Met? |", "|---|---|---|"]
    for target in targets(metrics):
        outcome = target.check(metrics)
        shown, met = outcome if outcome else ("not measured", None)
        lines.append(f"| {target.label} | {shown} | {'n/a' if met is None else ('yes' if met else 'no')} |")
    return lines


METHOD = """\
- One run of `integration_tests/bench/run.sh` measures every runtime; samples are
  interleaved (berth, crun, runc, berth, crun, runc, ...) so that load from other
  work on the machine falls on all of them alike. Each phase starts with warm-up
  rounds that are not recorded. Tables show medians.
- Every runtime gets its own `--root` in a temporary directory and every container a
  unique id, its own bundle directory (a `config.json` made from `runc spec`, with
  `terminal: false`) and the cgroup `/<bench-parent>/<id>`; all bundles share one
  read-only busybox rootfs.
- Times are wall-clock times of the runtime process, from `posix_spawn` until reaped,
  taken by a Python harness (stdin `/dev/null`, stdout and stderr to files).
- `run`: `/bin/true` with the `runc spec` namespaces (pid, network, ipc, uts, mount),
  and the same config without the network namespace.
- create+start+delete: three processes, as containerd's shim calls them. `start`
  returns at once; the harness is a child subreaper (like the shim), waits for the
  container's init to exit through a pidfd, reaps it, then calls `delete` without
  `--force`. The total is the wall time from `create` to `delete` returning,
  including that wait; each step is also shown on its own.
- Peak RSS: GNU time's `%M` (`ru_maxrss` from `wait4`) in separate, untimed
  invocations; it covers the runtime and the children it reaped (for `run`, the
  container process before and after exec). GNU time rather than the harness
  forks the runtime because a forked child's `ru_maxrss` starts at its parent's
  RSS; GNU time's own share (about 1.3 MiB, its figure for `busybox true`) is in
  every runtime's number alike. Container init RSS: `VmRSS` of the init while the
  container is `created`.
- Memory charged to the container: the host reads the container cgroup's
  `memory.usage_in_bytes` (v1) or `memory.current` (v2) while it is `created`; the
  user process itself (`cat` of that file through a read-only bind mount of the
  host's `/sys/fs/cgroup`) reports it as the first thing it does after exec.
  cgroup v1 charges in per-CPU batches, so expect steps of up to 256 KiB.
- Memory floor: binary search on `linux.resources.memory.limit` (page granularity
  in full mode) for the smallest limit at which `run` of `echo hi` exits 0 and
  prints `hi`.
- Parallel: N chains of `create` then `start` (container process `sleep`) all
  launched at once; the wall time is until the last `start` returns. Then
  `list --format json` must show all N as running. Containers are then killed
  and deleted (not timed).
- `state`/`list`: containers running `sleep` are added (a few at a time) up to each
  population size; then `state <first id>` and `list --format json` are timed.
- Binary size: the binary as installed (crun, runc from Debian) or built
  (`cargo build --release -p berth`), copied and `strip --strip-all`ed.
"""


def write_report(path: str, bench: Bench, machine: Machine, plan: Plan, loads: tuple[str, str]) -> str:
    runtimes = bench.runtimes
    measured = ", ".join(rt.name for rt in runtimes)
    lines = [
        "# Benchmarks: berth, crun and runc side by side",
        "",
        f"Generated by `integration_tests/bench/run.sh` ({plan.name} mode) for: {measured}.",
        "Re-run it as root: `integration_tests/bench/run.sh [--quick] [--runtimes berth,crun,runc] [--out FILE]`.",
        "",
        "## Results",
        "",
        *results_table(bench.metrics, runtimes),
        "",
    ]
    if "berth" in [rt.name for rt in runtimes] and "crun" in [rt.name for rt in runtimes]:
        lines += ["## Targets", "", *targets_table(bench.metrics), ""]
    lines += ["## Machine", ""]
    lines += [f"- {name}: {value}" for name, value in machine.facts]
    lines += [f"- load average (1, 5, 15 min) at start: {loads[0]}; at end: {loads[1]}", ""]
    lines += ["## Method", "", METHOD]
    lines += [
        f"Parameters ({plan.name}): {plan.warmup} warm-up rounds; {plan.iterations} samples for `run` and "
        f"create+start+delete; {plan.memory_iterations} for memory; parallel N = "
        f"{', '.join(map(str, plan.parallel_sizes))} repeated {plan.parallel_reps}x; `state`/`list` at "
        f"{', '.join(map(str, plan.population_checkpoints))} containers, {plan.latency_iterations} samples each; "
        f"floor resolution {plan.floor_resolution // KIB} KiB.",
        "",
    ]
    errors = errors_list(bench.metrics)
    if errors:
        lines += ["## Failures", "", *errors, ""]
    lines += ["## All samples", "", *samples_table(bench.metrics, runtimes), ""]
    text = "\n".join(lines)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text


# ---------------------------------------------------------------- main


PHASES = ["run", "lifecycle", "memory", "floor", "parallel", "population", "size"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", action="append", required=True, metavar="NAME=BINARY")
    parser.add_argument("--work", required=True, help="scratch directory (roots, bundles, output)")
    parser.add_argument("--rootfs", required=True)
    parser.add_argument("--template", required=True, help="config.json from `runc spec`")
    parser.add_argument("--cgroup-parent", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--note", action="append", default=[])
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {PHASES}")
    return parser.parse_args(argv)


def make_runtimes(specs: list[str], work: str) -> list[Runtime]:
    runtimes = []
    for spec in specs:
        name, _, binary = spec.partition("=")
        runtimes.append(Runtime(name, os.path.abspath(binary), os.path.join(work, "roots", name)))
    return runtimes


def run_phases(bench: Bench, phases: list[str]) -> None:
    table = {
        "run": bench.bench_run,
        "lifecycle": bench.bench_lifecycle,
        "memory": bench.bench_memory,
        "floor": bench.bench_floor,
        "parallel": bench.bench_parallel,
        "population": bench.bench_population,
        "size": bench.bench_binary_size,
    }
    unknown = [p for p in phases if p not in table]
    if unknown:
        raise SystemExit(f"unknown phase(s): {', '.join(unknown)}")
    for phase in phases:
        table[phase]()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    stop_on_signals()
    become_subreaper()
    runtimes = make_runtimes(args.runtime, args.work)
    with open(args.template, encoding="utf-8") as f:
        template = json.load(f)
    bundles = Bundles(template, os.path.abspath(args.rootfs), os.path.join(args.work, "bundles"), args.cgroup_parent)
    plan = QUICK if args.quick else FULL
    bench = Bench(runtimes, bundles, plan, Scratch(os.path.join(args.work, "io")))
    machine = Machine.describe(runtimes, args.note)
    load_at_start = load_average()
    try:
        run_phases(bench, [p for p in args.phases.split(",") if p])
    except Interrupted as signal_name:
        bench.log(f"{signal_name}: removing containers, no report written")
        return 130
    finally:
        bench.destroy_all()
        reap_orphans()
    text = write_report(args.out, bench, machine, plan, (load_at_start, load_average()))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
