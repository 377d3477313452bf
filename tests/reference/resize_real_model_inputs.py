#!/usr/bin/env python3
"""Pictures and their Pillow-preprocessed model inputs, to compare embeddings with real weights.

For each photo given, writes to OUT_DIR: enlarged cases (a random 60–100 % crop scaled so its
shorter side is 40–255 px, `enl-*`), moderately shrunk ones (shorter side 300–1000, `red-*`), and
the photo itself at full size (`full-*`), each as PNG (so every decoder reads the same pixels) plus
`<name>.pil`: the raw 224×224 RGB model input Pillow gives it (bicubic resize of the shorter side
to 256, centre crop 224 with offsets floored, as the manifests say). Then
`npx tsx tests/reference/resize-real-model.ts OUT_DIR` reports embedding cosines.

    /tmp/pilvenv/bin/python tests/reference/resize_real_model_inputs.py /tmp/resize-check \\
        /usr/share/backgrounds/mate/*/*.jpg /usr/share/darknet/data/*.jpg
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def pillow_input(picture):
    w, h = picture.size
    rw, rh = (256, 256 * h // w) if w <= h else (256 * w // h, 256)
    left, top = (rw - 224) // 2, (rh - 224) // 2
    resized = picture.resize((rw, rh), Image.BICUBIC)
    return np.asarray(resized.crop((left, top, left + 224, top + 224)))


def write(out, name, picture):
    picture.save(out / f"{name}.png")
    pillow_input(picture).tofile(out / f"{name}.pil")


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for i, path in enumerate(sys.argv[2:]):
        photo = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        W, H = photo.size
        write(out, f"full-{i:02d}-{W}x{H}", photo)
        for kind, short in [("enl", s) for s in (40, 64, 100, 150, 200, 240, 255)] + [
            ("red", s) for s in (300, 400, 640, 1000)
        ]:
            cw, ch = int(W * rng.uniform(0.6, 1)), int(H * rng.uniform(0.6, 1))
            x0, y0 = int(rng.integers(0, W - cw + 1)), int(rng.integers(0, H - ch + 1))
            scale = short / min(cw, ch)
            if scale > 1:
                continue
            size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
            crop = photo.crop((x0, y0, x0 + cw, y0 + ch)).resize(size, Image.LANCZOS)
            write(out, f"{kind}-{i:02d}-{size[0]}x{size[1]}", crop)


if __name__ == "__main__":
    main()
