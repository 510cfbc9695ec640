"""Unit tests of the benchmark harness's own logic (no runtime, no root needed).

Run: python3 -B -m unittest discover -s integration_tests/bench
"""

from __future__ import annotations

import os
import tempfile
import unittest

from bench import KEEP_MARKER, kept_notes, rotated, run_phases_from_strace, summarize_syscall_counts
from bundle import Bundles, CgroupLayout, ContainerSpec, Runtime
from report import Metric, Metrics, format_value, list_linearity, spread, targets_table
from spawn import Scratch, chain_failures, run_chains, short_command

TEMPLATE = {
    "process": {"terminal": True, "args": ["sh"]},
    "root": {"path": "rootfs", "readonly": True},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {
        "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}],
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
    },
}


class BundlesTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.bundles = Bundles(TEMPLATE, "/abs/rootfs", self.dir.name, "bench-parent")

    def tearDown(self):
        self.dir.cleanup()

    def test_config_runs_the_given_args_without_terminal_in_its_own_cgroup(self):
        config = self.bundles.config_for("c1", ContainerSpec(["/bin/true"]))
        self.assertEqual(config["process"], {"terminal": False, "args": ["/bin/true"]})
        self.assertEqual(config["root"], {"path": "/abs/rootfs", "readonly": True})
        self.assertEqual(config["linux"]["cgroupsPath"], "/bench-parent/c1")
        self.assertIn({"type": "network"}, config["linux"]["namespaces"])

    def test_config_without_network_namespace_keeps_the_others(self):
        config = self.bundles.config_for("c1", ContainerSpec(["/bin/true"], network_namespace=False))
        self.assertEqual(config["linux"]["namespaces"], [{"type": "pid"}, {"type": "mount"}])

    def test_memory_limit_and_extra_mounts_are_added_and_template_untouched(self):
        extra = {"destination": "/x", "type": "bind", "source": "/y", "options": ["rbind"]}
        config = self.bundles.config_for("c1", ContainerSpec(["/bin/true"], memory_limit=4096, extra_mounts=[extra]))
        self.assertEqual(config["linux"]["resources"]["memory"], {"limit": 4096})
        self.assertEqual(config["linux"]["resources"]["devices"], TEMPLATE["linux"]["resources"]["devices"])
        self.assertEqual(config["mounts"][-1], extra)
        self.assertNotIn("memory", TEMPLATE["linux"]["resources"])
        self.assertEqual(len(TEMPLATE["mounts"]), 1)

    def test_make_writes_config_json_and_remove_deletes_the_bundle(self):
        path = self.bundles.make("c2", ContainerSpec(["/bin/true"]))
        self.assertTrue(os.path.isfile(os.path.join(path, "config.json")))
        self.bundles.remove("c2")
        self.assertFalse(os.path.exists(path))


class CgroupLayoutTest(unittest.TestCase):
    def test_v1_reads_memory_usage_in_bytes_under_the_memory_hierarchy(self):
        layout = CgroupLayout(unified=False)
        self.assertEqual(layout.host_usage_file("/p/c"), "/sys/fs/cgroup/memory/p/c/memory.usage_in_bytes")
        self.assertEqual(layout.guest_usage_file("/p/c"), "/hostcg/memory/p/c/memory.usage_in_bytes")

    def test_v2_reads_memory_current(self):
        layout = CgroupLayout(unified=True)
        self.assertEqual(layout.host_usage_file("/p/c"), "/sys/fs/cgroup/p/c/memory.current")
        self.assertEqual(layout.guest_mount_entry()["source"], "/sys/fs/cgroup")


class MetricTest(unittest.TestCase):
    def test_value_is_the_median_and_ratio_compares_medians(self):
        metric = Metric("run", "run", "s")
        for v in (0.010, 0.030, 0.020):
            metric.add("berth", v)
        for v in (0.040, 0.040):
            metric.add("crun", v)
        self.assertEqual(metric.value("berth"), 0.020)
        self.assertEqual(metric.shown("berth"), "20.00 ms")
        self.assertEqual(metric.ratio("berth", "crun"), "0.50x")
        self.assertEqual(metric.ratio("berth", "runc"), "")

    def test_a_runtime_with_only_an_error_shows_error(self):
        metric = Metric("run", "run", "s")
        metric.fail("berth", "boom")
        metric.fail("berth", "second reason is not kept")
        self.assertEqual(metric.shown("berth"), "error")
        self.assertEqual(metric.errors["berth"], "boom")

    def test_spread_gives_quartiles_and_survives_one_sample(self):
        self.assertEqual(spread([4, 1, 3, 2, 5]), (1, 1.5, 3, 4.5, 5))
        self.assertEqual(spread([7]), (7, 7, 7, 7, 7))

    def test_format_value_units(self):
        self.assertEqual(format_value(1536, "KiB"), "1,536 KiB")
        self.assertEqual(format_value(2_500_000, "B"), "2.50 MB")
        self.assertEqual(format_value(200, "count"), "200")


def with_list_times(points: dict[int, float]) -> Metrics:
    metrics = Metrics()
    for count, seconds in points.items():
        metrics.get(f"list{count}", f"list {count}", "s").add("berth", seconds)
    return metrics


