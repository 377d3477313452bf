/**
 * Draws the app's icons (run: npx tsx scripts/make-icons.ts; the PNGs are committed): an SVG
 * favicon, PNG icons at 192 and 512 px for the manifest and home screens, and a maskable 512 px
 * one whose picture stays inside the central 80 % safe zone that launchers may crop to.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';

const OUT = resolve('static/icons');
const ACCENT = '#1d4ed8';
const PAPER = '#ffffff';
const SKY = '#bfdbfe';
const HILL = '#1e3a8a';

/** Two overlapping photos (a picture and its lookalike) on a 100 × 100 canvas. */
function photos(): string {
  const photo = (x: number, y: number, rotate: number) => `
    <g transform="rotate(${rotate} ${x + 21} ${y + 17})">
      <rect x="${x}" y="${y}" width="42" height="34" rx="3" fill="${PAPER}"/>
      <rect x="${x + 3}" y="${y + 3}" width="36" height="28" rx="1.5" fill="${SKY}"/>
      <circle cx="${x + 30}" cy="${y + 10}" r="4" fill="${PAPER}"/>
      <path d="M${x + 3} ${y + 31} L${x + 15} ${y + 16} L${x + 24} ${y + 25} L${x + 29} ${y + 20} L${x + 39} ${y + 31} Z" fill="${HILL}"/>
    </g>`;
  return photo(20, 24, -8) + photo(38, 42, 6);
}

/** `inset`: the share of the canvas the picture may use (1 = all of it). */
function svg(options: { rounded: boolean; inset: number }): string {
  const scale = options.inset;
  const offset = (100 - 100 * scale) / 2;
  const background = options.rounded
    ? `<rect width="100" height="100" rx="22" fill="${ACCENT}"/>`
    : `<rect width="100" height="100" fill="${ACCENT}"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">${background}<g transform="translate(${offset} ${offset}) scale(${scale})">${photos()}</g></svg>\n`;
}

async function png(source: string, size: number, name: string): Promise<void> {
  const bytes = await sharp(Buffer.from(source), { density: (72 * size) / 100 })
    .resize(size, size)
    .png({ compressionLevel: 9 })
    .toBuffer();
  await writeFile(join(OUT, name), bytes);
}

await mkdir(OUT, { recursive: true });
const regular = svg({ rounded: true, inset: 1 });
await writeFile(join(OUT, 'favicon.svg'), regular);
await png(regular, 192, 'icon-192.png');
await png(regular, 512, 'icon-512.png');
await png(regular, 180, 'apple-touch-icon.png');
// Full-bleed background; the photos shrunk into the safe zone (a circle of 80 % diameter).
await png(svg({ rounded: false, inset: 0.85 }), 512, 'maskable-512.png');
console.log(`Icons written to ${OUT}`);
