"""Crafted hostile checkpoints for crates/fastsam/tests/hostile_checkpoints.rs -> tests/fixtures/hostile/.

Pinned: Python 3.11 (zipfile, struct) and Pillow 13.0.0 (the animated images); the checkpoint templates are
torch.save archives already committed under tests/fixtures/golden/weights (torch 2.15.0). Nothing here unpickles
anything.

Run: /work/main/.cache/venv-ref/bin/python tools/golden/hostile.py
"""

import struct
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "tests/fixtures/golden/weights"
OUT = ROOT / "tests/fixtures/hostile"
CMD = b"touch /tmp/pwned"


def rewrite(template: Path, out: Path, replace: dict, compress: dict = (), drop=()):
    """Copies a torch.save archive, replacing/deflating/dropping entries (paths relative to its prefix)."""
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(out, "w") as dst:
        prefix = src.namelist()[0].split("/")[0] + "/"
        for info in src.infolist():
            rel = info.filename[len(prefix):]
            if rel in drop:
                continue
            data = replace.get(rel, src.read(info))
            method = zipfile.ZIP_DEFLATED if rel in compress else zipfile.ZIP_STORED
            dst.writestr(zipfile.ZipInfo(info.filename), data, compress_type=method)
        for rel, data in replace.items():
            if prefix + rel not in src.namelist():
                method = zipfile.ZIP_DEFLATED if rel in compress else zipfile.ZIP_STORED
                dst.writestr(zipfile.ZipInfo(prefix + rel), data, compress_type=method)


def short_str(s: bytes, proto: int) -> bytes:
    return (b"\x8c" + bytes([len(s)]) + s + b"\x94") if proto >= 4 else (b"X" + struct.pack("<I", len(s)) + s)


def evil_pickle(module: bytes, name: bytes, arg: bytes, proto: int) -> bytes:
    """{'model': module.name(arg)} with GLOBAL (protocol 2) or STACK_GLOBAL (protocol 4)."""
    out = b"\x80" + bytes([proto]) + b"}" + short_str(b"model", proto)
    if proto >= 4:
        out += short_str(module, proto) + short_str(name, proto) + b"\x93"
    else:
        out += b"c" + module + b"\n" + name + b"\n"
    return out + short_str(arg, proto) + b"\x85Rs."


EVIL = [
    (b"posix", b"system", CMD),
    (b"os", b"system", CMD),
    (b"subprocess", b"Popen", CMD),
    (b"subprocess", b"check_output", CMD),
    (b"builtins", b"eval", b"__import__('os').system('" + CMD + b"')"),
    (b"builtins", b"exec", b"import os; os.system('" + CMD + b"')"),
]


def patch_sizes(path: Path, entry_suffix: bytes, claimed: int):
    """Makes one stored entry claim `claimed` bytes (compressed and not) in both zip headers."""
    raw = bytearray(path.read_bytes())
    for sig, size_at, name_len_at, name_at in ((b"PK\x03\x04", 18, 26, 30), (b"PK\x01\x02", 20, 28, 46)):
        i = raw.find(sig)
        while i >= 0:
            n = struct.unpack_from("<H", raw, i + name_len_at)[0]
            if bytes(raw[i + name_at:i + name_at + n]).endswith(entry_suffix):
                struct.pack_into("<II", raw, i + size_at, claimed, claimed)
            i = raw.find(sig, i + 4)
    path.write_bytes(bytes(raw))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    template = WEIGHTS / "evil_system.pt"
    for module, name, arg in EVIL:
        for proto in (2, 4):
            out = OUT / f"evil_{module.decode()}_{name.decode()}_p{proto}.pt"
            rewrite(template, out, {"data.pkl": evil_pickle(module, name, arg, proto)})

    # {'w': tensor of 77 floats} whose storage and size claim 2^36 elements (256 GiB): must fail before allocating.
    sd = WEIGHTS / "short_storage.pt"
    with zipfile.ZipFile(sd) as z:
        pkl = z.read(z.namelist()[0].split("/")[0] + "/data.pkl")
    assert pkl.count(b"Kd") >= 1, pkl  # short_storage claims 100 elements: BININT1 100
    huge = pkl.replace(b"Kd", b"\x8a\x05\x00\x00\x00\x00\x10")
    rewrite(sd, OUT / "huge_numel.pt", {"data.pkl": huge})

    # Zip bombs: 64 MiB of zeros deflated (~64 KiB) as the pickle and as a storage; and a stored data.pkl whose
    # headers claim ~4 GiB.
    zeros = bytes(64 << 20)
    rewrite(template, OUT / "bomb_deflated_pkl.pt", {"data.pkl": zeros}, compress={"data.pkl"})
    rewrite(WEIGHTS / "strided_ok.pt", OUT / "bomb_deflated_storage.pt", {"data/0": zeros}, compress={"data/0"})
    claims = OUT / "bomb_claims_4gib.pt"
    rewrite(template, claims, {})
    patch_sizes(claims, b"/data.pkl", 0xFFFF_FFF0)


def images():
    """Two-frame animations (the reference's cv2.imdecode reads the first frame) and a 1x1 PNG."""
    from PIL import Image

    frames = [Image.new("RGB", (40, 24), c) for c in ((200, 30, 30), (30, 30, 200))]
    for y in range(6, 18):
        for x in range(10, 30):
            frames[0].putpixel((x, y), (250, 250, 250))
    frames[0].save(OUT / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(OUT / "animated.webp", save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
    Image.new("RGB", (1, 1), (10, 200, 30)).save(OUT / "one_pixel.png")


if __name__ == "__main__":
    main()
    images()
