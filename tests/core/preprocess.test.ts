import { describe, expect, it } from 'vitest';
import type { ModelManifest } from '#core/model-manifest';
import {
  buildInputBatch,
  ImageGeometryError,
  planResize,
  writeInputTensor
} from '#core/preprocess';

type Preprocess = ModelManifest['preprocess'];
type TensorManifest = Pick<ModelManifest, 'input' | 'preprocess'>;

const common = {
  interpolation: 'bicubic',
  colorOrder: 'RGB',
  rescale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  background: [255, 255, 255]
} satisfies Omit<Preprocess, 'resize' | 'crop'>;

/** ResNet-50 style: shorter side to 256, centre crop 224. */
const shortest256crop224: Preprocess = {
  ...common,
  resize: { mode: 'shortest-edge', size: 256 },
  crop: { mode: 'center', width: 224, height: 224 }
};

function manifest(
  input: Partial<TensorManifest['input']>,
  preprocess: Partial<Preprocess>
): TensorManifest {
  return {
    input: { layout: 'NCHW', width: 2, height: 1, ...input },
    preprocess: { ...shortest256crop224, ...preprocess }
  };
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], digits = 4): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((value, i) => {
    expect(actual[i], `element ${i}`).toBeCloseTo(value, digits);
  });
}

describe('planResize', () => {
  it('landscape 640×480: short side to 256, long side 256·640/480 = 341.33 truncated to 341', () => {
    expect(planResize(640, 480, shortest256crop224)).toEqual({
      resizeWidth: 341,
      resizeHeight: 256,
      // (341 − 224) / 2 = 58.5 floored; (256 − 224) / 2 = 16.
      crop: { left: 58, top: 16, width: 224, height: 224 }
    });
  });

  it('portrait 480×640 is the transpose', () => {
    expect(planResize(480, 640, shortest256crop224)).toEqual({
      resizeWidth: 256,
      resizeHeight: 341,
      crop: { left: 16, top: 58, width: 224, height: 224 }
    });
  });

  it('square 300×300 scales down to 256×256 and crops the middle', () => {
    expect(planResize(300, 300, shortest256crop224)).toEqual({
      resizeWidth: 256,
      resizeHeight: 256,
      crop: { left: 16, top: 16, width: 224, height: 224 }
    });
  });

  it('small images are scaled up the same way', () => {
    // 100×50: height → 256, width 256·100/50 = 512.
    expect(planResize(100, 50, shortest256crop224)).toMatchObject({
      resizeWidth: 512,
      resizeHeight: 256,
      crop: { left: 144, top: 16 }
    });
  });

  it('a 1×50 strip (the longest accepted): the long side is 256·50 and the crop sits in its middle', () => {
    const plan = planResize(1, 50, shortest256crop224);
    expect(plan.resizeWidth).toBe(256);
    expect(plan.resizeHeight).toBe(12_800);
    expect(plan.crop).toEqual({ left: 16, top: (12_800 - 224) / 2, width: 224, height: 224 });
  });

  it('refuses strips longer than 50:1, which would need a huge intermediate image', () => {
    expect(() => planResize(1, 1000, shortest256crop224)).toThrow(ImageGeometryError);
    expect(() => planResize(5100, 100, shortest256crop224)).toThrow(/longer than 50:1/);
  });

  it('truncates (not rounds) a fractional long side, for both orientations', () => {
    // 256·100/3 = 8533.33…; 256·100/6 = 4266.67 (rounding would give 4267).
    const crop = { mode: 'none' } as const;
    expect(planResize(3, 100, { ...shortest256crop224, crop })).toMatchObject({
      resizeWidth: 256,
      resizeHeight: 8_533
    });
    expect(planResize(100, 6, { ...shortest256crop224, crop })).toMatchObject({
      resizeWidth: 4_266,
      resizeHeight: 256
    });
    // 73 (the tiny model) on 640×480: 73·640/480 = 97.33 → 97.
    expect(
      planResize(640, 480, { ...common, resize: { mode: 'shortest-edge', size: 73 }, crop })
    ).toMatchObject({ resizeWidth: 97, resizeHeight: 73 });
  });

  it('never plans a side smaller than one pixel', () => {
    const crop = { mode: 'none' } as const;
    for (const [w, h] of [
      [1, 1],
      [1, 50],
      [50, 1],
      [7, 3]
    ] as const) {
      const plan = planResize(w, h, {
        ...common,
        resize: { mode: 'shortest-edge', size: 1 },
        crop
      });
      expect(Math.min(plan.resizeWidth, plan.resizeHeight)).toBe(1);
      expect(plan.resizeWidth).toBeGreaterThanOrEqual(1);
      expect(plan.resizeHeight).toBeGreaterThanOrEqual(1);
      // Long side: trunc(1 · long / short).
      expect(Math.max(plan.resizeWidth, plan.resizeHeight)).toBe(
        Math.trunc(Math.max(w, h) / Math.min(w, h))
      );
    }
  });

  it('with no crop the whole resized image is the input', () => {
    const plan = planResize(640, 480, { ...shortest256crop224, crop: { mode: 'none' } });
    expect(plan.crop).toEqual({ left: 0, top: 0, width: 341, height: 256 });
  });

  it('exact mode stretches to the target size whatever the aspect ratio', () => {
    const exact: Preprocess = {
      ...common,
      resize: { mode: 'exact', width: 224, height: 200 },
      crop: { mode: 'none' }
    };
    for (const [w, h] of [
      [640, 480],
      [480, 640],
      [1, 1000],
      [224, 200]
    ] as const) {
      expect(planResize(w, h, exact)).toEqual({
        resizeWidth: 224,
        resizeHeight: 200,
        crop: { left: 0, top: 0, width: 224, height: 200 }
      });
    }
  });

  it('exact mode followed by a centre crop', () => {
    const plan = planResize(640, 480, {
      ...common,
      resize: { mode: 'exact', width: 256, height: 250 },
      crop: { mode: 'center', width: 224, height: 224 }
    });
    expect(plan).toEqual({
      resizeWidth: 256,
      resizeHeight: 250,
      crop: { left: 16, top: 13, width: 224, height: 224 }
    });
  });

  it('throws for an image without pixels', () => {
    expect(() => planResize(0, 480, shortest256crop224)).toThrow(/no pixels/);
    expect(() => planResize(640, 0, shortest256crop224)).toThrow(/no pixels/);
    expect(() => planResize(-1, 480, shortest256crop224)).toThrow(/no pixels/);
    expect(() => planResize(Number.NaN, 480, shortest256crop224)).toThrow(/no pixels/);
  });

  it('throws when the crop is larger than the resized image', () => {
    expect(() =>
      planResize(640, 480, {
        ...common,
        resize: { mode: 'shortest-edge', size: 200 },
        crop: { mode: 'center', width: 224, height: 224 }
      })
    ).toThrow(/Crop 224×224 is larger than the resized image 266×200/);
    expect(() =>
      planResize(640, 480, {
        ...common,
        resize: { mode: 'exact', width: 300, height: 200 },
        crop: { mode: 'center', width: 224, height: 224 }
      })
    ).toThrow(/larger than the resized image 300×200/);
    // Only one side too large.
    expect(() =>
      planResize(640, 480, {
        ...common,
        resize: { mode: 'shortest-edge', size: 224 },
        crop: { mode: 'center', width: 224, height: 300 }
      })
    ).toThrow(/larger/);
  });
});

