/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />
/// <reference types="@sveltejs/kit" />
import { build, files, version } from '$service-worker';
import { collectionOfUrl, DEFAULT_COLLECTION, isCollectionName } from '$lib/api/collection-scope';
import {
  MAX_THUMBS,
  thumbCacheCollection,
  thumbCacheName,
  type ServiceWorkerMessage
} from '$lib/offline/thumb-cache';

/**
 * Keeps the app usable without the server: the app shell and onnxruntime-web's runtime files are
 * precached at install (per build version), thumbnails are cached as pictures are shown, and
 * navigations fall back to the cached page. The model is not handled here: the encoder keeps it in
 * the Cache API itself (94 MB; a second copy would only waste space). Other /api answers are
 * never served from a cache, so the page never shows stale data as if it were live.
 *
 * A new version waits (no skipWaiting at install): an open tab of the old one still loads its
 * lazy chunks from the old shell cache. The page offers "Reload", which asks the waiting worker
 * to take over (then every controlled tab reloads, see UpdateNotice.svelte) and the old shell
 * is deleted. The first install has nothing to wait for and claims the page at once.
 */

const sw = self as unknown as ServiceWorkerGlobalScope;

const SHELL_PREFIX = 'lookalike-shell-';
const SHELL_CACHE = `${SHELL_PREFIX}${version}`;
/** Trimming reads every key, so it runs once per this many new thumbnails. */
const TRIM_EVERY = 50;
/** A server that accepts the connection but does not answer should not hold the page hostage. */
const NAVIGATION_TIMEOUT_MS = 5000;

/** The page itself: adapter-static's SPA fallback, answered by the server for '/'. */
const PAGE = '/';
const PRECACHE = [PAGE, ...build, ...files];
const PRECACHED = new Set(PRECACHE);

const THUMB_PATH = /^\/api\/images\/\d+\/thumb$/;
/** A worker's reference to one of its emitted files, e.g. `assets/ort-wasm-simd-threaded.jsep-AbC123.wasm`. */
const ASSET_REFERENCE = /["'`]((?:\.\/)?assets\/[\w.-]+\.(?:wasm|mjs|js))["'`]/g;
/** Content-hashed build output: never changes under its name, so cache first is always right. */
const IMMUTABLE = '/_app/immutable/';

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      // Hashed files may come from the HTTP cache (the page has often just fetched them: no second
      // 28 MB download); the others are revalidated so a stale page is not what gets kept.
      await cache.addAll(
        PRECACHE.map(
          (url) => new Request(url, { cache: url.startsWith(IMMUTABLE) ? 'default' : 'no-cache' })
        )
      );
      await cache.addAll(await workerAssets(cache));
    })()
  );
});

/**
 * onnxruntime-web's .wasm is emitted as an asset of the encoder worker, which SvelteKit's `build`
 * list does not name; the worker's code refers to it relative to itself (`assets/…wasm`). Found
 * here so the first visit already leaves everything needed to encode offline.
 */
async function workerAssets(cache: Cache): Promise<string[]> {
  const found = new Set<string>();
  for (const script of build.filter((path) => /\/workers\/[^/]+\.js$/.test(path))) {
    const code = await (await cache.match(script))?.text();
    if (!code) continue;
    const base = new URL(script, sw.location.origin);
    for (const [, relative] of code.matchAll(ASSET_REFERENCE)) {
      const url = new URL(relative!, base);
      if (url.origin === sw.location.origin && !PRECACHED.has(url.pathname))
        found.add(url.pathname);
    }
  }
  return [...found];
}

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      // Only this worker's old shells: the encoder's model cache lives beside them.
      for (const name of await caches.keys()) {
        if (name.startsWith(SHELL_PREFIX) && name !== SHELL_CACHE) await caches.delete(name);
      }
      // Control the page that registered us, so the first visit already works offline later.
      await sw.clients.claim();
    })()
  );
});

sw.addEventListener('message', (event) => {
  const message = event.data as ServiceWorkerMessage | undefined;
  if (message?.type === 'lookalike:skip-waiting') {
    event.waitUntil(sw.skipWaiting());
  } else if (message?.type === 'lookalike:collection-epoch' && typeof message.epoch === 'string') {
    const collection = message.collection ?? DEFAULT_COLLECTION;
    if (!isCollectionName(collection)) return;
    // Answered once done, so the page's prefetch lands in the right cache.
    event.waitUntil(
      useEpoch(collection, message.epoch).then(() => event.ports[0]?.postMessage('done'))
    );
  } else if (
    message?.type === 'lookalike:forget-collection' &&
    isCollectionName(message.collection)
  ) {
    event.waitUntil(
      forgetCollection(message.collection).then(() => event.ports[0]?.postMessage('done'))
    );
  }
});

