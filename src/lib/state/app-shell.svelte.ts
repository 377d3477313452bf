import { untrack } from 'svelte';
import { replaceState } from '$app/navigation';
import { DEFAULT_COLLECTION } from '$lib/api/collection-scope';
import { forgetModelInfo } from '$lib/encoder/model-cache';
import { offlineIndex } from '$lib/offline/offline-index.svelte';
import { initialPreference, savePreference, type BackendPreference } from './backend-preference';
import { addressFor } from './collection-choice';
import { collections } from './collections.svelte';
import { connection } from './connection.svelte';
import { encoderState } from './encoder.svelte';

/**
 * What every screen shares: which collection is shown (and named in the address), the server
 * connection, the in-browser model, the saved copy for offline search, and the screen shown
 * while the server starts. The layout starts it once; pages read it and call its actions, so a
 * switch on /library is the same switch as on the search page.
 */

/** What the search page does when the collection changes under it (registered while shown). */
export interface SearchHooks {
  /** Same collection, new contents: search the same picture again. */
  refresh(): Promise<void>;
  /** Another collection: with another model the picture is encoded again. */
  collectionChanged(modelChanged: boolean): Promise<void>;
}

/**
 * While online, how often the server's snapshot version is checked (one small request), so
 * pictures indexed elsewhere (the CLI, another tab) reach the saved copy too.
 */
export const SAVED_COPY_CHECK_MS = 60_000;

class AppShell {
  preference = $state<BackendPreference>('auto');
  /** Said once when the collection asked for (address or last visit) is not on the server. */
  missingCollection = $state<string | undefined>();
  /** How the last search on this visit ran (encoding, backend, timings): shown on Check. */
  lastSearch = $state.raw<{ results: number; timing: string; at: number } | undefined>();

  #search: SearchHooks | undefined;
  #started = false;
  /** A screen that searches (or names the model) is shown: the model loads. Check has its own. */
  #encoderWanted = false;
  /** The server answered its first health check as ready (or not at all): models can load. */
  #serverReady = false;

  /** The encoder's model, once it is the current collection's (a switch loads another). */
  get model() {
    return encoderState.infoCollection === collections.current ? encoderState.info : undefined;
  }

  /** The server uses random weights: results mean nothing, and every screen says so. */
  get synthetic(): boolean {
    return this.model?.synthetic ?? connection.health?.model.synthetic ?? false;
  }

  /** Pictures in the current collection: the list's count; health counts the default's. */
  get count(): number | null | undefined {
    return (
      collections.entry?.images ??
      (collections.current === DEFAULT_COLLECTION ? connection.health?.count : undefined)
    );
  }

