import {
  createCollection,
  deleteCollection,
  listCollections,
  messageOf,
  type CollectionSummary
} from '$lib/api/collection';
import { DEFAULT_COLLECTION } from '$lib/api/collection-scope';
import {
  initialCollection,
  saveCollection,
  saveCollectionList,
  savedCollectionList
} from './collection-choice';

/**
 * The server's named collections and the one the page shows. The page reads `current` and
 * switches with `choose`; everything it does (search, indexing, the model, the saved copy) goes
 * to that collection. The list last seen is kept on the device, so switching works offline too.
 */
class Collections {
  current = $state(DEFAULT_COLLECTION);
  list = $state.raw<CollectionSummary[]>([]);
  /** The list came from the server on this visit (not only from this device's copy). */
  fresh = $state(false);
  error = $state<string | undefined>(undefined);

  #storage: Storage | undefined;
  #refreshing: Promise<CollectionSummary[] | undefined> | undefined;

  /** What the switcher shows of the current one (undefined until the list names it). */
  get entry(): CollectionSummary | undefined {
    return this.list.find((c) => c.name === this.current);
  }

  /**
   * More than the default to choose from: the switcher shows. With the default alone the page
   * looks as it did before collections.
   */
  get several(): boolean {
    return (
      this.list.some((c) => c.name !== DEFAULT_COLLECTION) || this.current !== DEFAULT_COLLECTION
    );
  }

  /** The collection named by the address, else the one chosen last on this device. */
  init(search: string, storage: Storage | undefined): string {
    this.#storage = storage;
    this.current = initialCollection(search, storage);
    this.list = savedCollectionList(storage);
    return this.current;
  }

  /** Asks the server for the list (concurrent callers share one request); undefined offline. */
  refresh(): Promise<CollectionSummary[] | undefined> {
    this.#refreshing ??= listCollections()
      .then((list) => {
        this.list = list;
        this.fresh = true;
        this.error = undefined;
        saveCollectionList(list, this.#storage);
        return list;
      })
      .catch((error: unknown) => {
        this.error = messageOf(error);
        return undefined;
      })
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  /** The page shows `name` from now on, and opens it next time. */
  choose(name: string): void {
    this.current = name;
    saveCollection(name, this.#storage);
  }

  /** Creates it on the server with `model` (or the server's model) and refreshes the list. */
  async create(name: string, model: string | undefined): Promise<void> {
    await createCollection(name, model);
    await this.refresh();
  }

  /** Deletes it on the server (the default is only emptied) and refreshes the list. */
  async remove(name: string): Promise<void> {
    await deleteCollection(name);
    await this.refresh();
  }
}

export { Collections };
export const collections = new Collections();
