#!/usr/bin/env bash
# Builds rdptap in release mode and runs the benchmark (benches/throughput/).
# It has two sections: `relay` (rdptap against no relay, socat and haproxy) and
# `intercept` (real TLS direct, through rdptap untouched, and through
# rdptap --intercept). Both run unless one is named. Extra arguments are passed to
# the benchmark, e.g.
#   benches/run.sh                                  # everything, 1 to 2 minutes
#   benches/run.sh relay --mib 256 --reps 1         # a quick relay comparison
#   benches/run.sh intercept                        # interception only
#   benches/run.sh intercept --tls-mib 256 --tls-reps 3 --setups 100
set -euo pipefail
cd "$(dirname "$0")/.."

# socat and haproxy are only needed by the relay section.
relay=1
for a in "$@"; do
    [ "$a" = intercept ] && relay=0
done
for a in "$@"; do
    [ "$a" = relay ] && relay=1
done
if [ "$relay" = 1 ]; then
    for tool in socat haproxy; do
        if ! command -v "$tool" >/dev/null; then
            echo "run.sh: $tool is not installed (Debian/Ubuntu: apt-get install $tool)" >&2
            exit 1
        fi
    done
fi

cmd=(cargo bench --bench throughput)
if [ $# -gt 0 ]; then
    cmd+=(-- "$@")
fi

echo "# cargo build --release"
cargo build --release
echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo ' (with uncommitted changes)')"
echo "# ${cmd[*]}"
"${cmd[@]}"
