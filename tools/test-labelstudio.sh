#!/usr/bin/env bash
# End-to-end test of `fastsam serve` as a Label Studio ML backend, against a real Label Studio (README "Label
# Studio"). Installs label-studio (pinned) into .cache/venv-labelstudio, starts it on loopback with sqlite in a
# fresh data dir, starts `fastsam serve` on the tiny committed checkpoint, then runs tools/labelstudio/e2e.py.
# Needs ORT_DYLIB_PATH (tools/setup-ort.sh) and a built target/debug/fastsam.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv=.cache/venv-labelstudio
if ! "$venv/bin/python" -c "import label_studio, label_studio_sdk" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check label-studio==1.23.2
fi
bin="$root/target/debug/fastsam"
model="$root/tests/fixtures/fastsam/fastsam-s-tiny.pt"
image="$root/examples/bus.jpg"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ls_port=$(free_port)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
token=0123456789abcdef0123456789abcdef01234567
export LABEL_STUDIO_BASE_DATA_DIR="$work/ls" ML_BLOCK_LOCAL_IP=false SSRF_PROTECTION_ENABLED=false
export DJANGO_DB=sqlite LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true
# Its only effect: no version check against pypi.org at start (tests stay on loopback).
export APP_WEBSERVER=uwsgi
"$venv/bin/label-studio" start --no-browser --host "http://127.0.0.1:$ls_port" --internal-host 127.0.0.1 \
    -p "$ls_port" --data-dir "$work/ls" --username e2e@example.com --password e2e-password \
    --user-token "$token" --agree-fix-sqlite >"$work/ls.log" 2>&1 &
pids+=($!)
for _ in $(seq 240); do
    curl -fs "http://127.0.0.1:$ls_port/health" >/dev/null 2>&1 && break
    sleep 0.5
done
curl -fs "http://127.0.0.1:$ls_port/health" >/dev/null || { tail -50 "$work/ls.log"; echo "Label Studio did not start"; exit 1; }
# New organisations have legacy tokens off (Label Studio 1.23); the test user's token is one.
"$venv/bin/python" - <<PY
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings.label_studio")
import sys, label_studio; sys.path.insert(0, os.path.dirname(label_studio.__file__))
django.setup()
from jwt_auth.models import JWTSettings
from organizations.models import Organization
for org in Organization.objects.all():
    s, _ = JWTSettings.objects.get_or_create(organization=org)
    s.legacy_api_tokens_enabled = True
    s.save()
PY
LABEL_STUDIO_URL="http://127.0.0.1:$ls_port" LABEL_STUDIO_API_KEY="$token" \
    "$bin" serve --model "$model" --addr 127.0.0.1:0 >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do grep -q "listening on" "$work/serve.log" && break; sleep 0.5; done
backend=$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)
[ -n "$backend" ] || { cat "$work/serve.log"; exit 1; }
"$venv/bin/python" tools/labelstudio/e2e.py "http://127.0.0.1:$ls_port" "$token" "$bin" "$model" "$image" "$backend" \
    || { echo "--- fastsam serve log"; tail -30 "$work/serve.log"; echo "--- Label Studio log"; tail -40 "$work/ls.log"; exit 1; }