  /**
   * Starts everything once (the layout's mount): reads the collection from the address or the
   * last visit, polls the server, loads the model once the server is ready, keeps the saved copy
   * fresh. Returns the stop function.
   */
  start(): () => void {
    if (this.#started) return () => undefined;
    this.#started = true;
    this.preference = initialPreference(location.search, globalThis.localStorage);
    const initial = collections.init(location.search, globalThis.localStorage);
    offlineIndex.useCollection(initial);
    void encoderState.useCollection(initial); // idle: only notes which model to load
    void offlineIndex.load();

    const stopConnection = connection.start();
    // A server still starting (its first model download) has no model to give yet: the effect
    // below loads it once the server is ready. The first health check is shared, not repeated.
    void connection.check().then(() => {
      if (!connection.starting) this.#serverIsReady();
    });
    const stopEffects = $effect.root(() => this.#effects());
    return () => {
      stopConnection();
      stopEffects();
      this.#started = false;
      this.#serverReady = false;
    };
  }

  #effects() {
    // Offline search must use a copy built by the same model as the query vectors.
    $effect(() => {
      const info = encoderState.info;
      if (info) offlineIndex.useModel(info.id, encoderState.infoCollection);
    });

    // Once the server is back: a model that failed to load (no server at the first visit)
    // loads, results that came from the saved copy are searched again on the server, and the
    // list of collections is read again.
    let wasOnline: boolean | undefined;
    $effect(() => {
      const now = connection.online;
      untrack(() => {
        encoderState.connectionChanged(now);
        if (now === true && wasOnline === false) {
          void this.#search?.refresh();
          void this.#checkCollection(); // the list may have changed meanwhile (or never come)
        }
        wasOnline = now;
      });
    });

    // The server finished starting (its first model download): load the model it serves now.
    let wasStarting = false;
    $effect(() => {
      const now = connection.starting !== undefined;
      untrack(() => {
        if (wasStarting && !now) this.#serverIsReady();
        wasStarting = now;
      });
    });

    keepSavedCopyFresh(() => connection.online);
  }

  #serverIsReady() {
    this.#serverReady = true;
    if (this.#encoderWanted) void encoderState.start(this.preference);
    void this.#checkCollection();
  }

  /**
   * A screen needs the in-browser model (search, or the library naming it): it loads once the
   * server is ready, and stays loaded for the rest of the visit. Check loads its own, so a visit
   * that only checks does not load it twice.
   */
  useEncoder(): void {
    if (this.#encoderWanted) return;
    this.#encoderWanted = true;
    if (this.#serverReady) void encoderState.start(this.preference);
  }

  /** The search page, while shown, is told when the collection changes under it. */
  registerSearch(hooks: SearchHooks): () => void {
    this.#search = hooks;
    return () => {
      if (this.#search === hooks) this.#search = undefined;
    };
  }

  /**
   * Reads the server's collections; a remembered collection the server no longer has (deleted
   * elsewhere, or a stale link) gives way to the default, and the page says so.
   */
  async #checkCollection() {
    const list = await collections.refresh();
    const wanted = collections.current;
    if (list && !list.some((c) => c.name === wanted)) {
      const switching = this.switchCollection(DEFAULT_COLLECTION);
      this.missingCollection = wanted; // after the switch's start, which clears the notice
      await switching;
    }
  }

  /** Shows another collection: its count and jobs, its model, its saved copy, its results. */
  async switchCollection(name: string): Promise<void> {
    if (name === collections.current) return;
    this.missingCollection = undefined;
    collections.choose(name);
    showInAddress(name);
    offlineIndex.useCollection(name);
    // Its saved copy: refreshed when the server answers, else read to search offline.
    void (connection.online !== false ? offlineIndex.sync() : offlineIndex.load());
    const modelChanged = await encoderState.useCollection(name);
    if (collections.current !== name) return; // switched again meanwhile
    await this.#search?.collectionChanged(modelChanged);
  }

  /** The current collection was deleted on the server: back to the default, its copies gone. */
  async collectionDeleted(name: string): Promise<void> {
    await this.switchCollection(DEFAULT_COLLECTION);
    await Promise.all([offlineIndex.forget(name), forgetModelInfo(name)]);
  }

  /** The collection's contents changed (a job finished, it was cleared): counts and results. */
  async collectionChanged(): Promise<void> {
    await Promise.all([connection.check(), collections.refresh()]);
    await this.#search?.refresh();
  }

  /** Another backend for the in-browser model (chosen on Check), kept on this device. */
  choosePreference(next: BackendPreference): void {
    this.preference = next;
    savePreference(next, globalThis.localStorage);
    if (this.#encoderWanted && this.#serverReady) void encoderState.start(next);
  }

  /** `path` (a route of this app) as a link that keeps the collection shown. */
  link(path: string): string {
    return pathOf(addressFor(`${location.origin}${path}`, collections.current));
  }
}

/**
 * The saved copy for offline search, while the server answers (`online()` not false): refreshed
 * at once and its version checked every minute while the page is visible. Call inside an effect
 * scope (the shell's `$effect.root`).
 */
export function keepSavedCopyFresh(online: () => boolean | undefined): void {
  // Connecting (undefined) counts as online, and its answer "online" is no change to react to.
  const reachable = $derived(online() !== false);
  $effect(() => {
    if (!reachable) return;
    untrack(() => void offlineIndex.sync());
    const timer = setInterval(() => {
      if (document.visibilityState !== 'hidden') void offlineIndex.sync();
    }, SAVED_COPY_CHECK_MS);
    return () => clearInterval(timer);
  });
}

/** `?collection=` in the address, so a link or a reload opens the same collection. */
export function showInAddress(name: string): void {
  const wanted = addressFor(location.href, name);
  if (wanted === location.href) return;
  try {
    // eslint-disable-next-line svelte/no-navigation-without-resolve -- this very page's address
    replaceState(pathOf(wanted), {});
  } catch {
    // The router is not ready yet: the plain History API does the same.
    history.replaceState(history.state, '', wanted);
  }
}

/** A same-origin address without its origin: path, query and hash. */
function pathOf(href: string): string {
  return href.startsWith(location.origin) ? href.slice(location.origin.length) : href;
}

export { AppShell };
export const appShell = new AppShell();
