import { describe, expect, it } from 'vitest';
import { EncodeError } from '$lib/encoder/errors';
import {
  decideServerEncode,
  serverEncodeNote,
  serverEncodeReason,
  ServerEncodeUnreachableError,
  sniffFormat
} from './server-encode';

const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(
    parts.flatMap((part) =>
      typeof part === 'string' ? [...part].map((c) => c.charCodeAt(0)) : part
    )
  );
const TIFF_LE = bytes('II*\0', [8, 0, 0, 0]);
const TIFF_BE = bytes('MM\0*', [0, 0, 0, 8]);
const HEIC = bytes([0, 0, 0, 24], 'ftypheic', [0, 0, 0, 0], 'mif1heic');
const JPEG = bytes([0xff, 0xd8, 0xff, 0xe0]);
const TEXT = bytes('these are not pixels');

const unreadable = new EncodeError('not-an-image', 'cannot decode');
const tooLarge = new EncodeError('too-large', 'The picture is 8000×6000 (48 MP)');

describe('sniffFormat', () => {
  it('names TIFF (both byte orders), HEIC and JPEG from the first bytes, nothing for text', () => {
    expect(sniffFormat(TIFF_LE)).toBe('TIFF');
    expect(sniffFormat(TIFF_BE)).toBe('TIFF');
    expect(sniffFormat(HEIC)).toBe('HEIC');
    expect(sniffFormat(JPEG)).toBe('JPEG');
    expect(sniffFormat(TEXT)).toBeUndefined();
  });
});

describe('serverEncodeReason: which failed pictures the server encodes', () => {
  const file = (head: Uint8Array, type = '', size = 1000) => ({ size, type, head });

  it('sends a picture the browser cannot read (TIFF, HEIC, a JPEG its decoder refused)', () => {
    expect(serverEncodeReason(unreadable, file(TIFF_LE))).toEqual({
      kind: 'unreadable',
      format: 'TIFF'
    });
    expect(serverEncodeReason(unreadable, file(HEIC, 'image/heic'))).toEqual({
      kind: 'unreadable',
      format: 'HEIC'
    });
    expect(serverEncodeReason(unreadable, file(JPEG, 'image/jpeg'))).toEqual({
      kind: 'unreadable',
      format: 'JPEG'
    });
    // Unknown bytes, but the browser calls it a picture (a camera raw, say).
    expect(serverEncodeReason(unreadable, file(TEXT, 'image/x-canon-cr2'))).toEqual({
      kind: 'unreadable',
      format: undefined
    });
  });

  it('sends a picture over the canvas limit, with its size when the header gave it', () => {
    const dimensions = { width: 8000, height: 6000 };
    expect(serverEncodeReason(tooLarge, { ...file(JPEG), dimensions })).toEqual({
      kind: 'too-large',
      size: dimensions
    });
  });

  it('keeps the browser’s message for text, empty files, huge files, crops and model failures', () => {
    expect(serverEncodeReason(unreadable, file(TEXT, 'text/plain'))).toBeUndefined();
    expect(serverEncodeReason(unreadable, file(TIFF_LE, 'image/tiff', 0))).toBeUndefined();
    expect(serverEncodeReason(tooLarge, file(JPEG, '', 300 * 1024 * 1024))).toBeUndefined();
    expect(
      serverEncodeReason(new EncodeError('bad-geometry', 'too thin'), file(JPEG))
    ).toBeUndefined();
    expect(serverEncodeReason(new EncodeError('model', 'oom'), file(JPEG))).toBeUndefined();
    expect(serverEncodeReason(new TypeError('network'), file(TIFF_LE))).toBeUndefined();
  });

  it('reads the facts from a Blob', async () => {
    // A PNG header declaring 8000×6000 (IHDR), as the page's header reader sees it.
    const png = new Uint8Array(33);
    png.set(bytes([0x89], 'PNG\r\n', [0x1a, 0x0a, 0, 0, 0, 13], 'IHDR'));
    new DataView(png.buffer).setUint32(16, 8000);
    new DataView(png.buffer).setUint32(20, 6000);
    expect(await decideServerEncode(tooLarge, new Blob([png]))).toEqual({
      kind: 'too-large',
      size: { width: 8000, height: 6000 }
    });
    expect(await decideServerEncode(unreadable, new Blob([TIFF_BE]))).toEqual({
      kind: 'unreadable',
      format: 'TIFF'
    });
    expect(await decideServerEncode(unreadable, new Blob([TEXT]))).toBeUndefined();
  });
});

describe('the words', () => {
  it('says why, and that the picture left the device', () => {
    const tiff = serverEncodeNote({ kind: 'unreadable', format: 'TIFF' });
    expect(tiff).toMatch(/^Searched on the server: this browser cannot read TIFF files/);
    expect(tiff).toContain('the picture was sent to the server');
    const large = serverEncodeNote({ kind: 'too-large', size: { width: 8000, height: 6000 } });
    expect(large).toContain('(8000×6000, 48 MP) is larger than a browser can decode');
    expect(serverEncodeNote({ kind: 'unreadable', format: 'JPEG' })).toContain(
      'this browser could not read this picture'
    );
  });

  it('explains offline plainly: no fallback to the saved copy', () => {
    const error = new ServerEncodeUnreachableError({ kind: 'unreadable', format: 'TIFF' });
    expect(error.message).toMatch(
      /can only be searched by the server \(this browser cannot read TIFF files\), and the server cannot be reached/
    );
  });
});
