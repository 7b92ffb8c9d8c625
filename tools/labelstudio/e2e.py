"""End-to-end test against a real Label Studio: interactive annotation through Label Studio's own API, with
`fastsam serve` connected as its ML backend; the returned brush region, decoded by the SDK's decoder, must equal
the mask `fastsam segment` gives for the same prompt. Run by tools/test-labelstudio.sh (which installs Label
Studio into .cache/ and starts it); prints the latency of an interactive click on a cached task.

Usage: e2e.py LS_URL TOKEN FASTSAM_BIN MODEL IMAGE BACKEND_URL
"""

import json
import statistics
import subprocess
import sys
import time

import numpy as np
import requests
from label_studio_sdk.converter.brush import decode_rle

LS, TOKEN, FASTSAM, MODEL, IMAGE = sys.argv[1:6]
AUTH = {"Authorization": f"Token {TOKEN}"}

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <BrushLabels name="brush" toName="image"><Label value="Bus" background="#ff0000"/></BrushLabels>
  <KeyPointLabels name="kp" toName="image" smart="true"><Label value="Bus" smart="true"/></KeyPointLabels>
  <RectangleLabels name="rect" toName="image" smart="true"><Label value="Bus" smart="true"/></RectangleLabels>
</View>"""


def api(method, path, **kw):
    r = requests.request(method, LS + path, headers=AUTH, timeout=120, **kw)
    if r.status_code >= 400:
        sys.exit(f"{method} {path}: HTTP {r.status_code}: {r.text[:500]}")
    return r.json() if r.content else None


def coco_rle_to_mask(rle):
    """COCO compressed RLE (column-major counts) → boolean HxW array (pycocotools' rleFrString)."""
    h, w = rle["size"]
    s, counts, i = rle["counts"], [], 0
    while i < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[i]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            i += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    flat = np.zeros(h * w, dtype=bool)
    pos, val = 0, False
    for n in counts:
        flat[pos : pos + n] = val
        pos += n
        val = not val
    return flat.reshape(w, h).T


def cli_mask(*prompt):
    out = subprocess.run([FASTSAM, "segment", IMAGE, "--model", MODEL, *prompt], check=True, capture_output=True)
    anns = json.loads(out.stdout)["annotations"]
    assert len(anns) >= 1, f"the CLI selected nothing for {prompt}"
    masks = [coco_rle_to_mask(a["segmentation"]) for a in anns]
    return np.logical_or.reduce(masks)


def main(backend_url):
    project = api("POST", "/api/projects", json={"title": "fastsam e2e", "label_config": CONFIG})
    with open(IMAGE, "rb") as f:
        api("POST", f"/api/projects/{project['id']}/import", files={"file": ("bus.jpg", f, "image/jpeg")})
    task = api("GET", f"/api/tasks?project={project['id']}")
    task = (task["tasks"] if isinstance(task, dict) else task)[0]
    print("task image:", task["data"]["image"])
    ml = api("POST", "/api/ml", json={"url": backend_url, "project": project["id"], "is_interactive": True,
                                      "title": "FastSAM"})
    state = api("GET", f"/api/ml/{ml['id']}")
    assert state["state"] == "CO", f"the ML backend did not connect: {state}"
    width, height = 810, 1080

    def click(context):
        started = time.perf_counter()
        r = api("POST", f"/api/ml/{ml['id']}/interactive-annotating", json={"task": task["id"], "context": context})
        elapsed = time.perf_counter() - started
        assert "data" in r, f"Label Studio reported: {r}"
        return r["data"]["result"], elapsed

    def region_mask(result):
        assert len(result) == 1, f"expected one region, got {len(result)}"
        region = result[0]
        assert region["type"] == "brushlabels" and region["value"]["format"] == "rle", region["type"]
        assert region["value"]["brushlabels"] == ["Bus"] and region["from_name"] == "brush"
        assert (region["original_width"], region["original_height"]) == (width, height)
        rgba = decode_rle(region["value"]["rle"]).reshape(height, width, 4)
        return rgba[:, :, 3] > 0

    px, py = 740, 470
    keypoint = {"result": [{
        "type": "keypointlabels", "from_name": "kp", "to_name": "image", "is_positive": True,
        "original_width": width, "original_height": height, "image_rotation": 0,
        "value": {"x": px * 100 / width, "y": py * 100 / height, "width": 0.5, "keypointlabels": ["Bus"]},
    }]}
    result, first = click(keypoint)
    expected = cli_mask("--point", f"{px},{py}", "--merge")
    got = region_mask(result)
    assert got.sum() > 0 and np.array_equal(got, expected), f"keypoint: {got.sum()} px vs CLI {expected.sum()} px"
    print(f"keypoint: region of {got.sum()} px equals `fastsam segment --point {px},{py} --merge`")

    x1, y1, x2, y2 = 670, 420, 810, 600
    rect = {"result": [{
        "type": "rectanglelabels", "from_name": "rect", "to_name": "image",
        "original_width": width, "original_height": height, "image_rotation": 0,
        "value": {"x": x1 * 100 / width, "y": y1 * 100 / height, "width": (x2 - x1) * 100 / width,
                  "height": (y2 - y1) * 100 / height, "rotation": 0, "rectanglelabels": ["Bus"]},
    }]}
    result, _ = click(rect)
    expected = cli_mask("--box", f"{x1},{y1},{x2},{y2}")
    got = region_mask(result)
    assert got.sum() > 0 and np.array_equal(got, expected), f"rectangle: {got.sum()} px vs CLI {expected.sum()} px"
    print(f"rectangle: region of {got.sum()} px equals `fastsam segment --box {x1},{y1},{x2},{y2}`")

    times = [click(keypoint)[1] for _ in range(20)]
    print(f"interactive click through Label Studio: first (fetch + segment) {first * 1000:.0f} ms; cached task: "
          f"median {statistics.median(times) * 1000:.1f} ms, min {min(times) * 1000:.1f} ms, "
          f"max {max(times) * 1000:.1f} ms over {len(times)} clicks")


if __name__ == "__main__":
    main(sys.argv[6])
