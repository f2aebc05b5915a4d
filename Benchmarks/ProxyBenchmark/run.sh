#!/usr/bin/env bash
# Data-plane benchmark: the same echo-server upstream reached directly, through Envoy 1.40
# (`sidecar --proxy envoy`) and through the Swift proxy (`sidecar --proxy swift`), both configured
# by our istiod over ADS, on loopback. wrk drives HTTP/1.1 and h2load (if installed) drives h2c,
# with the same connections, threads and duration for every target. Prints requests per second,
# p50/p99 latency and proxy RSS, and the ratios Swift/Envoy and proxy/direct.
#
# With --mtls, istiod also runs its CA, every sidecar gets a workload certificate from it, and a
# second section measures client sidecar -> server sidecar over Istio mutual TLS (STRICT) -> echo,
# Envoy to Envoy and Swift to Swift.
#
#   Benchmarks/ProxyBenchmark/run.sh [--duration 10] [--connections 64] [--threads 2] [--proxy-workers 2] [--mtls] [--rounds 1] [--no-telemetry]
#                                    [--compare-swift DIR]
#
# --compare-swift DIR also runs the Swift sidecar of another build (DIR/sidecar, e.g. a release
# build of the previous commit) as `swift-base` in the HTTP/1.1 rounds, next to `swift`, and prints
# swift/swift-base per round: a change's effect measured on the same host at the same time.
#
# The Swift proxy runs Istio's peer metadata and stats filters (istiod sends them to proxies that
# list them; upstream Envoy has neither, so it runs without). --no-telemetry adds a mesh-wide
# Telemetry that disables metrics, so both proxies run the same filters.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=10; CONNECTIONS=64; THREADS=2; WORKERS=2; BIN=.build-release/release; MTLS=; ROUNDS=1; TELEMETRY=1; BASE=
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --proxy-workers) WORKERS="$2"; shift 2 ;;
        --bin) BIN="$2"; shift 2 ;;
        --mtls) MTLS=1; shift ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --no-telemetry) TELEMETRY=; shift ;;
        --compare-swift) BASE="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
if [ ! -x "$BIN/istiod" ] || [ ! -x "$BIN/sidecar" ] || [ ! -x "$BIN/echo-server" ]; then
    swift build -c release --scratch-path .build-release --product istiod
    swift build -c release --scratch-path .build-release --product sidecar
    swift build -c release --scratch-path .build-release --product echo-server
fi
ENVOY_BIN="${ENVOY_BIN:-$(.venv/bin/python3 -c "import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), '_bin', 'envoy'))")}"

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
if [ -z "${KEEP:-}" ]; then trap cleanup EXIT; fi

ECHO=127.0.0.61; ENVOY_IP=127.0.0.62; SWIFT_IP=127.0.0.63; BASE_IP=127.0.0.66; XDS=127.0.0.1:15710; PORT=9080
if [ -n "$BASE" ] && [ ! -x "$BASE/sidecar" ]; then echo "--compare-swift: no sidecar binary in $BASE" >&2; exit 2; fi
cat > "$WORK/mesh.yaml" <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: bench}
spec:
  hosts: [echo.bench.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: $PORT, name: http, protocol: HTTP, targetPort: 18080}]
  endpoints: [{address: $ECHO}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: envoy-client, namespace: bench}
spec:
  workloadSelector: {labels: {app: envoy-client}}
  egress:
  - {port: {number: $PORT, protocol: HTTP, name: http}, bind: $ENVOY_IP, captureMode: NONE, hosts: ["./*"]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: swift-client, namespace: bench}
spec:
  workloadSelector: {labels: {app: swift-client}}
  egress:
  - {port: {number: $PORT, protocol: HTTP, name: http}, bind: $SWIFT_IP, captureMode: NONE, hosts: ["./*"]}
YAML
if [ -n "$BASE" ]; then
    cat >> "$WORK/mesh.yaml" <<YAML
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: swift-base, namespace: bench}
spec:
  workloadSelector: {labels: {app: swift-base}}
  egress:
  - {port: {number: $PORT, protocol: HTTP, name: http}, bind: $BASE_IP, captureMode: NONE, hosts: ["./*"]}
YAML
fi