describe('writeInputTensor', () => {
  /** Two pixels, (110, 60, 80) and (0, 100, 255), with easy numbers: (v − mean) / std. */
  const pixels = new Uint8Array([110, 60, 80, 0, 100, 255]);
  const easy: Partial<Preprocess> = { rescale: 1, mean: [10, 20, 30], std: [2, 4, 5] };
  // R: (110 − 10)/2 = 50, (0 − 10)/2 = −5
  // G: (60 − 20)/4 = 10, (100 − 20)/4 = 20
  // B: (80 − 30)/5 = 10, (255 − 30)/5 = 45
  const nchw = [50, -5, 10, 20, 10, 45];
  const nhwc = [50, 10, 10, -5, 20, 45];

  it('NCHW: one plane per channel', () => {
    const out = new Float32Array(6);
    writeInputTensor(pixels, manifest({ layout: 'NCHW' }, easy), out);
    expectClose(out, nchw);
  });

  it('NHWC: channels interleaved per pixel', () => {
    const out = new Float32Array(6);
    writeInputTensor(pixels, manifest({ layout: 'NHWC' }, easy), out);
    expectClose(out, nhwc);
  });

  it('ImageNet mean/std with rescale 1/255', () => {
    const out = new Float32Array(3);
    writeInputTensor(new Uint8Array([255, 0, 128]), manifest({ width: 1 }, {}), out);
    expectClose(out, [
      (1 - 0.485) / 0.229, // 2.2489
      (0 - 0.456) / 0.224, // −2.0357
      (128 / 255 - 0.406) / 0.225 // 0.4265
    ]);
    expect(out[0]).toBeCloseTo(2.2489, 3);
    expect(out[1]).toBeCloseTo(-2.0357, 3);
  });

  it('BGR caffe style: model channel 0 is blue, minus the BGR means', () => {
    const caffe = manifest(
      { layout: 'NCHW' },
      { colorOrder: 'BGR', mean: [103.939, 116.779, 123.68], std: [1, 1, 1], rescale: 1 }
    );
    const out = new Float32Array(6);
    // (R, G, B) = (200, 100, 50) and (0, 0, 0)
    writeInputTensor(new Uint8Array([200, 100, 50, 0, 0, 0]), caffe, out);
    expectClose(
      out,
      [
        50 - 103.939, // B of pixel 0
        -103.939,
        100 - 116.779, // G
        -116.779,
        200 - 123.68, // R
        -123.68
      ],
      3
    );
  });

  it('BGR in NHWC reverses the channels within each pixel', () => {
    const out = new Float32Array(6);
    writeInputTensor(pixels, manifest({ layout: 'NHWC' }, { ...easy, colorOrder: 'BGR' }), out);
    // Model channel c reads source channel 2 − c but uses mean[c], std[c] (model order).
    expectClose(out, [
      (80 - 10) / 2,
      (60 - 20) / 4,
      (110 - 30) / 5,
      (255 - 10) / 2,
      (100 - 20) / 4,
      (0 - 30) / 5
    ]);
  });

  it('matches an independent per-pixel reference on a 3×2 image in both layouts', () => {
    const width = 3;
    const height = 2;
    const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + 11) % 256);
    const pre: Partial<Preprocess> = {
      rescale: 1 / 255,
      mean: [0.1, 0.2, 0.3],
      std: [0.5, 0.25, 2]
    };
    for (const layout of ['NCHW', 'NHWC'] as const) {
      const out = new Float32Array(width * height * 3);
      writeInputTensor(rgb, manifest({ layout, width, height }, pre), out);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          for (let c = 0; c < 3; c++) {
            const value = rgb[(y * width + x) * 3 + c]! / 255;
            const expected = (value - pre.mean![c]!) / pre.std![c]!;
            const at =
              layout === 'NCHW' ? c * width * height + y * width + x : (y * width + x) * 3 + c;
            expect(out[at], `${layout} y=${y} x=${x} c=${c}`).toBeCloseTo(expected, 5);
          }
        }
      }
    }
  });

  it('RGBA input with channels = 4 ignores alpha', () => {
    const rgba = new Uint8ClampedArray([110, 60, 80, 7, 0, 100, 255, 200]);
    const out = new Float32Array(6);
    writeInputTensor(rgba, manifest({ layout: 'NCHW' }, easy), out, 0, 4);
    expectClose(out, nchw);
    const outNhwc = new Float32Array(6);
    writeInputTensor(rgba, manifest({ layout: 'NHWC' }, easy), outNhwc, 0, 4);
    expectClose(outNhwc, nhwc);
  });

  it('throws when the pixel buffer has the wrong length', () => {
    const m = manifest({}, easy);
    const out = new Float32Array(6);
    expect(() => writeInputTensor(new Uint8Array(5), m, out)).toThrow(/Expected 6 bytes.*got 5/);
    expect(() => writeInputTensor(new Uint8Array(9), m, out)).toThrow(/Expected 6 bytes.*got 9/);
    // RGB pixels declared as RGBA.
    expect(() => writeInputTensor(pixels, m, out, 0, 4)).toThrow(/Expected 8 bytes.*got 6/);
  });

  it('writes into the requested batch slot only, and refuses a slot past the end', () => {
    const m = manifest({ layout: 'NCHW' }, easy);
    const out = new Float32Array(12).fill(-999);
    writeInputTensor(pixels, m, out, 1);
    expect(Array.from(out.subarray(0, 6))).toEqual(new Array(6).fill(-999));
    expectClose(out.subarray(6), nchw);
    expect(() => writeInputTensor(pixels, m, out, 2)).toThrow(/too small/);
    expect(() => writeInputTensor(pixels, m, new Float32Array(5))).toThrow(/too small/);
  });
});

