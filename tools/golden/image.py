#!/usr/bin/env python3
"""Golden data for image decoding, resize and letterbox (crates/fastsam/src/image).

Pinned reference: opencv-python 5.0.0.93 (cv2 5.0.0), ultralytics 8.4.190, pillow 13.0.0, numpy 2.x.
Optional tool: cjpeg from libjpeg-turbo-progs (Debian) for the JPEG variants PIL cannot write (arithmetic coding,
restart markers, 4:4:0 and 4:1:1 sampling); without it those files keep their committed bytes.
Run with the reference venv from the repository root:

    .cache/venv-ref/bin/python tools/golden/image.py   (or /work/main/.cache/venv-ref/bin/python)

Writes tests/fixtures/golden/image/:
- synthetic/*: small images made here from a crop of data/images/zidane.jpg (EXIF orientations, bit depths,
  alpha, palettes, subsamplings, other formats, broken files);
- manifest.json: for each synthetic image and every file of ../shared/data/images and ../shared/data/coco/val2017,
  what the reference's `ultralytics.utils.patches.imread` returns (shape and sha256 of the RGB uint8 array, i.e.
  the BGR result flipped with [..., ::-1] and made contiguous; or "error" when it returns None / raises), and
  the reference LetterBox output (same hash convention) at imgsz 1024 auto=True, imgsz 640 auto=True and imgsz
  1024 auto=False, stride 32;
- tensor_1024_auto (data/images only): sha256 of the predictor's fp32 input tensor (little-endian bytes);
- resize.json: sha256 of cv2.resize(INTER_LINEAR) for many (source size, target size) pairs on images that are
  generated from an integer hash (`hash_image` below, reproduced in the Rust tests), so nothing is stored.
"""

import hashlib
import io
import shutil
import subprocess
import json
import os
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ultralytics.data.augment import LetterBox
from ultralytics.utils.patches import imread

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("FASTSAM_SHARED", ROOT.parent / "shared"))
OUT = ROOT / "tests/fixtures/golden/image"
SYN = OUT / "synthetic"

assert cv2.__version__ == "5.0.0", cv2.__version__


def rgb_digest(bgr):
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    return {"shape": list(rgb.shape), "sha256": hashlib.sha256(rgb.tobytes()).hexdigest()}


def reference_read(path):
    try:
        im = imread(str(path))
    except Exception:  # cv2 raises on some refusals (e.g. oversized headers)
        return None
    return None if im is None or im.ndim != 3 or im.shape[2] != 3 else im


def tensor_digest(boxed_bgr):
    """The predictor's preprocess: BHWC uint8 -> BCHW, BGR->RGB flip, .float().div_(255); sha256 of fp32 LE bytes."""
    import torch

    im = torch.from_numpy(boxed_bgr).unsqueeze(0).permute(0, 3, 1, 2).contiguous().flip(1).float().div_(255)
    return {"shape": list(im.shape), "sha256": hashlib.sha256(im.contiguous().numpy().astype("<f4").tobytes()).hexdigest()}


def letterboxes(bgr):
    out = {}
    for key, size, auto in (("1024_auto", 1024, True), ("640_auto", 640, True), ("1024_fixed", 1024, False)):
        out[key] = rgb_digest(LetterBox((size, size), auto=auto, stride=32)(image=bgr))
    return out


# ----------------------------------------------------------------------------------------------- synthetic


def pil_bytes(im, fmt, **kw):
    bio = io.BytesIO()
    im.save(bio, fmt, **kw)
    return bio.getvalue()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def exif_with_orientation(o):
    ex = Image.Exif()
    ex[0x0112] = o
    return ex.tobytes()