# --mtls: a server sidecar of each kind in front of its own echo (same address, as in a pod), STRICT.
ENVOY_SERVER_IP=127.0.0.64; SWIFT_SERVER_IP=127.0.0.65; INBOUND=15090; SECURE=127.0.0.1:15712
if [ -n "$MTLS" ]; then
    for kind in envoy swift; do
        if [ $kind = envoy ]; then ip=$ENVOY_SERVER_IP; else ip=$SWIFT_SERVER_IP; fi
        cat >> "$WORK/mesh.yaml" <<YAML
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo-$kind, namespace: bench}
spec:
  hosts: [echo-$kind.bench.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: $PORT, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: server-$kind}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: server-$kind, namespace: bench}
spec:
  address: $ip
  serviceAccount: server
  ports: {http: $INBOUND}
  labels: {app: server-$kind, security.istio.io/tlsMode: istio}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: server-$kind, namespace: bench}
spec:
  workloadSelector: {labels: {app: server-$kind}}
  ingress:
  - {port: {number: $INBOUND, protocol: HTTP, name: http}, bind: $ip, captureMode: NONE, defaultEndpoint: "0.0.0.0:18080"}
YAML
    done
    cat >> "$WORK/mesh.yaml" <<YAML
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: bench}
spec:
  mtls: {mode: STRICT}
YAML
    mkdir -p "$WORK/ca"
    TOKEN="bench-token-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    echo "$TOKEN spiffe://cluster.local/ns/bench/sa/*" > "$WORK/ca/tokens"
    echo "$TOKEN" > "$WORK/ca/token"
    ISTIOD_CA=(--ca-dir "$WORK/ca/cacerts" --secure-address "$SECURE" --bootstrap-token-file "$WORK/ca/tokens")
    AGENT_CA=(--xds "$SECURE" --ca "$SECURE" --root-cert "$WORK/ca/cacerts/root-cert.pem" --token-file "$WORK/ca/token")
else
    ISTIOD_CA=(); AGENT_CA=()
fi
if [ -z "$TELEMETRY" ]; then
    cat >> "$WORK/mesh.yaml" <<YAML
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics:
  - overrides:
    - match: {metric: ALL_METRICS}
      disabled: true
YAML
fi
if [ -n "$TELEMETRY" ]; then echo "Istio telemetry on the Swift proxy: on"; else echo "Istio telemetry on the Swift proxy: off (--no-telemetry)"; fi

"$BIN/echo-server" --address "$ECHO:18080" --name echo > "$WORK/echo.log" 2>&1 & PIDS+=($!)
"$BIN/istiod" --config-dir "$WORK" --xds-address "$XDS" --debug-address 127.0.0.1:15714 --log-level warning "${ISTIOD_CA[@]}" > "$WORK/istiod.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 60); do
    if [ -z "$MTLS" ] || [ -s "$WORK/ca/cacerts/root-cert.pem" ]; then break; fi
    sleep 0.5
done
if [ -n "$MTLS" ] && [ ! -s "$WORK/ca/cacerts/root-cert.pem" ]; then echo "istiod's CA never wrote its root certificate"; cat "$WORK/istiod.log"; exit 1; fi
sleep 1
"$BIN/sidecar" --proxy envoy --envoy-bin "$ENVOY_BIN" --ip "$ENVOY_IP" --namespace bench --labels app=envoy-client --service-account client --xds "$XDS" "${AGENT_CA[@]}" --concurrency "$WORKERS" --log-level warning > "$WORK/envoy.log" 2>&1 & ENVOY_AGENT=$!; PIDS+=($ENVOY_AGENT)
"$BIN/sidecar" --proxy swift --ip "$SWIFT_IP" --namespace bench --labels app=swift-client --service-account client --xds "$XDS" "${AGENT_CA[@]}" --concurrency "$WORKERS" --log-level warning > "$WORK/swift.log" 2>&1 & SWIFT_AGENT=$!; PIDS+=($SWIFT_AGENT)
BASE_AGENT=
if [ -n "$BASE" ]; then
    "$BASE/sidecar" --proxy swift --ip "$BASE_IP" --namespace bench --labels app=swift-base --service-account client --xds "$XDS" "${AGENT_CA[@]}" --concurrency "$WORKERS" --log-level warning > "$WORK/swift-base.log" 2>&1 & BASE_AGENT=$!; PIDS+=($BASE_AGENT)
