import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from './errors';

/**
 * Every setting, from command-line flags first and environment variables second, validated in one
 * place so a typo fails at start-up with a message instead of somewhere deep in a job.
 */

const positiveInt = z.coerce.number().int().positive();

/** RFC 6750 b64token: the only characters an `Authorization: Bearer` header can carry. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The host name of a Host header or LOOKALIKE_ALLOWED_HOSTS entry (`Example.COM:8080` → `example.com`,
 * `[::1]:5000` → `[::1]`), normalised the way URLs are; undefined when it is not a host.
 */
export function hostnameOf(host: string): string | undefined {
  if (host === '' || /[/?#@\s]/.test(host)) return undefined;
  try {
    return new URL(`http://${host}`).hostname || undefined;
  } catch {
    return undefined;
  }
}

const configSchema = z.object({
  dataDir: z.string().min(1),
  modelCacheDir: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  modelFile: z.string().min(1).optional(),
  modelDownload: z.enum(['true', 'false']).transform((v) => v === 'true'),
  modelUrl: z.url({ protocol: /^https?$/ }).optional(),
  threads: positiveInt,
  batchSize: positiveInt.max(256),
  maxPixels: positiveInt,
  maxFileBytes: positiveInt,
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1),
  /** PEM files for HTTPS; `serve` checks that both are given and belong together. */
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  imageRoots: z.string().transform((v) => v.split(':').filter((p) => p.trim() !== '')),
  adminToken: z
    .string()
    .min(8, 'use at least 8 characters')
    .regex(
      BEARER_TOKEN,
      'only A-Z a-z 0-9 - . _ ~ + / and trailing = can be sent as a bearer token (RFC 6750), ' +
        'e.g. the output of `openssl rand -hex 32`'
    )
    .optional(),
  corsOrigins: z.string().transform((v) =>
    v
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean)
  ),
  allowedHosts: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean)
    )
    .pipe(
      z.array(
        z.string().transform((entry, ctx) => {
          const name = entry === '*' ? '*' : hostnameOf(entry);
          if (name === undefined)
            ctx.addIssue({ code: 'custom', message: `"${entry}" is not a host name or address` });
          return name ?? entry;
        })
      )
    ),
  maxUploadBytes: positiveInt,
  encodeConcurrency: positiveInt.max(64),
  encodeQueue: z.coerce.number().int().min(0).max(10_000),
  mysqlUrl: z
    .string()
    .regex(/^mysql:\/\//, 'a mysql:// URL, e.g. mysql://user:pass@host:3306/lookalike')
    .optional(),
  milvusAddress: z.string().min(1).optional(),
  milvusToken: z.string().optional(),
  milvusUser: z.string().optional(),
  milvusPassword: z.string().optional(),
  milvusTls: z.enum(['true', 'false']).transform((v) => v === 'true'),
  milvusDatabase: z.string().optional(),
  milvusCollection: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and _'),
  milvusPrefix: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and _, not starting with a digit'),
  milvusIndexType: z.enum(['HNSW', 'IVF_FLAT', 'IVF_SQ8', 'FLAT']),
  urlAllowedNetworks: z.string(),
  urlTimeoutMs: positiveInt,
  jobLeaseMs: positiveInt.min(1000, 'at least 1000 ms: the owner renews it several times a lease'),
  /** Watched folders: poll every this many ms instead of file-system events (0: events). */
  watchPollMs: z.coerce
    .number()
    .int()
    .refine(
      (ms) => ms === 0 || ms >= 1000,
      // Each poll walks every watched folder: a few milliseconds would keep the disk busy.
      '0 (file-system events) or at least 1000 ms'
    ),
  watchMaxFolders: positiveInt.max(10_000),
  watchMaxDirs: positiveInt,
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
});

export type Config = Omit<z.infer<typeof configSchema>, 'modelCacheDir'> & {
  modelCacheDir: string;
};

/** Flags a command may pass; anything left undefined falls back to the environment, then defaults. */
export type ConfigFlags = Partial<Record<keyof Config, string | number | undefined>>;

