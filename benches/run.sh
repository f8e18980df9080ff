#!/usr/bin/env bash
# Builds rdptap in release mode and runs the benchmark (benches/throughput/).
# It has six sections: `relay` (rdptap against no relay, socat and haproxy),
# `intercept` (real TLS direct, through rdptap untouched, and through
# rdptap --intercept), `gateway` (MS-TSGU DATA over the WebSocket and HTTP
# transports through rdptap lab gateway, alone and behind rdptap proxy --gateway,
# against direct TLS), `capture` (rdptap --pcap against no capture) and `analyze`
# (rdptap analyze on a generated 1 GiB capture of RDP over TLS, without and with its
# key log, against tshark -z conv,tcp on the same file; it needs tshark and about
# 1.1 GiB free in the temp directory) and `pieces` (a 64 KiB frame sent to rdptap in
# 1-byte pieces, in direct and gateway mode, against as many pieces it only relays;
# rdptap's CPU ratio). All run unless some are named. Two load
# sections run only when named: `idle` (10,000 idle connections through one rdptap, or
# as many as the open-file limit allows: memory and descriptors per connection) and
# `soak` (1,000 RDP-shaped sessions for 10 minutes, a third against faulty peers, then
# 200 under --intercept and 200 in gateway mode: about 35 minutes in all;
# `soak-plain`, `soak-intercept` and `soak-gateway` run one variant). Extra
# arguments are passed to the benchmark, e.g.
#   benches/run.sh                                  # everything, 3 to 5 minutes
#   benches/run.sh relay --mib 256 --reps 1         # a quick relay comparison
#   benches/run.sh intercept                        # interception only
#   benches/run.sh intercept --tls-mib 256 --tls-reps 3 --setups 100
#   benches/run.sh gateway                          # gateway mode only
#   benches/run.sh gateway --gw-mib 256 --gw-reps 3
#   benches/run.sh capture                          # --pcap against no capture
#   benches/run.sh analyze                          # offline analysis, about 5 minutes
#   benches/run.sh analyze --analyze-mib 128 --analyze-reps 1   # a quick look
#   benches/run.sh analyze --analyze-dir /big/disk --keep       # keep the capture
#   benches/run.sh pieces                           # 1-byte pieces, about 2 minutes
#   benches/run.sh pieces --pieces-reps 1           # a quick look
#   benches/run.sh idle                             # 10,000 idle connections
#   benches/run.sh idle --idle-conns 2000           # a quick look
#   benches/run.sh soak                             # the three 10-minute soaks
#   benches/run.sh soak-plain --soak-secs 30 --soak-conns 200   # a 30-second version
#   benches/run.sh soak --soak-secs 60 --soak-conns 300 --soak-tls-conns 60 --soak-gw-conns 60
#   benches/run.sh soak-plain --soak-arg=--first-byte-timeout=10s  # one more rdptap option
set -euo pipefail
cd "$(dirname "$0")/.."

# socat and haproxy are only needed by the relay section, which runs when it is
# named or when no section is.
relay=1
for a in "$@"; do
    case "$a" in
        intercept | gateway | capture | analyze | pieces | idle | soak*) relay=0 ;;
    esac
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

# tshark is only needed by the analyze section, which runs when it is named or when
# no section is.
analyze=1
for a in "$@"; do
    case "$a" in
        relay | intercept | gateway | capture | pieces | idle | soak*) analyze=0 ;;
    esac
done
for a in "$@"; do
    [ "$a" = analyze ] && analyze=1
done
if [ "$analyze" = 1 ] && ! command -v tshark >/dev/null; then
    echo "run.sh: tshark is not installed (Debian/Ubuntu: apt-get install tshark)" >&2
    exit 1
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
