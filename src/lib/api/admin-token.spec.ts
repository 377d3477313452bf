import { afterEach, describe, expect, it } from 'vitest';
import { adminHeaders, adminToken, setAdminToken, withAdminToken } from './admin-token';
import { ApiRequestError } from './client';

afterEach(() => setAdminToken(undefined));

/** A change the server allows only with `Bearer right`; records the Authorization it got. */
function guardedChange() {
  const sent: (string | undefined)[] = [];
  const call = async () => {
    const authorization = adminHeaders().authorization;
    sent.push(authorization);
    if (authorization === 'Bearer right') return 'done';
    throw new ApiRequestError(
      authorization ? 'Wrong bearer token' : 'Needs a token',
      401,
      'unauthorized'
    );
  };
  return { sent, call };
}

describe('withAdminToken', () => {
  it('runs the change at once with a kept token the server accepts', async () => {
    setAdminToken('right');
    const { sent, call } = guardedChange();
    const asked: (string | undefined)[] = [];
    await expect(withAdminToken(call, async (r) => void asked.push(r))).resolves.toBe('done');
    expect(sent).toEqual(['Bearer right']);
    expect(asked).toEqual([]);
  });

  it('asks when no token was sent, then runs the change again with the one given', async () => {
    const { sent, call } = guardedChange();
    const asked: (string | undefined)[] = [];
    const ask = async (refused: string | undefined) => {
      asked.push(refused);
      setAdminToken('right');
    };
    await expect(withAdminToken(call, ask)).resolves.toBe('done');
    expect(asked).toEqual([undefined]);
    expect(sent).toEqual([undefined, 'Bearer right']);
  });

  it('forgets a refused token, asks with the server’s reason, and does not send it again', async () => {
    setAdminToken('wrong');
    const { sent, call } = guardedChange();
    const asked: (string | undefined)[] = [];
    const ask = async (refused: string | undefined) => {
      asked.push(refused);
      expect(adminToken()).toBeUndefined();
      if (asked.length === 2) setAdminToken('right');
    };
    await expect(withAdminToken(call, ask)).resolves.toBe('done');
    expect(asked).toEqual(['Wrong bearer token', undefined]);
    expect(sent).toEqual(['Bearer wrong', undefined, 'Bearer right']);
  });

  it('fails as the question does when the user gives up, and passes other errors on', async () => {
    const { call } = guardedChange();
    const gaveUp = new Error('gave up');
    await expect(withAdminToken(call, () => Promise.reject(gaveUp))).rejects.toBe(gaveUp);
    const other = new ApiRequestError('No such folder', 404, 'not_found');
    const asked: unknown[] = [];
    await expect(
      withAdminToken(
        () => Promise.reject(other),
        async (r) => void asked.push(r)
      )
    ).rejects.toBe(other);
    expect(asked).toEqual([]);
  });
});
