#!/usr/bin/env python3
"""Side-by-side benchmark of runc-compatible runtimes: berth, crun, runc.

Driven by run.sh, which prepares the machine (packages, release build, rootfs,
hugetlb hierarchy) and cleans it up. This script only measures, interleaving the
runtimes sample by sample, and writes the Markdown report. Stdlib only; the
helpers live next to it (spawn.py, bundle.py, report.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from bundle import Bundles, CgroupLayout, ContainerSpec, Runtime, read_int, vm_rss_kib
from report import Machine, Metric, Metrics, Run, load_average, render
from spawn import (
    Interrupted,
    Result,
    Scratch,
    become_subreaper,
    chain_failures,
    kill_and_reap,
    read_text,
    reap_orphans,
    remove_quietly,
    STEP_TIMEOUT_S,
    run_chains,
    stop_on_signals,
    wait_exit,
)

PAGE = 4096
KIB = 1024
MIB = 1024 * 1024
LONG_SLEEP = ["/bin/sleep", "100000"]
FLOOR_PROBE_TIMEOUT_S = 15.0  # a runtime stuck under a tiny memory limit counts as failing
FLOOR_CONFIRMATIONS = 3
COLD_IDLE_S = 0.5  # long enough for the kernel's cgroup migration lock to cool down


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
    trace_iterations: int
    cold_iterations: int

    def describe(self) -> str:
        return (
            f"{self.warmup} warm-up rounds; {self.iterations} samples for `run` and create+start+delete; "
            f"{self.memory_iterations} for memory; parallel N = {', '.join(map(str, self.parallel_sizes))}, "
            f"{self.parallel_reps} time(s) each; `state`/`list` at "
            f"{', '.join(map(str, self.population_checkpoints))} containers, {self.latency_iterations} "
            f"samples each; floor resolution {self.floor_resolution // KIB} KiB; {self.cold_iterations} "
            f"create+start+delete samples after {COLD_IDLE_S} s idle; {self.trace_iterations} under strace."
        )


FULL = Plan(
    name="full",
    warmup=3,
    iterations=50,
    memory_iterations=15,
    parallel_sizes=(50, 200),
    parallel_reps=3,
    population_checkpoints=(1, 100, 500),
    latency_iterations=20,
    floor_start=64 * MIB,
    floor_resolution=PAGE,
    fill_concurrency=4,
    trace_iterations=15,
    cold_iterations=15,
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
    trace_iterations=2,
    cold_iterations=2,
)


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

    def run_one(self, argv: list[str], keep_stdout: Optional[str] = None, timeout: float = STEP_TIMEOUT_S) -> Result:
        return run_chains([[(argv, keep_stdout)]], self.scratch, 1, timeout)[0][0]

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def interleaved(
        self, rounds: int, phase: Callable[[Runtime, bool], Optional[str]], idle_before: float = 0.0
    ) -> None:
        """Call phase(runtime, record) round after round, runtime after runtime.

        The order rotates every round (berth, crun, runc; crun, runc, berth; ...):
        a runtime's call can leave the kernel in a state that speeds up the next
        one (a recent cgroup migration spares the next one an RCU grace period),
        so no runtime may always follow the same other. With `idle_before`, each
        call is preceded by that many seconds of idling instead.
        The first `warmup` rounds are not recorded. A runtime whose phase returns
        an error message is dropped from the remaining rounds.
        """
        active = list(self.runtimes)
        for round_no in range(self.plan.warmup + rounds):
            for runtime in rotated(active, round_no):
                time.sleep(idle_before)
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

    # -- 0. the harness's own cost

    def spawn_baseline(self) -> tuple[float, str]:
        """How long spawning and reaping a trivial static program takes here:
        the seconds, and a sentence for the report."""
        samples = [self.run_one(["/bin/busybox", "true"]).seconds for _ in range(self.plan.iterations)]
        median = statistics.median(samples)
        return median, (
            f"spawning and reaping static `busybox true` takes {median * 1000:.2f} ms "
            f"(median of {len(samples)}); every time below includes that cost"
        )

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
        self.log("create + start + wait + delete, as containerd does it, back to back")
        self.lifecycle_variant("lc", "", self.plan.iterations, idle_before=0.0)
        self.log(f"the same, each after {COLD_IDLE_S} s of idling")
        self.lifecycle_variant("cold", f", after {COLD_IDLE_S} s idle", self.plan.cold_iterations, COLD_IDLE_S)

    def lifecycle_variant(self, prefix: str, suffix: str, rounds: int, idle_before: float) -> None:
        steps = {
            "create": self.metrics.get(f"{prefix}_create", f"`create` (runtime exits, init waits){suffix}", "s"),
            "start": self.metrics.get(f"{prefix}_start", f"`start`{suffix}", "s"),
            "exit": self.metrics.get(f"{prefix}_exit", f"start returned -> init exited (reaped){suffix}", "s"),
            "delete": self.metrics.get(f"{prefix}_delete", f"`delete` (after exit, no --force){suffix}", "s"),
        }
        total = self.metrics.get(f"{prefix}_total", f"create+start+delete, wall incl. wait for exit{suffix}", "s")

        def one(runtime: Runtime, record: bool) -> Optional[str]:
            cid = self.new_id(runtime, prefix)
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

        self.interleaved(rounds, one, idle_before)

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
        peak = int(lines[-1]) if lines and lines[-1].isdigit() else None
        return dataclasses.replace(result, argv=argv), peak

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
            floor = self.confirmed_floor(by_name[name], hi)
            if floor is None:
                metric.fail(name, f"no limit from {hi // KIB} KiB up runs `echo hi` {FLOOR_CONFIRMATIONS} times in a row")
                continue
            metric.add(name, floor / KIB)
            self.log(f"{name}: floor {floor // KIB} KiB")

    def confirmed_floor(self, runtime: Runtime, limit: int) -> Optional[int]:
        """The first limit from `limit` up (in steps of about 3%) that passes every confirmation.

        The search assumes that success is monotonic in the limit; near the floor it
        is not quite (charges land in per-CPU batches), so the result is re-checked.
        """
        for _ in range(16):
            if all(self.probe_floor(runtime, limit)[0] for _ in range(FLOOR_CONFIRMATIONS)):
                return limit
            limit += max(PAGE, self.plan.floor_resolution, limit // 32 // PAGE * PAGE)
        return None

    def probe_floor(self, runtime: Runtime, limit: int) -> tuple[bool, str]:
        cid = self.new_id(runtime, "floor")
        bundle = self.bundles.make(cid, ContainerSpec(["/bin/echo", "hi"], memory_limit=limit))
        result = self.run_one(runtime.argv("run", "--bundle", bundle, cid), timeout=FLOOR_PROBE_TIMEOUT_S)
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
            for rep in range(self.plan.parallel_reps):
                for runtime in rotated(self.runtimes, rep):
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
            for runtime in rotated(active, round_no):
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

    # -- 8. where the time of `run` goes, under strace

    def bench_trace(self) -> None:
        """Split `run` into phases, and count its syscalls, with strace (times inflated by it)."""
        self.log("`run` under strace: phases and syscall counts")
        labels = {
            "trace_setup": "under strace: `run` start -> pivot_root (cgroups, namespaces, mounts)",
            "trace_exec": "under strace: pivot_root -> exec of the user process",
            "trace_exit": "under strace: exec -> runtime exits (reap, cleanup)",
        }
        metrics = {key: self.metrics.get(key, label, "s") for key, label in labels.items()}

        def one(runtime: Runtime, record: bool) -> Optional[str]:
            phases = self.traced_run_phases(runtime)
            if isinstance(phases, str):
                for metric in metrics.values():
                    metric.fail(runtime.name, phases)
                return phases
            if record:
                for metric, seconds in zip(metrics.values(), phases):
                    metric.add(runtime.name, seconds)
            return None

        self.interleaved(self.plan.trace_iterations, one)
        counts = self.metrics.get("syscalls", "syscalls made by `run` (strace -f -c): total; most frequent", "text")
        for runtime in self.runtimes:
            summary, why = self.syscall_summary(runtime)
            if why is None:
                counts.add(runtime.name, summary)
            else:
                counts.fail(runtime.name, why)

    def traced(self, runtime: Runtime, strace_args: list[str]) -> tuple[Result, str]:
        """`run` /bin/true under strace -f with these options: (result, strace's output)."""
        cid = self.new_id(runtime, "trace")
        bundle = self.bundles.make(cid, ContainerSpec(["/bin/true"]))
        log = self.scratch.path("strace")
        argv = ["/usr/bin/strace", "-f", "-qq", "-o", log, *strace_args, *runtime.argv("run", "--bundle", bundle, cid)]
        result = self.run_one(argv)
        self.destroy_one(runtime, cid)
        text = read_text(log)
        remove_quietly(log)
        return dataclasses.replace(result, argv=argv[argv.index(runtime.binary):]), text

    def traced_run_phases(self, runtime: Runtime):
        """(start -> pivot_root, pivot_root -> exec, exec -> exit) in seconds, or why not."""
        events = "trace=pivot_root,execve,exit_group"
        result, text = self.traced(runtime, ["--seccomp-bpf", "-ttt", "-e", events])
        if not result.ok:
            return result.why()
        return run_phases_from_strace(text) or "strace showed no pivot_root and exec of /bin/true"

    def syscall_summary(self, runtime: Runtime) -> tuple[str, Optional[str]]:
        """(summary of `strace -c`, None), or ("", why not)."""
        result, text = self.traced(runtime, ["-c"])
        if not result.ok:
            return "", result.why()
        return summarize_syscall_counts(text), None

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


def rotated(items: list, by: int) -> list:
    """items turned left by `by` places (modulo their number)."""
    if not items:
        return []
    shift = by % len(items)
    return items[shift:] + items[:shift]


def run_phases_from_strace(text: str) -> Optional[tuple[float, float, float]]:
    """Phases of a `strace -f -ttt` log of `run`: start -> pivot_root -> exec of /bin/true -> exit.

    The log's first line is the runtime's own execve; the last exit_group is the
    runtime leaving (the container's exit comes before; a Go runtime may leave
    from any of its threads).
    """
    events = []
    for line in text.splitlines():
        words = line.split(None, 2)
        if len(words) == 3 and words[1].replace(".", "", 1).isdigit():
            events.append((int(words[0]), float(words[1]), words[2]))
    if not events:
        return None
    started = events[0][1]
    pivot = next((t for _, t, call in events if call.startswith("pivot_root(")), None)
    exec_ = next((t for _, t, call in events if call.startswith('execve("/bin/true"')), None)
    ended = next((t for _, t, call in reversed(events) if call.startswith("exit_group(")), None)
    if None in (pivot, exec_, ended):
        return None
    return pivot - started, exec_ - pivot, ended - exec_


def summarize_syscall_counts(text: str, top: int = 8) -> str:
    """'N calls; most frequent: a x, b y, ...' from a `strace -c` table."""
    counts, total = [], None
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 5 and words[3].isdigit():
            if words[-1] == "total":
                total = int(words[3])
            else:
                counts.append((int(words[3]), words[-1]))
    counts.sort(reverse=True)
    listed = ", ".join(f"{name} {n}" for n, name in counts[:top])
    return f"{total} calls; {listed}"


def describe_linkage(binary: str) -> str:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    if "not a dynamic executable" in out or "statically linked" in out or not out.strip():
        return "static"
    libs = [line.split()[0] for line in out.splitlines() if "=>" in line]
    extra = [lib for lib in libs if not lib.startswith(("libc.so", "libm.so", "libpthread", "libdl", "librt", "libgcc_s"))]
    return f"dynamic: {', '.join(extra)}" if extra else "dynamic (libc only)"


# ---------------------------------------------------------------- main


PHASES = ["run", "lifecycle", "memory", "floor", "parallel", "population", "size", "trace"]


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
        "trace": bench.bench_trace,
    }
    unknown = [p for p in phases if p not in table]
    if unknown:
        raise SystemExit(f"unknown phase(s): {', '.join(unknown)}")
    for phase in phases:
        table[phase]()


KEEP_MARKER = "<!-- Everything below this line is written by hand and kept when run.sh rewrites this file. -->"


def kept_notes(path: str) -> str:
    """The hand-written tail of an existing report (from KEEP_MARKER on), or the bare marker."""
    existing = read_text(path)
    at = existing.find(KEEP_MARKER)
    return "\n" + (existing[at:] if at >= 0 else KEEP_MARKER + "\n")


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
    baseline, baseline_text = bench.spawn_baseline()
    machine.facts.append(("harness baseline", baseline_text))
    try:
        run_phases(bench, [p for p in args.phases.split(",") if p])
    except Interrupted as signal_name:
        bench.log(f"{signal_name}: removing containers, no report written")
        return 130
    finally:
        bench.destroy_all()
        reap_orphans()
    loads = (load_at_start, load_average())
    run = Run(bench.metrics, runtimes, machine, plan.name, plan.describe(), loads, baseline)
    text = render(run) + kept_notes(args.out)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
