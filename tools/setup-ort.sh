#!/usr/bin/env bash
# Installs ONNX Runtime's shared library from the `onnxruntime` PyPI wheel into .cache/onnxruntime
# (idempotent) and prints the library's path. fastsam finds it there by itself; users who installed
# onnxruntime another way can point ORT_DYLIB_PATH at their libonnxruntime.so instead.
set -euo pipefail
ORT_VERSION="${ORT_VERSION:-1.31.1}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/onnxruntime"
lib() { ls "$dest"/onnxruntime/capi/libonnxruntime.so* 2>/dev/null | head -n1; }
if [ -z "$(lib)" ] || [ ! -f "$dest/.version-$ORT_VERSION" ]; then
  rm -rf "$dest"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$dest" "onnxruntime==$ORT_VERSION" >&2
  touch "$dest/.version-$ORT_VERSION"
fi
lib