describe('buildInputBatch', () => {
  const first = new Uint8Array([110, 60, 80, 0, 100, 255]);
  const second = new Uint8Array([0, 0, 0, 255, 255, 255]);
  const easy: Partial<Preprocess> = { rescale: 1, mean: [10, 20, 30], std: [2, 4, 5] };

  it('NCHW dims are [N, 3, H, W] and image i starts at i·3·H·W', () => {
    const { data, dims } = buildInputBatch([first, second], manifest({ layout: 'NCHW' }, easy));
    expect(dims).toEqual([2, 3, 1, 2]);
    expect(data.length).toBe(12);
    expectClose(data.subarray(0, 6), [50, -5, 10, 20, 10, 45]);
    // Second image: R (0−10)/2, (255−10)/2; G (0−20)/4, (255−20)/4; B (0−30)/5, (255−30)/5.
    expectClose(data.subarray(6), [-5, 122.5, -5, 58.75, -6, 45]);
  });

  it('NHWC dims are [N, H, W, 3]', () => {
    const { data, dims } = buildInputBatch(
      [first, second],
      manifest({ layout: 'NHWC', width: 1, height: 2 }, easy)
    );
    expect(dims).toEqual([2, 2, 1, 3]);
    expectClose(data.subarray(0, 6), [50, 10, 10, -5, 20, 45]);
    expectClose(data.subarray(6), [-5, -5, -6, 122.5, 58.75, 45]);
  });

  it('a non-square NCHW input puts height before width', () => {
    const rgb = new Uint8Array(4 * 3 * 3);
    const { dims, data } = buildInputBatch([rgb], manifest({ width: 4, height: 3 }, easy));
    expect(dims).toEqual([1, 3, 3, 4]);
    expect(data.length).toBe(36);
  });

  it('each image in the batch equals the same image written alone', () => {
    const m = manifest({ layout: 'NCHW' }, {});
    const { data } = buildInputBatch([first, second, first], m);
    const alone = new Float32Array(6);
    writeInputTensor(second, m, alone);
    expect(Array.from(data.subarray(6, 12))).toEqual(Array.from(alone));
    expect(Array.from(data.subarray(12, 18))).toEqual(Array.from(data.subarray(0, 6)));
  });

  it('RGBA images with channels = 4', () => {
    const rgba = new Uint8Array([110, 60, 80, 255, 0, 100, 255, 0]);
    const { data, dims } = buildInputBatch([rgba], manifest({}, easy), 4);
    expect(dims).toEqual([1, 3, 1, 2]);
    expectClose(data, [50, -5, 10, 20, 10, 45]);
  });

  it('an empty batch gives an empty tensor', () => {
    const { data, dims } = buildInputBatch([], manifest({}, easy));
    expect(dims).toEqual([0, 3, 1, 2]);
    expect(data.length).toBe(0);
  });

  it('throws if any image has the wrong size', () => {
    expect(() => buildInputBatch([first, new Uint8Array(3)], manifest({}, easy))).toThrow(
      /Expected 6 bytes/
    );
  });
});
