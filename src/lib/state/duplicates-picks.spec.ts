import { describe, expect, it } from 'vitest';
import type { components } from '$lib/api/openapi';
import { defaultPicks, groupKey } from './duplicates-picks';

type Group = components['schemas']['DuplicateGroup'];
type Member = components['schemas']['DuplicateMember'];

const member = (id: number, paths: string[]): Member => ({
  id,
  paths,
  width: 10,
  height: 10,
  bytes: 100,
  format: 'jpeg',
  modified: {},
  imageUrl: `/api/images/${id}`,
  thumbUrl: `/api/images/${id}/thumb`
});

const group = (reason: Group['reason'], keepPath: string): Group => ({
  reason,
  explanation: '',
  members: [member(1, ['/p/a.jpg', '/p/copy-of-a.jpg']), member(2, ['/p/b.jpg'])],
  keep: { id: 1, path: keepPath, why: 'the most pixels' }
});

describe('the files a review starts with picked', () => {
  it('are every copy but the suggested file, the keeper’s own other files too', () => {
    expect(defaultPicks(group('same-picture', '/p/a.jpg'))).toEqual([
      '/p/copy-of-a.jpg',
      '/p/b.jpg'
    ]);
    expect(defaultPicks(group('same-bytes', '/p/copy-of-a.jpg'))).toEqual(['/p/a.jpg', '/p/b.jpg']);
  });

  it('are none for look-alikes: other photographs, not copies', () => {
    expect(defaultPicks(group('similar-scene', '/p/a.jpg'))).toEqual([]);
  });

  it('belong to a group whose key changes when its files do', () => {
    const before = group('same-picture', '/p/a.jpg');
    const after = { ...before, members: [before.members[0]!] };
    expect(groupKey(before)).not.toBe(groupKey(after));
  });
});
