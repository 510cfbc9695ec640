#!/usr/bin/env bash
# Reads `cargo test` output (stdout and stderr together) on stdin and prints the
# failing tests, one `binary::test` per line, sorted: `exec::exec_process_json`,
# `berth_container::state::tests::roundtrip`. The binary is the test target's
# name (the file under target/debug/deps without its hash).
#
# To (re)write the list of tests berth is known to fail:
#   cargo test --workspace --no-fail-fast 2>&1 | scripts/failed-tests.sh > integration_tests/known-failures.txt
set -euo pipefail
awk '
    /^ *Running / {
        binary = $NF
        sub(/.*\//, "", binary)
        sub(/-[0-9a-f]+\)$/, "", binary)
    }
    /^test .* \.\.\. FAILED$/ { print binary "::" $2 }
' | sort -u
