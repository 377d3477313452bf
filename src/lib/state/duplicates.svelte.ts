import { api, dataOf, isUnreachable } from '$lib/api/client';
import { adminHeaders } from '$lib/api/admin-token';
import { AdminTokenPrompt } from '$lib/api/admin-token-prompt.svelte';
import { messageOf } from '$lib/api/collection';
import { collectionQuery } from '$lib/api/collection-scope';
import type { components } from '$lib/api/openapi';
import { connection } from './connection.svelte';

type Schemas = components['schemas'];
export type DuplicateGroup = Schemas['DuplicateGroup'];
export type DuplicateMember = Schemas['DuplicateMember'];
export type TrashEntry = Schemas['TrashEntry'];
export { defaultPicks, filesOf, groupKey } from './duplicates-picks';

/** What the Duplicates screen shows: loading, the groups, the server gone, or its error. */
export type DuplicatesStatus = 'loading' | 'ready' | 'offline' | 'error';

/**
 * The Duplicates screen's state for one collection: the server's explained groups
 * (GET /api/duplicates) and the collection's trash (GET /api/trash), and the one action on them,
 * moving files to the trash and back. Every change goes through the server's guarded endpoints
 * (admin token when the server has one); nothing is deleted.
 */
class Duplicates {
  collection = $state<string | undefined>(undefined);
  status = $state<DuplicatesStatus>('loading');
  error = $state<string | undefined>(undefined);
  groups = $state.raw<DuplicateGroup[]>([]);
  trash = $state.raw<TrashEntry[]>([]);
  /** The answer's facts: the link threshold and whether it was measured for the model. */
  threshold = $state<number | undefined>(undefined);
  thresholdMeasured = $state(true);
  tookMs = $state<number | undefined>(undefined);
  /** Changes wait here for the admin token when the server wants it. */
  #tokenPrompt = new AdminTokenPrompt();

  #loading = 0;

  /** Reads the groups and the trash of `collection` (again). */
  async load(collection: string): Promise<void> {
    const mine = ++this.#loading;
    if (this.collection !== collection) {
      this.collection = collection;
      this.groups = [];
      this.trash = [];
    }
    this.status = 'loading';
    this.error = undefined;
    try {
      const query = collectionQuery(collection);
      const [found, trashed] = await Promise.all([
        api.GET('/api/duplicates', { params: { query }, cache: 'no-store' }).then(dataOf),
        api.GET('/api/trash', { params: { query }, cache: 'no-store' }).then(dataOf)
      ]);
      if (mine !== this.#loading) return; // another collection, or a newer load
      this.groups = found.groups;
      this.threshold = found.threshold;
      this.thresholdMeasured = found.thresholdMeasured;
      this.tookMs = found.tookMs;
      this.trash = trashed.entries;
      this.status = 'ready';
    } catch (error) {
      if (mine !== this.#loading) return;
      this.status = isUnreachable(error) ? 'offline' : 'error';
      this.error = messageOf(error);
      // The connection then says offline, and the screen loads again once it is back.
      if (this.status === 'offline') void connection.check();
    }
  }

  /** Moves these files of the current collection to the trash, then reads both lists again. */
  moveToTrash(paths: string[]): Promise<void> {
    return this.#guarded(async () => {
      const collection = this.#current();
      dataOf(
        await api.POST('/api/trash', {
          params: { query: collectionQuery(collection) },
          body: { paths },
          headers: adminHeaders()
        })
      );
      await this.load(collection);
    });
  }

  /** Moves a trashed file back and into the collection, then reads both lists again. */
  restore(id: string): Promise<void> {
    return this.#guarded(async () => {
      const collection = this.#current();
      dataOf(
        await api.POST('/api/trash/{id}/restore', {
          params: { path: { id }, query: collectionQuery(collection) },
          headers: adminHeaders()
        })
      );
      await this.load(collection);
    });
  }

  /** Set while a change waits for the admin token (with the refusal of the one sent, if any). */
  get tokenWanted(): { refused?: string | undefined } | undefined {
    return this.#tokenPrompt.pending;
  }

  /** The token the user typed: kept for this tab, and the waiting change tried again. */
  useToken(token: string): void {
    this.#tokenPrompt.give(token);
  }

  /** The user gave up: the waiting change fails, saying the token is needed. */
  cancelToken(): void {
    this.#tokenPrompt.dismiss();
  }

  #current(): string {
    if (this.collection === undefined) throw new Error('No collection loaded');
    return this.collection;
  }

  /** Runs a change, waiting for the admin token (and trying again) when the server wants it. */
  #guarded(change: () => Promise<void>): Promise<void> {
    return this.#tokenPrompt.run(change);
  }
}

export { Duplicates };
export const duplicates = new Duplicates();
