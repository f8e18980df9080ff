#!/usr/bin/env bash
# Builds rdptap in release mode and runs the relay comparison benchmark
# (benches/throughput/). Extra arguments are passed to the benchmark, e.g.
#   benches/run.sh --mib 256 --reps 1
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in socat haproxy; do
    if ! command -v "$tool" >/dev/null; then
        echo "run.sh: $tool is not installed (Debian/Ubuntu: apt-get install $tool)" >&2
        exit 1
    fi
done

cmd=(cargo bench --bench throughput)
if [ $# -gt 0 ]; then
    cmd+=(-- "$@")
fi

echo "# cargo build --release"
cargo build --release
echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo ' (with uncommitted changes)')"
echo "# ${cmd[*]}"
"${cmd[@]}"
