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
  if ! python3 -m pip --version >/dev/null 2>&1; then
    # Debian's python3 comes without pip; it is one package away.
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "installing python3-pip (needed to fetch the onnxruntime wheel)" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >&2
    else
      echo "error: python3 has no pip; install it (e.g. 'sudo apt-get install python3-pip') or set ORT_DYLIB_PATH" >&2
      exit 1
    fi
  fi
  rm -rf "$dest"
  # --target installs only the wheel's files into our folder; nothing of the system Python changes.
  export PIP_BREAK_SYSTEM_PACKAGES=1
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$dest" "onnxruntime==$ORT_VERSION" >&2
  touch "$dest/.version-$ORT_VERSION"
fi
lib
