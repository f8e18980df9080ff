#!/usr/bin/env bash
# Re-create the raw per-direction fixtures in this directory from real peers on loopback.
#
#   tests/data/capture.sh [NAME ...]     (default: every capture)
#   KEEP_WORK=1 tests/data/capture.sh ... keeps the server and client logs
#
# Each fixture is a pair NAME.c2s.bin / NAME.s2c.bin: the whole byte stream one client
# (xfreerdp) sent through a recording relay (socat -r/-R) and the whole stream the server
# sent back. Nothing here runs in CI; the tests only read the committed .bin files.
# Needs: xrdp, xfreerdp (freerdp2-x11), freerdp-shadow-cli (freerdp2-shadow-x11), Xvfb,
# socat, openssl, iconv, python3 (only to find free loopback ports); cargo for the
# plaintext captures.
# The credentials (labuser/labpass) and certificates are throwaway.
set -euo pipefail

out_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/rdptap-capture.XXXXXX)
pids=()

cleanup() {
  # xrdp forks a child per connection that outlives the client (CLOSE-WAIT), so stop the
  # children of every process we started before the process itself.
  local p c
  for p in "${pids[@]}"; do
    for c in $(pgrep -P "$p" 2>/dev/null || true); do kill "$c" 2>/dev/null || true; done
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

log() { printf '== %s\n' "$*" >&2; }

free_port() {
  # Let the kernel choose: bind 127.0.0.1:0 and report the port.
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_listen() {
  local port=$1 what=$2 i
  for i in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$what did not listen on 127.0.0.1:$port" >&2
  return 1
}

stop_tree() {
  local p=$1 c
  for c in $(pgrep -P "$p" 2>/dev/null || true); do kill "$c" 2>/dev/null || true; done
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  forget "$p"
}

forget() {
  # Drop a finished pid so the exit trap never signals a recycled one.
  local keep=() q
  for q in "${pids[@]}"; do [ "$q" = "$1" ] || keep+=("$q"); done
  pids=("${keep[@]}")
}

# --- a private X display: xfreerdp needs one even with +auth-only ----------------------
start_xvfb() {
  local n=90
  while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
  Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp -noreset >"$work/xvfb.log" 2>&1 &
  pids+=($!)
  local i
  for i in $(seq 100); do
    [ -e "/tmp/.X11-unix/X$n" ] && { display=":$n"; return 0; }
    sleep 0.1
  done
  echo "Xvfb :$n did not start" >&2
  return 1
}

# --- a throwaway self-signed server certificate ----------------------------------------
make_cert() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=rdptap-fixture-host" \
    -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
}

# --- xrdp on loopback ------------------------------------------------------------------
# usage: start_xrdp SECURITY_LAYER SSL_PROTOCOLS CRYPT_LEVEL  -> sets server_port, server_pid
start_xrdp() {
  local sec=$1 protos=$2 crypt=$3
  server_port=$(free_port)
  local ini="$work/xrdp-$server_port.ini"
  # Only [Globals] and [Logging] are rewritten: the session sections further down also
  # have port= lines that mean something else.
  awk -v port="tcp://127.0.0.1:$server_port" -v sec="$sec" -v protos="$protos" \
      -v crypt="$crypt" -v cert="$work/cert.pem" -v key="$work/key.pem" \
      -v logf="$work/xrdp-$server_port.log" '
    /^\[/ { section = $0 }
    section == "[Globals]" && /^port=/           { print "port=" port; next }
    section == "[Globals]" && /^security_layer=/ { print "security_layer=" sec; next }
    section == "[Globals]" && /^crypt_level=/    { print "crypt_level=" crypt; next }
    section == "[Globals]" && /^certificate=/    { print "certificate=" cert; next }
    section == "[Globals]" && /^key_file=/       { print "key_file=" key; next }
    section == "[Globals]" && /^ssl_protocols=/  { print "ssl_protocols=" protos; next }
    section == "[Logging]" && /^LogFile=/        { print "LogFile=" logf; next }
    section == "[Logging]" && /^EnableSyslog=/   { print "EnableSyslog=false"; next }
    { print }
  ' /etc/xrdp/xrdp.ini >"$ini"
  xrdp --nodaemon --config "$ini" >"$work/xrdp-$server_port.out" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  wait_listen "$server_port" xrdp
}

# --- FreeRDP shadow server as an NLA host ----------------------------------------------
nt_hash() {
  # NT hash = MD4(UTF-16LE(password)); OpenSSL 3 keeps MD4 in its legacy provider.
  printf '%s' "$1" | iconv -f UTF-8 -t UTF-16LE |
    openssl dgst -md4 -provider legacy -provider default -r | cut -d' ' -f1
}

start_shadow() {
  local user=$1 pass=$2
  server_port=$(free_port)
  local sam="$work/sam-$server_port"
  printf '%s:::%s:::\n' "$user" "$(nt_hash "$pass")" >"$sam"
  DISPLAY=$display freerdp-shadow-cli /bind-address:127.0.0.1 /port:"$server_port" \
    /sec:nla /sam-file:"$sam" >"$work/shadow-$server_port.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  wait_listen "$server_port" freerdp-shadow-cli
}

# --- one recorded client run -----------------------------------------------------------
# usage: record NAME XFREERDP_ARGS...   (server_port must point at a running server)
record() {
  local name=$1
  shift
  local relay_port c2s="$work/$name.c2s.bin" s2c="$work/$name.s2c.bin" relay_pid rc
  relay_port=$(free_port)
  rm -f "$c2s" "$s2c"
  # One connection, no fork: socat exits once both directions are done. -r holds what
  # flows left to right (client to server), -R the reverse. nodelay on both legs keeps
  # Nagle plus delayed ACKs from stalling each round trip.
  socat -r "$c2s" -R "$s2c" \
    "TCP-LISTEN:$relay_port,bind=127.0.0.1,reuseaddr,nodelay" \
    "TCP:127.0.0.1:$server_port,nodelay" 2>"$work/$name.socat.log" &
  relay_pid=$!
  pids+=("$relay_pid")
  wait_socat_listen "$relay_port"
  set +e
  DISPLAY=$display timeout 30 xfreerdp /v:"127.0.0.1:$relay_port" "$@" \
    >"$work/$name.client.log" 2>&1
  rc=$?
  set -e
  # The server may keep its end open (xrdp's children do), so give socat a bounded
  # moment to flush and then stop it.
  local i
  for i in $(seq 50); do kill -0 "$relay_pid" 2>/dev/null || break; sleep 0.1; done
  kill "$relay_pid" 2>/dev/null || true
  wait "$relay_pid" 2>/dev/null || true
  forget "$relay_pid"
  cp "$c2s" "$out_dir/$name.c2s.bin"
  cp "$s2c" "$out_dir/$name.s2c.bin"
  printf '%-22s client exit %-3s c2s %6s bytes  s2c %6s bytes\n' "$name" "$rc" \
    "$(stat -c %s "$c2s")" "$(stat -c %s "$s2c")"
  grep -E 'exit status|ERROR|error' "$work/$name.client.log" | sed 's/^/    client: /' | head -5 || true
}

wait_socat_listen() {
  # socat's listener: probing it with a connect would consume its single accept, so
  # watch the socket table instead.
  local port=$1 i
  for i in $(seq 100); do
    if ss -ltnH "sport = :$port" 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  echo "socat did not listen on 127.0.0.1:$port" >&2
  return 1
}

client_common=(/u:labuser /cert:ignore +auth-only)

# --- plaintext captures ------------------------------------------------------------------
# NAME.plain.c2s.bin / NAME.plain.s2c.bin hold the bytes inside TLS, so socat cannot record
# them: the ignored test of the same name (dashes as underscores) in tests/capture_plain.rs
# runs the peers through the harness's TLS man-in-the-middle and writes the fixture itself.
# xrdp-rdp-clear (standard RDP security, encryption level NONE) is made there too.
plain_capture() {
  local test=${1//-/_}
  (cd "$out_dir/../.." &&
    cargo test --test capture_plain -- --ignored --exact "$test" --test-threads=1 --nocapture) \
    >"$work/$1.test.log" 2>&1 || { cat "$work/$1.test.log" >&2; return 1; }
  grep -E '^(===|ends:)' "$work/$1.test.log" || true
}

capture() {
  case $1 in
    xrdp-tls12-ok)
      start_xrdp negotiate TLSv1.2 high
      record "$1" "${client_common[@]}" /p:labpass /sec:tls ;;
    xrdp-tls13-ok)
      start_xrdp negotiate "TLSv1.2, TLSv1.3" high
      record "$1" "${client_common[@]}" /p:labpass /sec:tls ;;
    xrdp-rdp-negfailure)
      start_xrdp rdp "TLSv1.2, TLSv1.3" high
      record "$1" "${client_common[@]}" /p:labpass /sec:tls ;;
    xrdp-rdp-security)
      # xrdp's RC4 (crypt_level low..high) fails against FreeRDP 2.11 with a MAC error;
      # FIPS (3DES/SHA-1) works, and the MCS Connect Initial/Response stay in the clear.
      start_xrdp rdp "TLSv1.2, TLSv1.3" fips
      record "$1" "${client_common[@]}" /p:labpass /sec:rdp ;;
    xrdp-tls-rdpclient)
      # FreeRDP's /sec:rdp sends no RDP_NEG_REQ at all, so a TLS-only xrdp cannot answer
      # with RDP_NEG_FAILURE: it sends a bare CC and then an MCS Disconnect Provider Ultimatum.
      start_xrdp tls "TLSv1.2, TLSv1.3" high
      record "$1" "${client_common[@]}" /p:labpass /sec:rdp ;;
    xrdp-tls-nlaclient)
      # xrdp never selects HYBRID: it picks SSL, which an NLA-only client rejects by hanging up.
      start_xrdp tls "TLSv1.2, TLSv1.3" high
      record "$1" "${client_common[@]}" /p:labpass /sec:nla ;;
    shadow-nla-negfailure)
      # A genuine RDP_NEG_FAILURE (HYBRID_REQUIRED_BY_SERVER) from an NLA-only server.
      start_shadow labuser labpass
      record "$1" "${client_common[@]}" /p:labpass /sec:tls ;;
    shadow-nla-wrongpass)
      start_shadow labuser labpass
      record "$1" "${client_common[@]}" /p:WRONGPASS ;;
    shadow-nla-ok)
      start_shadow labuser labpass
      record "$1" "${client_common[@]}" /p:labpass ;;
    xrdp-tls-plain-active | xrdp-tls-plain-sigterm | xrdp-tls-plain-serverkill | \
      xrdp-tls-plain-serverterm | shadow-tls-plain-stop | shadow-tls-plain-authfail | \
      xrdp-rdp-clear)
      # These start and stop their own peers.
      plain_capture "$1"
      return ;;
    *) echo "unknown capture: $1" >&2; return 2 ;;
  esac
  stop_tree "$server_pid"
}

all=(xrdp-tls12-ok xrdp-tls13-ok xrdp-rdp-negfailure xrdp-rdp-security xrdp-tls-rdpclient
  xrdp-tls-nlaclient shadow-nla-negfailure shadow-nla-wrongpass shadow-nla-ok
  xrdp-tls-plain-active xrdp-tls-plain-sigterm xrdp-tls-plain-serverkill
  xrdp-tls-plain-serverterm shadow-tls-plain-stop shadow-tls-plain-authfail xrdp-rdp-clear)
[ $# -gt 0 ] && all=("$@")

make_cert
start_xvfb
for name in "${all[@]}"; do
  log "$name"
  capture "$name"
done
