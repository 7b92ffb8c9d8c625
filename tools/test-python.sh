#!/usr/bin/env bash
# The Python package's tests (crates/fastsam-py/tests, pytest): installs the pinned test requirements and the
# package (`pip install ./crates/fastsam-py`, as the README says) into .cache/venv-py, then runs them against
# the CLI. Needs ORT_DYLIB_PATH (tools/setup-ort.sh) for the CLI; builds target/debug/fastsam.
#
# CI builds the extension in the dev profile into the workspace's target/ (the dependencies are already built
# there, and optimised), not in release as a plain `pip install` does: minutes less on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv=.cache/venv-py
requirements=crates/fastsam-py/tests/requirements.txt
stamp="$venv/.requirements-$(sha256sum "$requirements" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    touch "$stamp"
fi
cargo build --quiet -p fastsam-cli
PATH="$root/$venv/bin:$PATH" CARGO_TARGET_DIR="$root/target" MATURIN_PEP517_ARGS="--profile dev" \
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall \
    ./crates/fastsam-py
# The tests run from outside the source tree, so that `import fastsam_rs` is the installed package.
cd crates/fastsam-py/tests
FASTSAM_BIN="$root/target/debug/fastsam" RAY_USAGE_STATS_ENABLED=0 \
    "$root/$venv/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning .
