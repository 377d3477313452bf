#!/usr/bin/env python3
"""Independent PyTorch reference for Lookalike's EfficientNet-Lite0 conversion.

Writes tests/fixtures/efficientnet-lite0/ (what tests/server/efficientnet-import.test.ts reads):
- dog.jpg, eagle.jpg, horses.jpg: darknet's sample photos (Debian `darknet`, /usr/share/darknet/data,
  MIT licence option of "GPL-3.0+ or MIT or WTFPL", Joseph Redmon), shorter side resized to 256;
- <name>.png: their 224x224 centre crops, lossless, so TypeScript feeds the model the very same
  pixels as this script;
- reference.json: this model's 1280-d pooled features and ImageNet top-5 for each crop and for a
  seeded pseudo-random input tensor (the same xorshift generator as the test);
- tiny-state-dict.pth: a small state dict in torch's zip format (a transposed tensor, float16,
  int64) with its expected values, for the reader's tests.

The model is re-implemented here from the EfficientNet-Lite description (lukemelas/EfficientNet-PyTorch
module names, TensorFlow "SAME" padding computed from the actual input, BN eps 1e-3, ReLU6, no
squeeze-excitation) and loaded with strict=True, so every checkpoint tensor has its place.

Run (PyTorch 2.13 CPU, numpy, pillow):
  python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch==2.13.0 numpy pillow
  /tmp/venv/bin/python tests/reference/efficientnet_lite0_reference.py \
      --pth efficientnet-lite0-57934424.pth --photos /usr/share/darknet/data
"""

import argparse
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

PHOTOS = ["dog", "eagle", "horses"]
# EfficientNet-B0/Lite0 stages: repeats, kernel, stride, expand ratio, output channels.
STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
SEED = 20261203


class SameConv(nn.Conv2d):
    """nn.Conv2d padding like TensorFlow "SAME" for whatever input size it gets."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def bn(channels):
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    def __init__(self, cin, cout, kernel, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv(cin, hidden, 1, bias=False)
            self._bn0 = bn(hidden)
        self._depthwise_conv = SameConv(hidden, hidden, kernel, stride, groups=hidden, bias=False)
        self._bn1 = bn(hidden)
        self._project_conv = SameConv(hidden, cout, 1, bias=False)
        self._bn2 = bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = x
        if self.expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, 2, bias=False)
        self._bn0 = bn(32)
        blocks, cin = [], 32
        for repeats, kernel, stride, expand, cout in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if r == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, 1280, 1, bias=False)
        self._bn1 = bn(1280)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        features = x.mean(dim=(2, 3))
        return features, self._fc(features)


def xorshift_input(seed):
    """The test's pseudo-random input: xorshift32, (x / 2^32) * 4 - 2, as float32."""
    out = np.empty(3 * 224 * 224, dtype=np.float64)
    x = seed & 0xFFFFFFFF or 1
    for i in range(out.size):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = (x / 4294967296) * 4 - 2
    return out.astype(np.float32).reshape(1, 3, 224, 224)


def resize_shorter(img, size):
    w, h = img.size
    scale = size / min(w, h)
    return img.resize((round(w * scale), round(h * scale)), Image.BICUBIC)


def centre_crop(img, size):
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def to_tensor(img):
    """(p - 127) / 128 per RGB channel, NCHW: the manifest's preprocessing."""
    pixels = np.asarray(img, dtype=np.float32)
    return ((pixels - 127.0) / 128.0).transpose(2, 0, 1)[None].copy()


def tiny_state_dict(out_dir):
    base = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4 - 0.5
    state = {
        # Saved with its transposed strides: the reader must follow them.
        "transposed": base.t(),
        "half": torch.tensor([0.5, -2.0, 65504.0, 1e-7], dtype=torch.float16),
        "steps": torch.tensor(7, dtype=torch.int64),
    }
    torch.save(state, os.path.join(out_dir, "tiny-state-dict.pth"))
    return {k: {"shape": list(v.shape), "values": v.double().flatten().tolist()}
            for k, v in state.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pth", required=True)
    parser.add_argument("--photos", default="/usr/share/darknet/data")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__),
                                                      "../fixtures/efficientnet-lite0"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_grad_enabled(False)

    model = EfficientNetLite0().eval()
    state = torch.load(args.pth, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)

    inputs = [("xorshift", f"xorshift32 seed {SEED}", xorshift_input(SEED))]
    for name in PHOTOS:
        photo = Image.open(os.path.join(args.photos, f"{name}.jpg")).convert("RGB")
        small = resize_shorter(photo, 256)
        small.save(os.path.join(args.out, f"{name}.jpg"), quality=90)
        # The crop comes from the saved JPEG's decoded pixels, lossless from here on.
        crop = centre_crop(Image.open(os.path.join(args.out, f"{name}.jpg")).convert("RGB"), 224)
        crop.save(os.path.join(args.out, f"{name}.png"))
        inputs.append((name, f"{name}.png", to_tensor(crop)))

    results = []
    for name, source, tensor in inputs:
        features, logits = model(torch.from_numpy(tensor))
        probs = torch.softmax(logits[0], 0)
        top = torch.topk(probs, 5)
        results.append({
            "name": name,
            "source": source,
            "features": [round(v, 6) for v in features[0].tolist()],
            "top5": [{"class": int(i), "p": round(float(p), 4)}
                     for p, i in zip(top.values, top.indices)],
        })
        print(name, [(r["class"], r["p"]) for r in results[-1]["top5"]])

    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump({
            "about": "Written by tests/reference/efficientnet_lite0_reference.py; do not edit.",
            "torch": torch.__version__,
            "seed": SEED,
            "inputs": results,
            "tinyStateDict": tiny_state_dict(args.out),
        }, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
