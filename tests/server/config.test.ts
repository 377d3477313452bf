import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config';
import { adminAuth } from '../../server/http/middleware/auth';

const load = (env: Record<string, string>) => loadConfig({}, env);

describe('LOOKALIKE_ADMIN_TOKEN', () => {
  it('refuses at start-up a token that cannot be sent as a bearer token, naming the allowed characters', () => {
    for (const token of [
      'correct horse battery',
      'p@ssword-123',
      'hunter2!hunter2',
      'token#with#hash',
      'ünïcödé-token',
      'abc==def-ghi',
      'quoted"token"'
    ]) {
      const attempt = () => load({ LOOKALIKE_ADMIN_TOKEN: token });
      expect(attempt, token).toThrow(ConfigError);
      expect(attempt, token).toThrow(/LOOKALIKE_ADMIN_TOKEN/);
      expect(attempt, token).toThrow(/A-Z a-z 0-9 - \. _ ~ \+ \/ and trailing =/);
    }
  });

  it('accepts every token the Authorization header can carry, and such a token then works', async () => {
    for (const token of [
      'correct-horse-battery',
      'a.b_c~d+e/f-g==',
      '0123456789abcdef',
      'ABC/def+'
    ]) {
      const config = load({ LOOKALIKE_ADMIN_TOKEN: token });
      expect(config.adminToken).toBe(token);
      const app = new Hono().post('/x', adminAuth(token), (c) => c.text('ok'));
      const ok = await app.request('/x', {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` }
      });
      expect(ok.status, token).toBe(200);
    }
  });

  it('still needs 8 characters, and may be left out', () => {
    expect(() => load({ LOOKALIKE_ADMIN_TOKEN: 'short' })).toThrow(/at least 8 characters/);
    expect(load({}).adminToken).toBeUndefined();
  });
});

describe('LOOKALIKE_ALLOWED_HOSTS', () => {
  it('is a comma-separated list of host names, normalised, ports dropped', () => {
    expect(load({}).allowedHosts).toEqual([]);
    expect(
      load({
        LOOKALIKE_ALLOWED_HOSTS: ' Photos.LAN , lookalike.example:8443,[::1]:5000, 10.0.0.7,*'
      }).allowedHosts
    ).toEqual(['photos.lan', 'lookalike.example', '[::1]', '10.0.0.7', '*']);
  });

  it('refuses entries that are not hosts', () => {
    for (const entry of ['http://photos.lan', 'photos.lan/path', 'user@photos.lan', 'photos lan']) {
      expect(() => load({ LOOKALIKE_ALLOWED_HOSTS: entry }), entry).toThrow(
        /LOOKALIKE_ALLOWED_HOSTS.*not a host name or address/
      );
    }
  });
});
