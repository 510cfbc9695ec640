"""Metrics collected by the benchmark and the Markdown report made of them."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from bundle import Runtime
from spawn import read_text

KIB = 1024


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
        return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.2f} ms"
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
    "cold_total", "cold_create", "cold_start", "cold_exit", "cold_delete",
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


def spread(values: list) -> tuple:
    """min, first quartile, median, third quartile, max."""
    if len(values) < 2:
        return (values[0],) * 5
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return min(values), q1, q2, q3, max(values)


def samples_table(metrics: Metrics, runtimes: list[Runtime]) -> list[str]:
    lines = ["| Measurement | runtime | n | min | p25 | median | p75 | max |", "|---|---|---|---|---|---|---|---|"]
    for key in ordered_keys(metrics):
        metric = metrics.lookup(key)
        if metric.unit == "text":
            continue
        for rt in runtimes:
            values = metric.samples.get(rt.name)
            if values:
                cells = [metric.label, rt.name, str(len(values))] + [format_value(v, metric.unit) for v in spread(values)]
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


def net_target(key: str, limit: float, baseline: Optional[float]) -> Callable[[Metrics], Optional[tuple[str, bool]]]:
    """A time limit for the runtime alone: the median minus the harness's own
    spawn-and-reap baseline measured in the same run."""
    def check(metrics: Metrics):
        metric = metrics.lookup(key)
        if not metric or metric.value("berth") is None or baseline is None:
            return None
        total = metric.value("berth")
        net = total - baseline
        shown = f"{format_value(net, 's')} ({format_value(total, 's')} measured - {format_value(baseline, 's')} harness baseline)"
        return shown, net <= limit
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


def targets(metrics: Metrics, baseline: Optional[float]) -> list[Target]:
    found = [
        Target("`run` (with network ns) <= 0.8x crun", ratio_target("run_netns", 0.8)),
        Target("`run` (no network ns) <= 0.8x crun", ratio_target("run_nonetns", 0.8)),
        Target("create+start+delete <= 0.8x crun", ratio_target("lc_total", 0.8)),
        Target("create+start+delete after idling <= 0.8x crun", ratio_target("cold_total", 0.8)),
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
        Target(f"{m.label} < 2 ms (net of the harness)", net_target(m.key, 0.002, baseline))
        for m in metrics if m.key.startswith("state")
    ]
    found.append(Target("`list` linear in the number of containers", list_linearity))
    return found


def targets_table(metrics: Metrics, baseline: Optional[float]) -> list[str]:
    lines = ["| Target | berth | Met? |", "|---|---|---|"]
    for target in targets(metrics, baseline):
        outcome = target.check(metrics)
        shown, met = outcome if outcome else ("not measured", None)
        lines.append(f"| {target.label} | {shown} | {'n/a' if met is None else ('yes' if met else 'no')} |")
    return lines


METHOD = """\
- One run of `integration_tests/bench/run.sh` measures every runtime; samples are
  interleaved (berth, crun, runc, crun, runc, berth, runc, berth, crun, ...) so
  that load from other work on the machine falls on all of them alike. The order
  rotates because one runtime's call can speed up the next one's: a cgroup
  migration shortly after another skips most of an RCU grace period (measured:
  crun's `create` takes 9.7 ms right after berth's `delete`, 28 ms after 0.3 s
  idle). Each phase starts with warm-up rounds that are not recorded. Tables
  show medians.
- Every runtime gets its own `--root` on a private tmpfs (as `/run` is on a usual
  host; the harness mounts it and removes it at the end) and every container a
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
  including that wait; each step is also shown on its own. The same sequence
  is then measured with 0.5 s of idling before each sample ("after 0.5 s
  idle"), as for a container started on a quiet host.
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
  prints `hi`; the limit found must then pass 3 more runs in a row, else it is
  raised in steps of about 3% until it does.
- Parallel: N chains of `create` then `start` (container process `sleep`) all
  launched at once; the wall time is until the last `start` returns. Then
  `list --format json` must show all N as running. Containers are then killed
  and deleted (not timed).
- `state`/`list`: containers running `sleep` are added (a few at a time) up to each
  population size; then `state <first id>` and `list --format json` are timed.
- Under strace (`strace -f --seccomp-bpf -ttt`, tracing only pivot_root, execve
  and exit_group, so the overhead stays small but not nil): `run` split at the
  container's `pivot_root` and at the exec of `/bin/true`; and one `strace -f -c`
  per runtime for the syscall counts.
- Binary size: the binary as installed (crun, runc from Debian) or built
  (`cargo build --release -p berth`), copied and `strip --strip-all`ed.
"""


@dataclass
class Run:
    """What one benchmark run measured, and how."""

    metrics: Metrics
    runtimes: list[Runtime]
    machine: Machine
    mode: str  # "full" or "quick"
    parameters: str  # one sentence: iterations, sizes, resolution
    loads: tuple[str, str]  # load average at start and at end
    baseline: Optional[float] = None  # seconds the harness takes to spawn and reap `busybox true`


def render(run: Run) -> str:
    names = [rt.name for rt in run.runtimes]
    lines = [
        "# Benchmarks: berth, crun and runc side by side",
        "",
        f"Generated by `integration_tests/bench/run.sh` ({run.mode} mode) for: {', '.join(names)}.",
        "Re-run it as root: `integration_tests/bench/run.sh [--quick] [--runtimes berth,crun,runc] [--out FILE]`.",
        "",
        "## Results",
        "",
        *results_table(run.metrics, run.runtimes),
        "",
    ]
    if "berth" in names and "crun" in names:
        lines += ["## Targets", "", *targets_table(run.metrics, run.baseline), ""]
    lines += ["## Machine", ""]
    lines += [f"- {name}: {value}" for name, value in run.machine.facts]
    lines += [f"- load average (1, 5, 15 min) at start: {run.loads[0]}; at end: {run.loads[1]}", ""]
    lines += ["## Method", "", METHOD, f"Parameters ({run.mode}): {run.parameters}", ""]
    errors = errors_list(run.metrics)
    if errors:
        lines += ["## Failures", "", *errors, ""]
    lines += ["## All samples", "", *samples_table(run.metrics, run.runtimes), ""]
    return "\n".join(lines)
