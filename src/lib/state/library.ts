import { api, dataOf } from '$lib/api/client';
import { adminHeaders } from '$lib/api/admin-token';
import { collectionQuery, DEFAULT_COLLECTION } from '$lib/api/collection-scope';
import type { components } from '$lib/api/openapi';
import { FINISHED_JOB_STATES } from '$lib/api/types';

/**
 * The calls behind the Library view (GET/PUT/POST/DELETE /api/library/folders…) and the words it
 * shows for a folder. Errors come from client.ts (ApiRequestError with the server's message).
 */

export type LibraryFolder = components['schemas']['LibraryFolder'];

/** The collection's folders, by path. */
export async function listLibraryFolders(
  collection = DEFAULT_COLLECTION
): Promise<LibraryFolder[]> {
  const params = { query: collectionQuery(collection) };
  return dataOf(await api.GET('/api/library/folders', { params, cache: 'no-store' })).folders;
}

export async function reindexFolder(
  path: string,
  collection = DEFAULT_COLLECTION
): Promise<string> {
  const params = { query: collectionQuery(collection) };
  const body = { path };
  return dataOf(
    await api.POST('/api/library/folders/reindex', { params, body, headers: adminHeaders() })
  ).jobId;
}

export async function watchFolder(
  path: string,
  watched: boolean,
  collection = DEFAULT_COLLECTION
): Promise<LibraryFolder> {
  const params = { query: collectionQuery(collection) };
  const body = { path, watched };
  return dataOf(
    await api.PUT('/api/library/folders/watch', { params, body, headers: adminHeaders() })
  );
}

/** Takes the folder out of the collection; the files on disk stay. */
export async function removeFolder(
  path: string,
  collection = DEFAULT_COLLECTION
): Promise<{ files: number; pictures: number }> {
  const params = { query: { path, ...collectionQuery(collection) } };
  return dataOf(await api.DELETE('/api/library/folders', { params, headers: adminHeaders() }));
}

/** Whether the folder's last run is still going (the view then asks again soon). */
export function isRunning(folder: LibraryFolder): boolean {
  return folder.lastRun !== undefined && !FINISHED_JOB_STATES.includes(folder.lastRun.state);
}

/** "3 minutes ago", "just now", or the date for anything older than a week. */
export function ago(at: number, now = Date.now()): string {
  const s = Math.round((now - at) / 1000);
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'} ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} hour${h === 1 ? '' : 's'} ago`;
  const d = Math.round(h / 24);
  if (d <= 7) return `${d} day${d === 1 ? '' : 's'} ago`;
  return new Date(at).toLocaleDateString();
}

/** The last run in a few words: its state, when, and what it changed. */
export function lastRunText(folder: LibraryFolder, now = Date.now()): string {
  const run = folder.lastRun;
  if (!run) return 'Not indexed here recently';
  if (!FINISHED_JOB_STATES.includes(run.state)) {
    const of = run.total ? ` of ${run.total}` : '';
    return `${run.state === 'queued' ? 'Queued' : 'Indexing'}: ${run.seen}${of} files looked at`;
  }
  const when = ago(run.finishedAt ?? run.createdAt, now);
  const changes = [
    run.indexed ? `${run.indexed} added` : '',
    run.removed ? `${run.removed} removed` : '',
    run.failed ? `${run.failed} failed` : ''
  ].filter(Boolean);
  const state = run.state === 'done' ? 'Indexed' : run.state[0]!.toUpperCase() + run.state.slice(1);
  return `${state} ${when}${changes.length ? ` (${changes.join(', ')})` : ''}`;
}

/** How the server watches it, when that is worth saying (polling, refused). */
export function watchText(folder: LibraryFolder): string | undefined {
  const watch = folder.watch;
  if (!folder.watched || !watch) return undefined;
  if (watch.mode === 'events') return 'Watching for changes';
  if (watch.mode === 'polling')
    return `Checked every ${Math.round(watch.everyMs / 1000)} s${watch.reason ? ` (${watch.reason})` : ''}`;
  return `Not watched: ${watch.reason}`;
}
