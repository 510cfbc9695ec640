"""Bundles and cgroup paths of benchmark containers, and the runtimes that run them."""

from __future__ import annotations

import copy
import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Optional


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
