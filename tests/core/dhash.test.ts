import { describe, expect, it } from 'vitest';
import { hashGap, samePictureHash, SAME_PICTURE_HAMMING } from '#core/dhash';

// One rule for "the same picture by its difference hash", used by the server's duplicate groups
// and the page's "Hide re-saved copies".
describe('hashGap and samePictureHash', () => {
  it('counts the differing bits of hashes of one length', () => {
    expect(hashGap('00ff', '00ff')).toBe(0);
    expect(hashGap('00ff', '01fe')).toBe(2);
    expect(samePictureHash('0000000000000000', '00000000000000ff')).toBe(true); // 8 bits
    expect(samePictureHash('0000000000000000', '00000000000001ff')).toBe(false); // 9 bits
  });

  it('never calls hashes of different lengths (another hash version) the same picture', () => {
    expect(hashGap('00', '0000')).toBe(Infinity);
    expect(samePictureHash('00', '0000')).toBe(false);
  });

  it('never calls missing (empty) hashes the same picture', () => {
    expect(hashGap('', '')).toBe(Infinity);
    expect(samePictureHash('', '')).toBe(false);
  });

  it('takes another limit where a caller asks for one', () => {
    expect(samePictureHash('00', '03', 1)).toBe(false);
    expect(samePictureHash('00', '03', 2)).toBe(true);
    expect(SAME_PICTURE_HAMMING).toBe(8);
  });
});
