import sharp, { type Sharp } from 'sharp';

/**
 * The edits people make to a picture before it comes back as a query: the near-duplicate cases
 * search must survive. Seeded, so a test and a benchmark see the very same copies every run.
 * Each edit draws from its own generator (seed, picture, edit), so adding an edit or a picture
 * never changes the others.
 */
export const EDIT_KINDS = [
  'crop',
  'downscale',
  'jpeg-q30',
  'rotate-90',
  'rotate-small',
  'colour-jitter',
  'grayscale',
  'flip',
  'caption-border'
] as const;

export type EditKind = (typeof EDIT_KINDS)[number];

/** The seed the quality test and the quality benchmark share, so both measure the same copies. */
export const QUALITY_SEED = 13;

export interface EditedCopy {
  kind: EditKind;
  /** A JPEG, as a user would upload it. */
  bytes: Buffer;
  /** What was drawn, for reading failures: "crop 0.71×0.83 at (0.12, 0.40)". */
  detail: string;
}

/** Edits start from the picture fitted into this box: the size a shared copy usually has. */
const WORKING_SIZE = 1280;
const JPEG_QUALITY = 90;

/** Mulberry32: a tiny, well-mixed 32-bit generator; `next()` is uniform in [0, 1). */
export function seededRandom(...seeds: number[]): () => number {
  let state = 0x9e3779b9;
  for (const s of seeds) state = Math.imul(state ^ (s >>> 0), 0x85ebca6b) ^ (state >>> 13);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stable number for a string (FNV-1a), so each picture's edits depend on its name only. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const between = (random: () => number, low: number, high: number) => low + (high - low) * random();

const CAPTION_WORDS = [
  'Summer',
  'holiday',
  'best',
  'day',
  'ever',
  'look',
  'at',
  'this',
  'weekend',
  'memories',
  'with',
  'friends',
  'new',
  'view',
  'morning'
];

interface Working {
  data: Buffer;
  width: number;
  height: number;
}

/** The picture upright (EXIF), on white where transparent, sRGB, fitted into WORKING_SIZE. */
async function working(input: string | Buffer): Promise<Working> {
  const { data, info } = await sharp(input)
    .rotate()
    .flatten({ background: '#ffffff' })
    .resize({
      width: WORKING_SIZE,
      height: WORKING_SIZE,
      fit: 'inside',
      withoutEnlargement: true
    })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected RGB, got ${info.channels} channels`);
  return { data, width: info.width, height: info.height };
}

const fromRaw = ({ data, width, height }: Working) =>
  sharp(data, { raw: { width, height, channels: 3 } });

const escapeXml = (text: string) => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

async function applyEdit(
  base: Working,
  kind: EditKind,
  random: () => number
): Promise<Omit<EditedCopy, 'kind'>> {
  const { width, height } = base;
  const jpeg = (image: Sharp, quality = JPEG_QUALITY) => image.jpeg({ quality }).toBuffer();
  switch (kind) {
    case 'crop': {
      const fw = between(random, 0.6, 0.9);
      const fh = between(random, 0.6, 0.9);
      const w = Math.round(width * fw);
      const h = Math.round(height * fh);
      const left = Math.floor(random() * (width - w + 1));
      const top = Math.floor(random() * (height - h + 1));
      return {
        bytes: await jpeg(fromRaw(base).extract({ left, top, width: w, height: h })),
        detail: `crop ${fw.toFixed(2)}×${fh.toFixed(2)} at (${left}, ${top})`
      };
    }
    case 'downscale': {
      const w = Math.max(16, Math.round(width * 0.3));
      return {
        bytes: await jpeg(fromRaw(base).resize({ width: w })),
        detail: `downscale to ${w} px wide (30 %)`
      };
    }
    case 'jpeg-q30':
      return { bytes: await jpeg(fromRaw(base), 30), detail: 'JPEG quality 30' };
    case 'rotate-90': {
      const angle = random() < 0.5 ? 90 : 270;
      return { bytes: await jpeg(fromRaw(base).rotate(angle)), detail: `rotate ${angle}°` };
    }
    case 'rotate-small': {
      const angle = between(random, 5, 15) * (random() < 0.5 ? -1 : 1);
      // A scanned or hand-straightened copy: the corners the turn opens up are filled black.
      return {
        bytes: await jpeg(fromRaw(base).rotate(angle, { background: '#000000' })),
        detail: `rotate ${angle.toFixed(1)}°`
      };
    }
    case 'colour-jitter': {
      const brightness = between(random, 0.7, 1.3);
      const saturation = between(random, 0.5, 1.5);
      const hue = Math.round(between(random, -30, 30));
      const contrast = between(random, 0.75, 1.25);
      const image = fromRaw(base)
        .modulate({ brightness, saturation, hue })
        .linear(contrast, 128 * (1 - contrast));
      return {
        bytes: await jpeg(image),
        detail:
          `brightness ×${brightness.toFixed(2)}, saturation ×${saturation.toFixed(2)}, ` +
          `hue ${hue}°, contrast ×${contrast.toFixed(2)}`
      };
    }
    case 'grayscale':
      return { bytes: await jpeg(fromRaw(base).grayscale()), detail: 'grayscale' };
    case 'flip':
      return { bytes: await jpeg(fromRaw(base).flop()), detail: 'horizontal flip' };
    case 'caption-border': {
      // A frame plus a caption band over the lower part, as a meme or a shared story adds.
      const border = Math.round(Math.min(width, height) * between(random, 0.04, 0.1));
      const shade = Math.round(between(random, 0, 255));
      const W = width + 2 * border;
      const H = height + 2 * border;
      const words = Array.from(
        { length: 3 + Math.floor(random() * 3) },
        () => CAPTION_WORDS[Math.floor(random() * CAPTION_WORDS.length)]!
      );
      const caption = words.join(' ');
      // Sized to fit the width too (DejaVu Sans Bold averages ~0.65 em per character).
      const fontSize = Math.round(Math.min(H * 0.08, (W * 0.9) / (0.65 * caption.length)));
      const band = Math.round(fontSize * 1.6);
      const svg =
        `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">` +
        `<rect x="0" y="${H - border - band}" width="${W}" height="${band}" fill="black" fill-opacity="0.55"/>` +
        `<text x="${W / 2}" y="${H - border - band * 0.3}" font-family="DejaVu Sans, sans-serif" ` +
        `font-size="${fontSize}" font-weight="bold" fill="white" text-anchor="middle">${escapeXml(caption)}</text></svg>`;
      const framed = await fromRaw(base)
        .extend({
          top: border,
          bottom: border,
          left: border,
          right: border,
          background: { r: shade, g: shade, b: shade }
        })
        .raw()
        .toBuffer();
      const image = sharp(framed, { raw: { width: W, height: H, channels: 3 } }).composite([
        { input: Buffer.from(svg), top: 0, left: 0 }
      ]);
      return {
        bytes: await jpeg(image),
        detail: `border ${border} px grey ${shade}, caption "${words.join(' ')}"`
      };
    }
  }
}

/**
 * Every edit of one picture (`EDIT_KINDS` order), reproducible from `seed` and the picture's `id`.
 */
export async function editedCopies(
  input: string | Buffer,
  id: string,
  seed: number,
  kinds: readonly EditKind[] = EDIT_KINDS
): Promise<EditedCopy[]> {
  const base = await working(input);
  const copies: EditedCopy[] = [];
  for (const kind of kinds) {
    const random = seededRandom(seed, hashString(id), hashString(kind));
    copies.push({ kind, ...(await applyEdit(base, kind, random)) });
  }
  return copies;
}

export interface EditedQuery extends EditedCopy {
  /** The id of the picture it was made from. */
  of: string;
}

/** Every edit of every picture, pictures in order; a few at a time to use both cores. */
export async function editedQueries(
  pictures: readonly { id: string; path: string }[],
  seed: number,
  kinds: readonly EditKind[] = EDIT_KINDS
): Promise<EditedQuery[]> {
  const all: EditedQuery[][] = new Array(pictures.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < pictures.length; i = next++) {
      const { id, path } = pictures[i]!;
      all[i] = (await editedCopies(path, id, seed, kinds)).map((copy) => ({ ...copy, of: id }));
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return all.flat();
}