/** One row per setting: the environment variable and default the README's table documents. */
export const SETTINGS = {
  dataDir: { env: 'LOOKALIKE_DATA_DIR', fallback: './data' },
  modelCacheDir: { env: 'LOOKALIKE_MODEL_CACHE', fallback: undefined },
  model: { env: 'LOOKALIKE_MODEL', fallback: undefined },
  modelFile: { env: 'LOOKALIKE_MODEL_FILE', fallback: undefined },
  modelDownload: { env: 'LOOKALIKE_MODEL_DOWNLOAD', fallback: 'true' },
  modelUrl: { env: 'LOOKALIKE_MODEL_URL', fallback: undefined },
  threads: { env: 'LOOKALIKE_THREADS', fallback: String(availableParallelism()) },
  batchSize: { env: 'LOOKALIKE_BATCH_SIZE', fallback: '8' },
  maxPixels: { env: 'LOOKALIKE_MAX_PIXELS', fallback: '100000000' },
  maxFileBytes: { env: 'LOOKALIKE_MAX_FILE_BYTES', fallback: String(256 * 1024 * 1024) },
  port: { env: 'PORT', fallback: '5000' },
  host: { env: 'HOST', fallback: '127.0.0.1' },
  tlsCert: { env: 'LOOKALIKE_TLS_CERT', fallback: undefined },
  tlsKey: { env: 'LOOKALIKE_TLS_KEY', fallback: undefined },
  imageRoots: { env: 'LOOKALIKE_IMAGE_ROOTS', fallback: '' },
  adminToken: { env: 'LOOKALIKE_ADMIN_TOKEN', fallback: undefined },
  corsOrigins: { env: 'LOOKALIKE_CORS_ORIGINS', fallback: '' },
  allowedHosts: { env: 'LOOKALIKE_ALLOWED_HOSTS', fallback: '' },
  maxUploadBytes: { env: 'LOOKALIKE_MAX_UPLOAD_BYTES', fallback: String(32 * 1024 * 1024) },
  encodeConcurrency: { env: 'LOOKALIKE_ENCODE_CONCURRENCY', fallback: '2' },
  encodeQueue: { env: 'LOOKALIKE_ENCODE_QUEUE', fallback: '32' },
  mysqlUrl: { env: 'MYSQL_URL', fallback: undefined },
  milvusAddress: { env: 'MILVUS_ADDRESS', fallback: undefined },
  milvusToken: { env: 'MILVUS_TOKEN', fallback: undefined },
  milvusUser: { env: 'MILVUS_USER', fallback: undefined },
  milvusPassword: { env: 'MILVUS_PASSWORD', fallback: undefined },
  milvusTls: { env: 'MILVUS_TLS', fallback: 'false' },
  milvusDatabase: { env: 'MILVUS_DATABASE', fallback: undefined },
  milvusCollection: { env: 'MILVUS_COLLECTION', fallback: 'lookalike' },
  milvusPrefix: { env: 'LOOKALIKE_MILVUS_PREFIX', fallback: 'lookalike_' },
  milvusIndexType: { env: 'MILVUS_INDEX_TYPE', fallback: 'HNSW' },
  urlAllowedNetworks: { env: 'LOOKALIKE_URL_ALLOWED_NETWORKS', fallback: '' },
  urlTimeoutMs: { env: 'LOOKALIKE_URL_TIMEOUT_MS', fallback: '15000' },
  jobLeaseMs: { env: 'LOOKALIKE_JOB_LEASE_MS', fallback: '30000' },
  watchPollMs: { env: 'LOOKALIKE_WATCH_POLL_MS', fallback: '0' },
  watchMaxFolders: { env: 'LOOKALIKE_WATCH_MAX_FOLDERS', fallback: '64' },
  watchMaxDirs: { env: 'LOOKALIKE_WATCH_MAX_DIRS', fallback: '10000' },
  logLevel: { env: 'LOG_LEVEL', fallback: 'info' }
} as const satisfies Record<keyof Config, { env: string; fallback: string | undefined }>;

export class ConfigError extends UserError {
  override name = 'ConfigError';
}

export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const [key, { env: name, fallback }] of Object.entries(SETTINGS)) {
    const fromFlag = flags[key as keyof Config];
    const fromEnv = env[name];
    raw[key] = fromFlag ?? (fromEnv === '' ? undefined : fromEnv) ?? fallback;
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path[0] as keyof Config;
      return `${key} (--${kebab(key)} or ${SETTINGS[key].env}): ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const config = parsed.data;
  const dataDir = resolve(config.dataDir);
  return {
    ...config,
    dataDir,
    modelCacheDir: resolve(config.modelCacheDir ?? `${dataDir}/models`),
    modelFile: config.modelFile && resolve(config.modelFile),
    tlsCert: config.tlsCert && resolve(config.tlsCert),
    tlsKey: config.tlsKey && resolve(config.tlsKey)
  };
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