class TargetsTest(unittest.TestCase):
    def test_list_growing_at_a_steady_cost_per_container_is_linear(self):
        shown, linear = list_linearity(with_list_times({1: 0.002, 100: 0.012, 500: 0.052}))
        self.assertTrue(linear, shown)

    def test_list_whose_cost_per_container_grows_is_not_linear(self):
        _, linear = list_linearity(with_list_times({1: 0.002, 100: 0.012, 500: 0.500}))
        self.assertFalse(linear)

    def test_linearity_needs_three_points(self):
        self.assertIsNone(list_linearity(with_list_times({1: 0.002, 500: 0.052})))

    def test_targets_compare_berth_with_crun(self):
        metrics = Metrics()
        run = metrics.get("run_netns", "run", "s")
        run.add("berth", 0.007)
        run.add("crun", 0.010)
        metrics.get("floor", "floor", "KiB").add("crun", 256)
        table = "\n".join(targets_table(metrics))
        self.assertIn("| `run` (with network ns) <= 0.8x crun | 0.70x crun | yes |", table)
        self.assertIn("| memory floor <= crun's | not measured | n/a |", table)


class ChainsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.scratch = Scratch(self.dir.name)

    def tearDown(self):
        self.dir.cleanup()

    def test_a_chain_runs_in_order_and_stops_at_the_first_failure(self):
        chains = [
            [(["/bin/sh", "-c", "echo one"], None), (["/bin/sh", "-c", "echo two"], None)],
            [(["/bin/false"], None), (["/bin/true"], None)],
        ]
        results = run_chains(chains, self.scratch, concurrency=2)
        self.assertEqual([r.stdout for r in results[0]], ["one\n", "two\n"])
        self.assertEqual([r.rc for r in results[1]], [1])
        self.assertEqual(chain_failures(results, 2), ["`false`: exit status 1, no stderr"])
        self.assertEqual(os.listdir(self.dir.name), [])

    def test_a_step_past_the_timeout_is_killed(self):
        results = run_chains([[(["/bin/sleep", "30"], None)]], self.scratch, 1, timeout=0.2)
        self.assertIsNone(results[0][0].rc)
        self.assertLess(results[0][0].seconds, 5)
        self.assertEqual(len(chain_failures(results, 1)), 1)


class ShortCommandTest(unittest.TestCase):
    def test_names_the_runtime_and_its_command_without_the_root(self):
        self.assertEqual(short_command(["/usr/bin/crun", "--root", "/r", "delete", "x"]), "crun delete")
        self.assertEqual(short_command(["/usr/bin/time", "-o", "f"]), "time -o")


STRACE_RUN = """\
100  1000.000000 execve("/usr/bin/crun", ["crun", "run"], 0x7ffe /* 3 vars */) = 0
101  1000.010000 pivot_root(".", ".") = 0
101  1000.012500 execve("/bin/true", ["/bin/true"], 0x55 /* 3 vars */) = 0
101  1000.013000 exit_group(0)                     = ?
100  1000.015000 exit_group(0)                     = ?
"""

STRACE_COUNTS = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 26.30    0.001364          13       104         2 openat
 13.90    0.000721         721         1           clone
 11.32    0.000587          14        40         1 write
------ ----------- ----------- --------- --------- ----------------
100.00    0.005186           5       145         3 total
"""


class StraceParsingTest(unittest.TestCase):
    def test_run_is_split_at_pivot_root_and_the_exec_of_true(self):
        setup, to_exec, to_exit = run_phases_from_strace(STRACE_RUN)
        self.assertAlmostEqual(setup, 0.010)
        self.assertAlmostEqual(to_exec, 0.0025)
        self.assertAlmostEqual(to_exit, 0.0025)

    def test_a_log_without_pivot_root_has_no_phases(self):
        self.assertIsNone(run_phases_from_strace(STRACE_RUN.replace("pivot_root", "chroot")))

    def test_syscall_counts_are_summarized_most_frequent_first(self):
        self.assertEqual(summarize_syscall_counts(STRACE_COUNTS, top=2), "145 calls; openat 104, write 40")


class RotatedTest(unittest.TestCase):
    def test_each_round_starts_with_the_next_runtime(self):
        names = ["berth", "crun", "runc"]
        self.assertEqual([rotated(names, r)[0] for r in range(4)], ["berth", "crun", "runc", "berth"])
        self.assertEqual(rotated(names, 1), ["crun", "runc", "berth"])
        self.assertEqual(rotated([], 3), [])


class KeptNotesTest(unittest.TestCase):
    def test_the_hand_written_tail_survives_a_rewrite(self):
        with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as f:
            f.write("generated table\n" + KEEP_MARKER + "\nanalysis by hand\n")
        try:
            self.assertEqual(kept_notes(f.name), "\n" + KEEP_MARKER + "\nanalysis by hand\n")
        finally:
            os.unlink(f.name)

    def test_a_new_report_gets_the_bare_marker(self):
        self.assertEqual(kept_notes("/nonexistent/report.md"), "\n" + KEEP_MARKER + "\n")


class RuntimeTest(unittest.TestCase):
    def test_argv_puts_the_root_before_the_command(self):
        runtime = Runtime("crun", "/usr/bin/crun", "/tmp/r")
        self.assertEqual(runtime.argv("state", "x"), ["/usr/bin/crun", "--root", "/tmp/r", "state", "x"])


if __name__ == "__main__":
    unittest.main()
