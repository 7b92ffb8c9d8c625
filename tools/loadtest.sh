#!/usr/bin/env bash
# Bounded load test on loopback (not part of CI): starts the release server with the tiny test model, uploads
# one image, then runs wrk with 64 connections for 30 s against (a) the select endpoint of that image and
# (b) the upload endpoint with a real image. Prints each run's status histogram (only 200/429/503 are
# acceptable), requests/s, p50/p99 latency, and the server's RSS and peak RSS (VmHWM) before and after.
#
#   tools/loadtest.sh [IMAGE]      (needs wrk: apt-get install wrk)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
image="${1:-$root/../shared/data/images/bus.jpg}"
model="$root/tests/fixtures/fastsam/fastsam-s-tiny.pt"
duration="${DURATION:-30s}"
connections="${CONNECTIONS:-64}"
port="${PORT:-18089}"
base="http://127.0.0.1:$port"
work="$(mktemp -d)"
command -v wrk >/dev/null || { echo "error: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$("$root/tools/setup-ort.sh")}"
cargo build --release -p fastsam-cli --manifest-path "$root/Cargo.toml" >&2
"$root/target/release/fastsam" serve --model "$model" --addr "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.2; done

memory() { grep -E '^Vm(RSS|HWM)' "/proc/$server/status" | tr -s ' \t' ' ' | paste -sd' '; }

id="$(curl -fs -H 'Content-Type: application/octet-stream' --data-binary "@$image" "$base/v1/images" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
echo "uploaded $(basename "$image") as $id; server memory: $(memory)"

# wrk runs one Lua state per thread: each counts its statuses, `done` adds them up.
cat >"$work/report.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(total) do table.insert(parts, code .. ": " .. n) end
  table.sort(parts)
  local secs = summary.duration / 1e6
  io.write(string.format("statuses {%s}; %d requests in %.1f s = %.1f req/s; socket errors %d connect, %d read, %d write, %d timeout\n",
    table.concat(parts, ", "), summary.requests, secs, summary.requests / secs,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
  io.write(string.format("latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
LUA
cat >"$work/select.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"points":[[400,600]],"labels":[1]}'
wrk.path = "/v1/images/$id/select"
dofile("$work/report.lua")
LUA
cat >"$work/upload.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
local f = assert(io.open("$image", "rb"))
wrk.body = f:read("*all")
f:close()
wrk.path = "/v1/images"
dofile("$work/report.lua")
LUA

for run in select upload; do
  echo "== $run: $connections connections, $duration"
  wrk -t2 -c"$connections" -d"$duration" --timeout 30s -s "$work/$run.lua" "$base" | sed -n '/^statuses/,$p'
  echo "server memory after $run: $(memory)"
done
curl -fs "$base/healthz" && echo && echo "server still answers"
