#!/usr/bin/env bash
# Reference text-prompt selections for the Rust test crates/fastsam/tests/clip_text_select.rs, made with a tiny
# FastSAM fixture (default tests/fixtures/fastsam/fastsam-s-tiny.pt, or $CKPT; seg_s/bus.text.json came from
# CKPT=tests/fixtures/golden/graph/seg_s.pt) and the tiny CLIP
# (tests/fixtures/clip/clip-tiny.pt) by tools/fixtures/clip/text_prompts.py (pinned versions named there:
# ultralytics 8.4.190, openai-clip 1.0.1, torch 2.15.0, torchvision 0.29.2, pillow 13.0.0, opencv-python 5.0.0.93).
# It needs the FastSAM reference runner tools/fixtures/reference.py (branch h-fixtures); point
# FASTSAM_FIXTURE_TOOLS at another checkout's tools/fixtures if this one lacks it. Run from the repository root:
#   PY=/work/main/.cache/venv-ref/bin/python tools/golden/clip_select.sh
set -euo pipefail
PY="${PY:-python3}"
out=tests/fixtures/golden/clip-encoders/select
"$PY" tools/fixtures/clip/text_prompts.py "${CKPT:-tests/fixtures/fastsam/fastsam-s-tiny.pt}" --out "$out" \
  --everything "$out/everything-not-committed" "$@"
