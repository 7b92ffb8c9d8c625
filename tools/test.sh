#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls exactly this script).
# Needs only cargo and python3: it installs what the tests need (ONNX Runtime's shared library from the
# onnxruntime PyPI wheel) into ignored folders of the repo, idempotently, then runs every check.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# A one-off run gains nothing from incremental caches, and they would add ~0.9 GB to target/.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n==> %s\n' "$*"; }

step "ONNX Runtime (PyPI wheel → .cache/onnxruntime)"
ORT_DYLIB_PATH="$(tools/setup-ort.sh)"
export ORT_DYLIB_PATH
echo "$ORT_DYLIB_PATH"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test"
cargo test --workspace --no-fail-fast

step "editor in a browser (Debian chromium + playwright-core)"; tools/setup-browser.sh >/dev/null; cargo build --quiet -p fastsam-cli; FASTSAM_BIN="$root/target/debug/fastsam" node --test tools/browser-test/editor.test.mjs
step "Label Studio end to end (label-studio 1.23.2 → .cache/venv-labelstudio)"; cargo build --quiet -p fastsam-cli; tools/test-labelstudio.sh
step "Python package (pip install ./crates/fastsam-py + pinned pytest/pillow/ray → .cache/venv-py)"; tools/test-python.sh
