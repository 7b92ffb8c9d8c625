#!/usr/bin/env bash
# The main job end to end: build fastsam, get ONNX Runtime, segment an image, write JSON and an overlay.
#   tools/demo.sh [IMAGE] [MODEL]
# IMAGE defaults to examples/bus.jpg. MODEL defaults to $FASTSAM_MODEL, else to the committed tiny
# random-weight fixture (real FastSAM weights cannot be downloaded on every machine; pass FastSAM-s.pt
# or FastSAM-x.pt to get meaningful masks).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
image="${1:-examples/bus.jpg}"
model="${2:-${FASTSAM_MODEL:-tests/fixtures/fastsam/fastsam-s-tiny.pt}}"

ORT_DYLIB_PATH="$(tools/setup-ort.sh)"
export ORT_DYLIB_PATH
cargo build --release --quiet -p fastsam-cli

mkdir -p out
stem="$(basename "${image%.*}")"
target/release/fastsam segment "$image" --model "$model" --json "out/$stem.json" --overlay "out/$stem.png"
echo "wrote out/$stem.json ($(python3 -c "import json,sys;print(len(json.load(open(sys.argv[1]))['annotations']))" "out/$stem.json") masks) and out/$stem.png"