fi
if [ -n "$MTLS" ]; then
    "$BIN/echo-server" --address "$ENVOY_SERVER_IP:18080" --name echo-envoy > "$WORK/echo-envoy.log" 2>&1 & PIDS+=($!)
    "$BIN/echo-server" --address "$SWIFT_SERVER_IP:18080" --name echo-swift > "$WORK/echo-swift.log" 2>&1 & PIDS+=($!)
    "$BIN/sidecar" --proxy envoy --envoy-bin "$ENVOY_BIN" --ip "$ENVOY_SERVER_IP" --namespace bench --labels app=server-envoy,security.istio.io/tlsMode=istio --service-account server "${AGENT_CA[@]}" --concurrency "$WORKERS" --log-level warning > "$WORK/envoy-server.log" 2>&1 & ENVOY_SERVER_AGENT=$!; PIDS+=($ENVOY_SERVER_AGENT)
    "$BIN/sidecar" --proxy swift --ip "$SWIFT_SERVER_IP" --namespace bench --labels app=server-swift,security.istio.io/tlsMode=istio --service-account server "${AGENT_CA[@]}" --concurrency "$WORKERS" --log-level warning > "$WORK/swift-server.log" 2>&1 & SWIFT_SERVER_AGENT=$!; PIDS+=($SWIFT_SERVER_AGENT)
fi

for ip in $ENVOY_IP $SWIFT_IP ${BASE:+$BASE_IP}; do
    for _ in $(seq 1 120); do
        if curl -sf "http://$ip:15000/ready" >/dev/null 2>&1 && curl -sf -H "host: echo.bench.svc.cluster.local" "http://$ip:$PORT/" >/dev/null 2>&1; then break; fi
        sleep 0.5
    done
    curl -sf -H "host: echo.bench.svc.cluster.local" "http://$ip:$PORT/" >/dev/null || { echo "proxy on $ip never served traffic"; tail -n 20 "$WORK"/*.log; exit 1; }
done
ENVOY_PID=$(pgrep -P "$ENVOY_AGENT" envoy | head -1)

rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
hwm() { awk '/VmHWM/ {print int($2/1024)}' "/proc/$1/status"; }
# Unique set size: the pages only this process maps (its heap and its private code pages).
uss() { awk '/^Private_(Clean|Dirty):/ {kb += $2} END {print int(kb/1024)}' "/proc/$1/smaps_rollup"; }
# CPU time (user + system, clock ticks) of a process, to print CPU microseconds per request:
# unlike requests per second, that does not depend on how much of the shared cores the proxy got.
ticks() { if [ -n "${1:-}" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; else echo 0; fi; }
HZ=$(getconf CLK_TCK)

run_wrk() {  # name url [host] [proxy pid...]
    local name=$1 url=$2 host=${3:-echo.bench.svc.cluster.local}; shift 3 2>/dev/null || shift $#
    local before=0 after=0 pid
    for pid in "$@"; do before=$((before + $(ticks "$pid"))); done
    wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency -H "Host: $host" "$url" > "$WORK/wrk-$name.txt"
    for pid in "$@"; do after=$((after + $(ticks "$pid"))); done
    python3 - "$name" "$WORK/wrk-$name.txt" "$((after - before))" "$HZ" <<'PY'
import re, sys
name, path, ticks, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
text = open(path).read()
def ms(v):
    n, unit = re.match(r"([\d.]+)(\w+)", v).groups(); n = float(n)
    return n * {"us": 0.001, "ms": 1, "s": 1000}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)); p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: (.*)", text)
total = int(re.search(r"(\d+) requests in", text).group(1))
cpu = f"{ticks * 1e6 / hz / total:.1f}" if ticks else "-"
print(f"{name} {rps:.0f} {p50:.3f} {p99:.3f} {errors.group(1) if errors else 0} {cpu} {'|'+sock.group(1).replace(' ','_') if sock else ''}")
PY
}

echo "== HTTP/1.1 (wrk -t $THREADS -c $CONNECTIONS -d ${DURATION}s), proxies with $WORKERS workers, $(nproc) cores, $ROUNDS round(s)"
# With several rounds the proxies take turns going first, and the tables show each figure's median.
for round in $(seq 1 "$ROUNDS"); do
    run_wrk direct "http://$ECHO:18080/"
    if [ $((round % 2)) -eq 1 ]; then order="envoy swift ${BASE:+swift-base}"; else order="${BASE:+swift-base} swift envoy"; fi
    for proxy in $order; do
        case "$proxy" in
            envoy) run_wrk envoy "http://$ENVOY_IP:$PORT/" echo.bench.svc.cluster.local "$ENVOY_PID" ;;
            swift) run_wrk swift "http://$SWIFT_IP:$PORT/" echo.bench.svc.cluster.local "$SWIFT_AGENT" || cat "$WORK/wrk-swift.txt" ;;
            swift-base) run_wrk swift-base "http://$BASE_IP:$PORT/" echo.bench.svc.cluster.local "$BASE_AGENT" || cat "$WORK/wrk-swift-base.txt" ;;
        esac
    done
done | tee "$WORK/results.txt"

if command -v h2load >/dev/null; then
    echo "== HTTP/2 h2c (h2load -c $CONNECTIONS -m 10 -D $DURATION)"
    for round in $(seq 1 "$ROUNDS"); do
      if [ $((round % 2)) -eq 1 ]; then order="envoy swift"; else order="swift envoy"; fi
      for target in "direct http://$ECHO:18080/" $(for proxy in $order; do
            if [ "$proxy" = envoy ]; then echo "envoy,http://$ENVOY_IP:$PORT/,$ENVOY_PID"; else echo "swift,http://$SWIFT_IP:$PORT/,$SWIFT_AGENT"; fi
        done); do
        set -- ${target//,/ }
        before=$(ticks "${3:-}")
        h2load -c "$CONNECTIONS" -m 10 -t "$THREADS" -D "$DURATION" --log-file "$WORK/h2-$1.log" -H ":authority: echo.bench.svc.cluster.local" "$2" > "$WORK/h2-$1.txt" 2>&1 || true
        after=$(ticks "${3:-}")
        rps=$(grep -o 'finished in [^,]*, [0-9.]* req/s' "$WORK/h2-$1.txt" | awk '{print $(NF-1)}')
        done_count=$(awk '/^requests:/ {print $8}' "$WORK/h2-$1.txt")
        cpu=$(python3 -c "t, n = $((after - before)), ${done_count:-0}; print(f'{t * 1e6 / $HZ / n:.1f}' if t and n else '-')")
        # h2load prints no percentiles; its per-request log has each response's time in µs.
        latency=$(python3 - "$WORK/h2-$1.log" <<'PY'
import sys
times = sorted(int(cols[2]) for cols in (line.split("\t") for line in open(sys.argv[1])) if len(cols) > 2 and cols[1] != "-1")
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] / 1000
print(f"{pick(0.5):.3f} {pick(0.99):.3f}" if times else "- -")
PY
)
        rm -f "$WORK/h2-$1.log"
        echo "h2-$1 ${rps:-failed} $cpu $latency $(grep -E '^requests:' "$WORK/h2-$1.txt")"
      done
    done | tee -a "$WORK/results.txt"
else
    echo "== HTTP/2: h2load not installed (apt-get install nghttp2-client); skipped"
fi

if [ -n "$MTLS" ]; then
    for pair in "envoy $ENVOY_IP" "swift $SWIFT_IP"; do
        set -- $pair
        for _ in $(seq 1 120); do
            if curl -sf -H "host: echo-$1.bench.svc.cluster.local" "http://$2:$PORT/" >/dev/null 2>&1; then break; fi
            sleep 0.5
        done
        curl -sf -H "host: echo-$1.bench.svc.cluster.local" "http://$2:$PORT/" >/dev/null || { echo "mTLS pair $1 never served traffic"; tail -n 20 "$WORK"/*.log; exit 1; }
    done
    echo "== mutual TLS: client sidecar -> server sidecar (STRICT) -> echo, HTTP/1.1 (wrk -t $THREADS -c $CONNECTIONS -d ${DURATION}s)"
    {
        ENVOY_SERVER_PID=$(pgrep -P "$ENVOY_SERVER_AGENT" envoy | head -1)
        run_wrk mtls-envoy "http://$ENVOY_IP:$PORT/" echo-envoy.bench.svc.cluster.local "$ENVOY_PID" "$ENVOY_SERVER_PID"
        echo "rss-mtls-envoy $(( $(rss "$ENVOY_PID") + $(rss "$ENVOY_SERVER_PID") )) $(( $(hwm "$ENVOY_PID") + $(hwm "$ENVOY_SERVER_PID") ))"
        run_wrk mtls-swift "http://$SWIFT_IP:$PORT/" echo-swift.bench.svc.cluster.local "$SWIFT_AGENT" "$SWIFT_SERVER_AGENT"
        echo "rss-mtls-swift $(( $(rss "$SWIFT_AGENT") + $(rss "$SWIFT_SERVER_AGENT") )) $(( $(hwm "$SWIFT_AGENT") + $(hwm "$SWIFT_SERVER_AGENT") ))"
    } | tee -a "$WORK/results.txt"
fi

# Memory after every load above. Envoy's agent is a second process of the same sidecar (as
# Istio's pilot-agent is); the Swift sidecar is agent and proxy in one process.
{
    echo "rss-envoy $(rss "$ENVOY_PID") $(hwm "$ENVOY_PID") $(uss "$ENVOY_PID") $(( $(rss "$ENVOY_PID") + $(rss "$ENVOY_AGENT") )) $(( $(uss "$ENVOY_PID") + $(uss "$ENVOY_AGENT") ))"
    echo "rss-swift $(rss "$SWIFT_AGENT") $(hwm "$SWIFT_AGENT") $(uss "$SWIFT_AGENT") $(rss "$SWIFT_AGENT") $(uss "$SWIFT_AGENT")"
} >> "$WORK/results.txt"

python3 - "$WORK/results.txt" <<'PY'
import sys
import statistics
runs = {}
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if parts and parts[0] in ("direct", "envoy", "swift", "swift-base", "mtls-envoy", "mtls-swift"):
        runs.setdefault(parts[0], []).append(dict(rps=float(parts[1]), p50=float(parts[2]), p99=float(parts[3]), errors=parts[4], cpu=parts[5]))
    elif parts and parts[0] in ("h2-direct", "h2-envoy", "h2-swift") and parts[1] != "failed":
        runs.setdefault(parts[0], []).append(dict(rps=float(parts[1]), cpu=parts[2], h2p50=parts[3], h2p99=parts[4]))
    elif parts and parts[0].startswith("rss-"):
        values = [int(v) for v in parts[1:]]
        rows[parts[0]] = dict(rss=values[0], hwm=values[1], uss=values[2] if len(values) > 2 else None,
                              pod=values[3] if len(values) > 3 else None, pod_uss=values[4] if len(values) > 4 else None)
def median(values, decimals=1):
    numbers = [float(v) for v in values if v != "-"]
    return f"{statistics.median(numbers):.{decimals}f}" if numbers else "-"
for name, measured in runs.items():
    row = dict(rps=statistics.median(m["rps"] for m in measured), cpu=median(m["cpu"] for m in measured))
    if "h2p99" in measured[0]:
        row.update(p50=median([m["h2p50"] for m in measured], 3), p99=median([m["h2p99"] for m in measured], 3))
    if "p50" in measured[0]:
        row.update(p50=statistics.median(m["p50"] for m in measured), p99=statistics.median(m["p99"] for m in measured),
                   errors=str(sum(int(m["errors"]) for m in measured)))
    rows[name] = row
if any(len(m) > 1 for m in runs.values()):
    print("\nper round (req/s): " + "; ".join(f"{n} " + " ".join(f"{m['rps']:.0f}" for m in ms) for n, ms in runs.items()))
    # Ratios within each round (the proxies ran back to back), less exposed to drift between rounds.
    for label, swift, envoy in (("HTTP/1.1", "swift", "envoy"), ("h2c", "h2-swift", "h2-envoy")):
        if len(runs.get(swift, [])) > 1 and len(runs.get(swift, [])) == len(runs.get(envoy, [])):
            paired = [s["rps"] / e["rps"] for s, e in zip(runs[swift], runs[envoy])]
            print(f"{label} swift/envoy req/s per round: " + " ".join(f"{r:.2f}" for r in paired) + f" (median {statistics.median(paired):.2f}x)")
if runs.get("swift-base") and len(runs["swift-base"]) == len(runs.get("swift", [])):
    pairs = list(zip(runs["swift"], runs["swift-base"]))
    for label, ratio in (("req/s", lambda s, b: s["rps"] / b["rps"]),
                         ("CPU per request", lambda s, b: float(s["cpu"]) / float(b["cpu"]) if "-" not in (s["cpu"], b["cpu"]) else None)):
        paired = [r for r in (ratio(s, b) for s, b in pairs) if r is not None]
        if paired:
            print(f"HTTP/1.1 swift/swift-base {label} per round: " + " ".join(f"{r:.2f}" for r in paired) + f" (median {statistics.median(paired):.2f}x)")
print("\n| target | HTTP/1.1 req/s | p50 ms | p99 ms | non-2xx | proxy CPU µs/req | h2c req/s | h2c p50 ms | h2c p99 ms | h2c CPU µs/req |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for name in ("direct", "envoy", "swift", "swift-base", "mtls-envoy", "mtls-swift"):
    r = rows.get(name)
    if not r: continue
    h2 = rows.get("h2-" + name, {})
    print(f"| {name} | {r['rps']:.0f} | {r['p50']:.3f} | {r['p99']:.3f} | {r['errors']} | {r['cpu']} | {h2.get('rps', '-')} | {h2.get('p50', '-')} | {h2.get('p99', '-')} | {h2.get('cpu', '-')} |")
print("\n| proxy | RSS MiB | peak RSS MiB | private (USS) MiB | sidecar pod RSS MiB | pod USS MiB |")
print("| --- | --- | --- | --- | --- | --- |")
for name in ("envoy", "swift"):
    m = rows.get("rss-" + name)
    if m: print(f"| {name} | {m['rss']} | {m['hwm']} | {m['uss']} | {m['pod']} | {m['pod_uss']} |")
if "envoy" in rows and "swift" in rows:
    e, s = rows["envoy"], rows["swift"]
    print(f"\nratios: swift/envoy req/s = {s['rps']/e['rps']:.2f}x, p99 swift/envoy = {s['p99']/e['p99']:.2f}x", end="")
    if "rss-envoy" in rows and "rss-swift" in rows:
        me, ms = rows["rss-envoy"], rows["rss-swift"]
        print(f", RSS swift/envoy = {ms['rss']/me['rss']:.2f}x (per sidecar pod {ms['pod']/me['pod']:.2f}x, private {ms['pod_uss']/me['pod_uss']:.2f}x)", end="")
    print()
    if s["cpu"] != "-" and e["cpu"] != "-":
        print(f"        proxy CPU per request swift/envoy = {float(s['cpu'])/float(e['cpu']):.2f}x (HTTP/1.1)", end="")
        if "h2-envoy" in rows and "h2-swift" in rows and rows["h2-swift"]["cpu"] != "-" and rows["h2-envoy"]["cpu"] != "-":
            print(f", {float(rows['h2-swift']['cpu'])/float(rows['h2-envoy']['cpu']):.2f}x (h2c)", end="")
        print()
    if "h2-envoy" in rows and "h2-swift" in rows:
        h2e, h2s = rows["h2-envoy"], rows["h2-swift"]
        print(f"        h2c swift/envoy req/s = {h2s['rps']/h2e['rps']:.2f}x", end="")
        if h2s["p99"] != "-" and h2e["p99"] != "-":
            print(f", h2c p99 swift/envoy = {float(h2s['p99'])/float(h2e['p99']):.2f}x", end="")
        print()
    if "direct" in rows:
        d = rows["direct"]
        print(f"        envoy/direct req/s = {e['rps']/d['rps']:.2f}x, swift/direct req/s = {s['rps']/d['rps']:.2f}x")
if "mtls-envoy" in rows and "mtls-swift" in rows:
    e, s = rows["mtls-envoy"], rows["mtls-swift"]
    print(f"mTLS ratios (two sidecars each): swift/envoy req/s = {s['rps']/e['rps']:.2f}x, p99 swift/envoy = {s['p99']/e['p99']:.2f}x", end="")
    if "rss-mtls-envoy" in rows and "rss-mtls-swift" in rows:
        print(f", RSS swift/envoy = {rows['rss-mtls-swift']['rss']/rows['rss-mtls-envoy']['rss']:.2f}x", end="")
    print()
PY
