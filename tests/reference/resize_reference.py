#!/usr/bin/env python3
"""Pillow reference pixels for the model-input resize (tests/fixtures/resize/reference.json).

The reference preprocessing of a model trained with torchvision is Pillow's bicubic resize of the
shorter side followed by a centre crop; Lookalike's resizer (core/resize.ts) and server
decoder (server/embedding/sharp-decoder.ts) are tested against what Pillow itself produces for the
small source pictures in tests/fixtures/resize/. The geometry is the manifest's (`planResize` in
core/preprocess.ts): shorter side to 256 with the longer side truncated, centre crop 224
with offsets floored.

Run (from the repository root):

    python3 -m venv /tmp/pilvenv && /tmp/pilvenv/bin/pip install pillow numpy
    /tmp/pilvenv/bin/python tests/reference/resize_reference.py            # reference.json
    /tmp/pilvenv/bin/python tests/reference/resize_reference.py --sources  # sources too

`--sources` regenerates the pictures first: generated ones from fixed formulas and seeds, the photo
crops from /usr/share/darknet/data/dog.jpg (Debian package `darknet`). Commit the sources and the
JSON together; the JSON records the Pillow version it came from.
"""

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "resize"
PHOTO = Path("/usr/share/darknet/data/dog.jpg")
SHORTER_SIDE = 256
CROP = 224
SAMPLES = 300


def gradient(w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / (w - 1)
    g = 255 * y / (h - 1)
    b = 127.5 + 100 * np.sin((x + 2 * y) / 5)
    return np.stack([r, g, b], -1)


def checker(w, h, cell):
    y, x = np.mgrid[0:h, 0:w]
    on = ((x // cell) + (y // cell)) % 2 == 1
    return np.where(on[..., None], [230, 40, 20], [15, 60, 240])


def scene(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    channels = [
        110 + 70 * np.sin(x * rng.uniform(0.05, 0.3) + y * rng.uniform(-0.2, 0.2) + c)
        for c in range(3)
    ]
    return np.stack(channels, -1)


def stripes(w, h):
    y, x = np.mgrid[0:h, 0:w]
    r = np.where(x % 2 == 0, 250, 5) + 0 * y
    g = (x * 15) % 256 + 0 * y
    b = (y * 3) % 256 + 0 * x
    return np.stack([r, g, b], -1)


def noise(w, h, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3))


def save(name, pixels):
    Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8), "RGB").save(
        FIXTURES / name, optimize=True
    )


def make_sources():
    """Small pictures that enlarge (the shorter side under 256) and a few that shrink."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    save("gradient-40x30.png", gradient(40, 30))
    save("checker-100x150.png", checker(100, 150, 5))
    save("scene-255x300.png", scene(255, 300, 1))
    save("stripes-17x200.png", stripes(17, 200))
    save("noise-40x30.png", noise(40, 30, 2))
    save("checker-1000x700.png", checker(1000, 700, 7))
    save("checker-2000x1500.png", checker(2000, 1500, 3))
    save("gradient-640x480.png", gradient(640, 480))
    photo = Image.open(PHOTO).convert("RGB")
    photo.crop((120, 200, 280, 320)).save(FIXTURES / "photo-160x120.png", optimize=True)
    photo.crop((100, 100, 676, 532)).save(FIXTURES / "photo-576x432.jpg", quality=90)


def plan(w, h):
    """planResize for shortest-edge 256, centre crop 224."""
    if w <= h:
        rw, rh = SHORTER_SIDE, SHORTER_SIDE * h // w
    else:
        rw, rh = SHORTER_SIDE * w // h, SHORTER_SIDE
    return rw, rh, (rw - CROP) // 2, (rh - CROP) // 2


def sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).hexdigest()


def reference(path):
    source = Image.open(path).convert("RGB")
    w, h = source.size
    rw, rh, left, top = plan(w, h)
    resized = np.asarray(source.resize((rw, rh), Image.BICUBIC))
    crop = resized[top : top + CROP, left : left + CROP]
    # Corners and edges of the resized picture (where border handling shows), then random pixels.
    rng = np.random.default_rng(7)
    points = [(0, 0), (rw - 1, 0), (0, rh - 1), (rw - 1, rh - 1)]
    points += [(int(x), 0) for x in rng.integers(0, rw, 12)] + [(0, int(y)) for y in rng.integers(0, rh, 12)]
    points += [(rw - 1, int(y)) for y in rng.integers(0, rh, 12)] + [(int(x), rh - 1) for x in rng.integers(0, rw, 12)]
    while len(points) < SAMPLES // 2:
        points.append((int(rng.integers(0, rw)), int(rng.integers(0, rh))))
    # Half inside the crop, so each test of the model input has enough to compare.
    while len(points) < SAMPLES:
        points.append((left + int(rng.integers(0, CROP)), top + int(rng.integers(0, CROP))))
    return {
        "file": path.name,
        "width": w,
        "height": h,
        "resizeWidth": rw,
        "resizeHeight": rh,
        "crop": {"left": left, "top": top, "width": CROP, "height": CROP},
        "sourceSha256": sha256(np.asarray(source)),
        "resizedSha256": sha256(resized),
        "cropSha256": sha256(crop),
        "cropMean": [round(float(v), 4) for v in crop.reshape(-1, 3).mean(0)],
        "samples": [[x, y, *map(int, resized[y, x])] for x, y in points],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", action="store_true", help="regenerate the source pictures")
    if parser.parse_args().sources:
        make_sources()
    cases = [reference(p) for p in sorted(FIXTURES.iterdir()) if p.suffix in (".png", ".jpg")]
    out = {
        "generator": "tests/reference/resize_reference.py",
        "pillow": PIL.__version__,
        "method": "Image.resize((resizeWidth, resizeHeight), Image.BICUBIC), then the crop",
        "samples": "[x, y, r, g, b] of the full resized picture",
        "cases": cases,
    }
    # One line per case keeps the file short and its diffs readable.
    head = json.dumps({k: v for k, v in out.items() if k != "cases"}, indent=1)[:-2]
    lines = ",\n  ".join(json.dumps(c, separators=(",", ":")) for c in cases)
    (FIXTURES / "reference.json").write_text(f'{head},\n "cases": [\n  {lines}\n ]\n}}\n')
    print(f"{len(cases)} cases → {FIXTURES / 'reference.json'}")


if __name__ == "__main__":
    main()
