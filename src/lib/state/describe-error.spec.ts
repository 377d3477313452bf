import { describe, expect, it } from 'vitest';
import { ApiRequestError, ServerUnreachableError } from '$lib/api/client';
import { EncodeError } from '$lib/encoder/errors';
import { describeSearchError } from './describe-error';
import { NoOfflineCopyError } from './search-service';

describe('describeSearchError', () => {
  it('names a file that is not a picture plainly', () => {
    expect(describeSearchError(new EncodeError('not-an-image', 'cannot decode'))).toBe(
      'That file is not a picture Lookalike can read. Try a JPEG, PNG, WebP, GIF or AVIF picture.'
    );
  });

  it('gives the limits for a picture that is too large, with what the encoder measured', () => {
    const message = describeSearchError(
      new EncodeError('too-large', 'The picture is 20000×10000 (200 MP), over the 40 MP limit.')
    );
    expect(message).toContain('the limit is 256 MiB and 40 MP');
    expect(message).toContain('20000×10000');
  });

  it('explains offline without a saved copy, and passes on the server’s own message', () => {
    expect(describeSearchError(new NoOfflineCopyError())).toMatch(
      /no saved copy.*needs the server/
    );
    expect(describeSearchError(new ServerUnreachableError())).toBe(
      'The Lookalike server cannot be reached'
    );
    expect(
      describeSearchError(new ApiRequestError('Vector has 3 values, expected 2048', 400, 'bad'))
    ).toBe('The server refused the search: Vector has 3 values, expected 2048');
  });
});