sw.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;

  if (THUMB_PATH.test(url.pathname)) {
    event.respondWith(thumbnail(request, url, event));
  } else if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
    return; // network only
  } else if (request.mode === 'navigate') {
    event.respondWith(navigation(request));
  } else if (PRECACHED.has(url.pathname) || url.pathname.startsWith(IMMUTABLE)) {
    event.respondWith(shellFile(request, url.pathname, event));
  }
});

/** Cached responses keep their headers, COOP/COEP included, so the page stays isolated offline. */
async function navigation(request: Request): Promise<Response> {
  try {
    const response = await fetch(request, { signal: AbortSignal.timeout(NAVIGATION_TIMEOUT_MS) });
    // A 5xx from a proxy in front of a stopped server is no better than no answer.
    if (response.status < 500) return response;
  } catch {
    // unreachable: fall through to the cached page
  }
  const cached = await caches.match(PAGE, { cacheName: SHELL_CACHE });
  return cached ?? Response.error();
}

/** From the shell cache; an immutable file the install did not know of is kept at first use. */
async function shellFile(request: Request, path: string, event: FetchEvent): Promise<Response> {
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(path);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.status === 200 && path.startsWith(IMMUTABLE)) {
    event.waitUntil(cache.put(path, response.clone()));
  }
  return response;
}

/**
 * Per collection, the thumbnail cache of the epoch the page last named (see thumb-cache.ts).
 * Kept in the caches' names, so it survives this worker being stopped; before the page names
 * one, the collection's cache found is used (or a placeholder, dropped at the first message).
 * A thumbnail's collection is in its URL (`?collection=`), so one collection's cache never
 * answers for another's.
 */
const thumbCaches = new Map<string, Promise<string>>();

function currentThumbCache(collection: string): Promise<string> {
  let current = thumbCaches.get(collection);
  if (!current) {
    current = caches
      .keys()
      .then(
        (names) =>
          names.find((name) => thumbCacheCollection(name) === collection) ??
          thumbCacheName('unknown', collection)
      );
    thumbCaches.set(collection, current);
  }
  return current;
}

/** Another epoch of the collection: its ids started again, so every thumbnail kept may be wrong. */
function useEpoch(collection: string, epoch: string): Promise<string> {
  const wanted = thumbCacheName(epoch, collection);
  const next = currentThumbCache(collection).then(async (current) => {
    if (current === wanted) return wanted;
    await deleteThumbCaches(collection, wanted);
    return wanted;
  });
  thumbCaches.set(collection, next);
  return next;
}

/** A deleted collection: all its thumbnails go (a new one of that name starts empty). */
async function forgetCollection(collection: string): Promise<void> {
  const placeholder = thumbCacheName('unknown', collection);
  const done = currentThumbCache(collection).then(async () => {
    await deleteThumbCaches(collection, undefined);
    return placeholder;
  });
  thumbCaches.set(collection, done);
  await done;
}

async function deleteThumbCaches(collection: string, except: string | undefined): Promise<void> {
  for (const name of await caches.keys()) {
    if (thumbCacheCollection(name) === collection && name !== except) await caches.delete(name);
  }
}

let thumbsAdded = 0;

/** Cache first: within one collection epoch a thumbnail never changes for its id. */
async function thumbnail(request: Request, url: URL, event: FetchEvent): Promise<Response> {
  const cache = await caches.open(await currentThumbCache(collectionOfUrl(url)));
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.status === 200) {
    // Stored after the page has it: the picture shows without waiting for the cache write.
    const copy = response.clone();
    event.waitUntil(
      cache
        .put(request, copy)
        .then(() => (++thumbsAdded % TRIM_EVERY === 0 ? trim(cache) : undefined))
    );
  }
  return response;
}

/** Keeps the newest MAX_THUMBS thumbnails; keys() lists them oldest first. */
async function trim(cache: Cache): Promise<void> {
  const keys = await cache.keys();
  for (const key of keys.slice(0, Math.max(0, keys.length - MAX_THUMBS))) await cache.delete(key);
}