def synthetic_images():
    base_bgr = cv2.imread(str(SHARED / "data/images/zidane.jpg"))[200:446, 500:870]
    base = Image.fromarray(np.ascontiguousarray(base_bgr[..., ::-1])).resize((37, 23), Image.BILINEAR)
    arr = np.asarray(base)
    files = {}
    for o in range(1, 9):
        files[f"exif_{o}.jpg"] = pil_bytes(base, "JPEG", quality=90, exif=exif_with_orientation(o))
    files["s444.jpg"] = pil_bytes(base, "JPEG", quality=85, subsampling=0)
    files["s422.jpg"] = pil_bytes(base, "JPEG", quality=85, subsampling=1)
    files["s420.jpg"] = pil_bytes(base, "JPEG", quality=85, subsampling=2)
    files["progressive.jpg"] = pil_bytes(base, "JPEG", quality=85, progressive=True)
    files["grey.jpg"] = pil_bytes(base.convert("L"), "JPEG", quality=85)
    files["cmyk.jpg"] = pil_bytes(base.convert("CMYK"), "JPEG", quality=90)
    whole = files["s420.jpg"]
    files["truncated.jpg"] = whole[: len(whole) // 2]
    files["no_eoi.jpg"] = whole[:-2]
    corrupt = bytearray(whole)
    corrupt[len(whole) // 2 : len(whole) // 2 + 40] = bytes(40)
    files["corrupt.jpg"] = bytes(corrupt)
    files["empty.jpg"] = b""
    files["garbage.jpg"] = bytes(range(256)) * 4

    files.update(cjpeg_variants(arr))
    odd = Image.fromarray(np.asarray(base.resize((41, 27), Image.BICUBIC)))
    files["s420_odd.jpg"] = pil_bytes(odd, "JPEG", quality=80, subsampling=2)

    # PNG: bit depths, alpha, palettes, EXIF.
    wide = (arr.astype(np.uint16) * 257) ^ np.uint16(0x00FF)  # low bytes vary, so >> 8 vs rounding differ
    wide[0, :8, 0] = [0x80FF, 0x7F80, 0xFFFF, 0x0080, 0x00FF, 0x0180, 0x8000, 0x807F]
    files["rgb16.png"] = cv2.imencode(".png", np.ascontiguousarray(wide[..., ::-1]))[1].tobytes()
    files["grey16.png"] = cv2.imencode(".png", np.ascontiguousarray(wide[..., 1]))[1].tobytes()
    rgba = np.dstack([arr, (np.arange(arr.shape[1])[None, :] * 7 % 256).repeat(arr.shape[0], 0)]).astype(np.uint8)
    files["rgba.png"] = pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG")
    files["rgba16.png"] = cv2.imencode(".png", np.dstack([wide[..., ::-1], wide[..., :1]]))[1].tobytes()
    files["grey.png"] = pil_bytes(base.convert("L"), "PNG")
    files["grey_alpha.png"] = pil_bytes(Image.fromarray(rgba[..., [0, 3]], "LA"), "PNG")
    pal = base.convert("P", palette=Image.ADAPTIVE, colors=16)
    files["palette.png"] = pil_bytes(pal, "PNG")
    files["palette_trns.png"] = pil_bytes(pal, "PNG", transparency=3)
    files["palette_4bit.png"] = pil_bytes(pal, "PNG", bits=4)
    files["bit1.png"] = pil_bytes(base.convert("1"), "PNG")
    files["grey_trns.png"] = pil_bytes(base.convert("L"), "PNG", transparency=100)
    files["exif_6.png"] = pil_bytes(base, "PNG", exif=exif_with_orientation(6))
    png = files["rgb16.png"]
    files["truncated.png"] = png[: len(png) * 2 // 3]
    files["no_iend.png"] = png[:-12]
    raw = zlib.compress(b"\0" * 16)
    files["bomb.png"] = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
        + png_chunk(b"IDAT", raw)
        + png_chunk(b"IEND", b"")
    )

    # WebP, BMP, TIFF, GIF.
    files["lossy.webp"] = pil_bytes(base, "WEBP", quality=80)
    files["lossy_large.webp"] = pil_bytes(Image.fromarray(np.ascontiguousarray(base_bgr[::2, ::2, ::-1])), "WEBP", quality=75)
    files["lossless.webp"] = pil_bytes(base, "WEBP", lossless=True)
    files["rgba_exact.webp"] = pil_bytes(Image.fromarray(rgba, "RGBA"), "WEBP", lossless=True, exact=True)
    files["rgba_lossy.webp"] = pil_bytes(Image.fromarray(rgba, "RGBA"), "WEBP", quality=80)
    files["exif_6.webp"] = pil_bytes(base, "WEBP", lossless=True, exif=exif_with_orientation(6))
    files["rgb565.bmp"] = bmp16(arr)
    files["rgb24.bmp"] = pil_bytes(base, "BMP")
    files["rgba32.bmp"] = pil_bytes(Image.fromarray(rgba, "RGBA"), "BMP")
    files["palette8.bmp"] = pil_bytes(pal, "BMP")
    files["bit1.bmp"] = pil_bytes(base.convert("1"), "BMP")
    files["grey8.bmp"] = pil_bytes(base.convert("L"), "BMP")
    files["rgb.tif"] = pil_bytes(base, "TIFF")
    files["rgb_lzw.tif"] = pil_bytes(base, "TIFF", compression="tiff_lzw")
    files["rgba.tif"] = pil_bytes(Image.fromarray(rgba, "RGBA"), "TIFF")
    files["grey.tif"] = pil_bytes(base.convert("L"), "TIFF")
    files["cmyk.tif"] = pil_bytes(base.convert("CMYK"), "TIFF")
    files["rgb16.tif"] = cv2.imencode(".tiff", np.ascontiguousarray(wide[..., ::-1]))[1].tobytes()
    files["rgb16_tiff.bin"] = files["rgb16.tif"]  # TIFF content under another name: read as IMREAD_COLOR
    files["rgba_tiff.bin"] = files["rgba.tif"]
    files["grey16.tif"] = cv2.imencode(".tiff", np.ascontiguousarray(wide[..., 1]))[1].tobytes()
    files["rgba16.tif"] = cv2.imencode(".tiff", np.dstack([wide[..., ::-1], wide[..., :1]]))[1].tobytes()
    files["rgba16_tiff.bin"] = files["rgba16.tif"]
    files["grey_alpha.tif"] = pil_bytes(Image.fromarray(rgba[..., [0, 3]], "LA"), "TIFF")
    files["palette.tif"] = pil_bytes(pal, "TIFF")
    files["bit1.tif"] = pil_bytes(base.convert("1"), "TIFF")
    files["jpeg.tif"] = pil_bytes(base, "TIFF", compression="jpeg")
    files["exif_6.tif"] = pil_bytes(base, "TIFF", exif=exif_with_orientation(6))
    files["exif_6_tiff.bin"] = files["exif_6.tif"]
    files["plain.gif"] = pil_bytes(pal, "GIF")
    files["transparent.gif"] = pil_bytes(pal, "GIF", transparency=3, background=5)
    files["offset_frame.gif"] = gif_with_offset_frame(pal)
    return files


def cjpeg_variants(arr):
    """JPEG encodings PIL cannot make, through cjpeg (kept from the committed files when cjpeg is absent)."""
    variants = {
        "arithmetic.jpg": ["-arithmetic"],
        "restart.jpg": ["-restart", "1", "-sample", "2x2"],
        "s440.jpg": ["-sample", "1x2"],
        "s411.jpg": ["-sample", "4x1"],
    }
    cjpeg = shutil.which("cjpeg")
    out = {}
    for name, args in variants.items():
        if cjpeg is None:
            out[name] = (SYN / name).read_bytes()
            continue
        ppm = b"P6 %d %d 255\n" % (arr.shape[1], arr.shape[0]) + arr.tobytes()
        out[name] = subprocess.run([cjpeg, "-quality", "85", *args], input=ppm, capture_output=True, check=True).stdout
    return out


def bmp16(arr):
    """A BI_BITFIELDS RGB565 BMP (PIL writes no 16-bit BMP)."""
    h, w = arr.shape[:2]
    a = arr.astype(np.uint16)
    px = ((a[..., 0] >> 3) << 11) | ((a[..., 1] >> 2) << 5) | (a[..., 2] >> 3)
    row = (w * 2 + 3) // 4 * 4
    body = b"".join(px[y].astype("<u2").tobytes().ljust(row, b"\0") for y in range(h - 1, -1, -1))
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 16, 3, len(body), 2835, 2835, 0, 0)
    masks = struct.pack("<III", 0xF800, 0x07E0, 0x001F)
    offset = 14 + len(info) + len(masks)
    return b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + masks + body


def gif_with_offset_frame(pal):
    """A GIF whose first frame covers only part of the logical screen (the rest shows the background)."""
    small = pil_bytes(pal.crop((0, 0, 20, 12)), "GIF", background=7)
    data = bytearray(small)
    data[6:10] = struct.pack("<HH", 37, 23)  # logical screen
    at = data.index(b"\x2c", 13 + 3 * (2 ** ((data[10] & 7) + 1)))  # first image descriptor after the palette
    data[at + 1 : at + 5] = struct.pack("<HH", 9, 5)  # frame left, top
    return bytes(data)


# ------------------------------------------------------------------------------------------------- resize


MASK = (1 << 64) - 1


def hash_image(seed, h, w):
    """Pseudo-random RGB image: splitmix64 of (seed, index); every third seed is biased bright (clamping)."""
    i = np.arange(h * w * 3, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64((seed * 0x9E3779B97F4A7C15) & MASK) + i * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    v = (z >> np.uint64(56)).astype(np.uint8)
    if seed % 3 == 0:
        v |= 0xE0
    return v.reshape(h, w, 3)


def resize_cases():
    rng = np.random.default_rng(20261125)
    cases = []
    for k in range(240):
        kind = k % 6
        if kind == 0:  # anything small
            sw, sh, dw, dh = (int(v) for v in rng.integers(1, 120, 4))
        elif kind == 1:  # downscale
            sw, sh = (int(v) for v in rng.integers(60, 400, 2))
            r = rng.uniform(0.15, 1.0)
            dw, dh = max(1, round(sw * r)), max(1, round(sh * r))
        elif kind == 2:  # upscale
            sw, sh = (int(v) for v in rng.integers(1, 100, 2))
            r = rng.uniform(1.0, 6.0)
            dw, dh = max(1, round(sw * r)), max(1, round(sh * r))
        elif kind == 3:  # exact 2x up or down (OpenCV special-cases both)
            sw, sh = (int(v) for v in rng.integers(1, 150, 2))
            dw, dh = 2 * sw, 2 * sh
            if k % 12 == 3:
                sw, sh, dw, dh = dw, dh, sw, sh
        elif kind == 4:  # one axis unchanged
            sw, sh, d = (int(v) for v in rng.integers(1, 200, 3))
            dw, dh = (sw, d) if k % 2 else (d, sh)
        else:  # thin
            sw, sh = int(rng.integers(1, 4)), int(rng.integers(1, 300))
            dw, dh = int(rng.integers(1, 40)), int(rng.integers(1, 300))
            if k % 12 == 5:
                sw, sh, dw, dh = sh, sw, dh, dw
        cases.append((k, sw, sh, dw, dh))
    cases += [(1000, 2250, 1500, 1024, 683), (1001, 640, 512, 1024, 819), (1002, 810, 1080, 768, 1024)]
    out = []
    for seed, sw, sh, dw, dh in cases:
        img = hash_image(seed, sh, sw)
        res = cv2.resize(img, (dw, dh), interpolation=cv2.INTER_LINEAR)
        out.append({"seed": seed, "src": [sw, sh], "dst": [dw, dh], "sha256": hashlib.sha256(res.tobytes()).hexdigest()})
    return out


def main():
    SYN.mkdir(parents=True, exist_ok=True)
    files = synthetic_images()  # before clearing: without cjpeg some files come from the committed ones
    for old in SYN.iterdir():
        old.unlink()
    for name, data in files.items():
        (SYN / name).write_bytes(data)
    entries = []
    sources = [("fixture", p.relative_to(OUT).as_posix(), p) for p in sorted(SYN.iterdir())]
    for sub in ("data/images", "data/coco/val2017"):
        sources += [("shared", p.relative_to(SHARED).as_posix(), p) for p in sorted((SHARED / sub).iterdir())]
    same_as_imdecode = 0
    for root, rel, path in sources:
        im = reference_read(path)
        entry = {"root": root, "file": rel}
        if im is None:
            entry["decode"] = "error"
        else:
            entry["decode"] = rgb_digest(im)
            entry["letterbox"] = letterboxes(im)
            if root == "shared" and rel.startswith("data/images/"):
                entry["tensor_1024_auto"] = tensor_digest(LetterBox((1024, 1024), auto=True, stride=32)(image=im))
            raw = np.fromfile(path, np.uint8)
            plain = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
            same_as_imdecode += plain is not None and plain.shape == im.shape and bool((plain == im).all())
        entries.append(entry)
    manifest = {
        "reference": f"opencv-python {cv2.__version__} via ultralytics.utils.patches.imread; LetterBox stride 32",
        "hash": "sha256 of the HxWx3 RGB uint8 array (reference BGR flipped), row-major",
        "images": entries,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (OUT / "resize.json").write_text(json.dumps({"cases": resize_cases()}, indent=0) + "\n")
    decoded = sum(e["decode"] != "error" for e in entries)
    print(f"{len(entries)} images ({decoded} decoded, {same_as_imdecode} equal to plain cv2.imdecode)", file=sys.stderr)


if __name__ == "__main__":
    main()
