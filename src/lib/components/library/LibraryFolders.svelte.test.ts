import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setAdminToken } from '$lib/api/admin-token';
import type { LibraryFolder } from '$lib/state/library';
import LibraryFolders from './LibraryFolders.svelte';

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A tiny fake server: answers per "METHOD path", records every call. */
function fakeServer(routes: Record<string, (request: Request) => Response>) {
  const calls: { key: string; url: string; body?: unknown; authorization?: string }[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request =
        input instanceof Request
          ? input
          : new Request(new URL(String(input), 'http://localhost'), init);
      const url = new URL(request.url);
      const key = `${request.method} ${url.pathname}`;
      const body = await request.clone().text();
      calls.push({
        key,
        url: url.pathname + url.search,
        body: body ? JSON.parse(body) : undefined,
        authorization: request.headers.get('authorization') ?? undefined
      });
      const route = routes[key];
      if (!route) return json({ error: { code: 'not_found', message: `No route ${key}` } }, 404);
      return route(request);
    })
  );
  return calls;
}

const folder = (overrides: Partial<LibraryFolder> = {}): LibraryFolder => ({
  path: '/srv/pictures/2024',
  recursive: true,
  watched: false,
  addedAt: 1_700_000_000_000,
  pictures: 12,
  lastRun: {
    jobId: 'j1',
    state: 'done',
    path: '/srv/pictures/2024',
    recursive: true,
    seen: 12,
    indexed: 12,
    unchanged: 0,
    skipped: 0,
    failed: 0,
    removed: 0,
    errorCount: 0,
    createdAt: Date.now() - 3 * 60_000,
    finishedAt: Date.now() - 2 * 60_000
  },
  ...overrides
});

beforeEach(() => {
  setAdminToken(undefined);
  sessionStorage.clear();
});
afterEach(() => vi.unstubAllGlobals());

describe('LibraryFolders', () => {
  it('lists each folder with its files and last run', async () => {
    fakeServer({ 'GET /api/library/folders': () => json({ folders: [folder()] }) });
    render(LibraryFolders, { online: true });
    const item = await screen.findByTestId('library-folder');
    expect(within(item).getByText('/srv/pictures/2024')).toBeTruthy();
    expect(within(item).getByTestId('folder-files').textContent).toBe('12 files');
    expect(within(item).getByTestId('folder-last-run').textContent).toBe(
      'Indexed 2 minutes ago (12 added)'
    );
  });

  it('watches a folder, asking for the admin token when the server wants it', async () => {
    let watched = false;
    const calls = fakeServer({
      'GET /api/library/folders': () =>
        json({ folders: [folder({ watched, ...(watched ? { watch: { mode: 'events' } } : {}) })] }),
      'PUT /api/library/folders/watch': (request) => {
        if (request.headers.get('authorization') !== 'Bearer s3cret')
          return json({ error: { code: 'unauthorized', message: 'Needs a token' } }, 401);
        watched = true;
        return json(folder({ watched: true }));
      }
    });
    render(LibraryFolders, { online: true, collection: 'trips' });
    const box = await screen.findByRole('checkbox', { name: 'Watch for changes' });
    await fireEvent.click(box);
    const token = await screen.findByLabelText('Admin token');
    await fireEvent.input(token, { target: { value: 's3cret' } });
    await fireEvent.submit(token.closest('form')!);
    await screen.findByText('Watching for changes');
    const puts = calls.filter((c) => c.key === 'PUT /api/library/folders/watch');
    expect(puts.at(-1)).toMatchObject({
      url: '/api/library/folders/watch?collection=trips',
      body: { path: '/srv/pictures/2024', watched: true },
      authorization: 'Bearer s3cret'
    });
  });

  it('forgets a stored token the server refuses, says why, and sends the one typed next', async () => {
    setAdminToken('stale');
    const calls = fakeServer({
      'GET /api/library/folders': () => json({ folders: [folder()] }),
      'POST /api/library/folders/reindex': (request) =>
        request.headers.get('authorization') === 'Bearer s3cret'
          ? json({ jobId: 'j2' }, 202)
          : json({ error: { code: 'unauthorized', message: 'Wrong bearer token' } }, 401)
    });
    render(LibraryFolders, { online: true });
    await fireEvent.click(await screen.findByRole('button', { name: 'Re-index' }));
    const form = await screen.findByTestId('admin-token');
    expect(within(form).getByRole('alert').textContent).toContain('Wrong bearer token');
    // The refused token is not kept: it would be sent again with every change.
    expect(sessionStorage.getItem('lookalike-admin-token')).toBeNull();
    await fireEvent.input(within(form).getByLabelText('Admin token'), {
      target: { value: 's3cret' }
    });
    await fireEvent.submit(form);
    await waitFor(() => expect(screen.queryByTestId('admin-token')).toBeNull());
    const posts = calls.filter((c) => c.key === 'POST /api/library/folders/reindex');
    expect(posts.map((c) => c.authorization)).toEqual(['Bearer stale', 'Bearer s3cret']);
    expect(sessionStorage.getItem('lookalike-admin-token')).toBe('s3cret');
  });

  it('says the token is needed when it is not given', async () => {
    fakeServer({
      'GET /api/library/folders': () => json({ folders: [folder()] }),
      'POST /api/library/folders/reindex': () =>
        json({ error: { code: 'unauthorized', message: 'Needs a token' } }, 401)
    });
    render(LibraryFolders, { online: true });
    await fireEvent.click(await screen.findByRole('button', { name: 'Re-index' }));
    const form = await screen.findByTestId('admin-token');
    await fireEvent.click(within(form).getByRole('button', { name: 'Cancel' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('needs its admin token');
  });

  it('removes a folder only after it is confirmed', async () => {
    let folders = [folder()];
    const calls = fakeServer({
      'GET /api/library/folders': () => json({ folders }),
      'DELETE /api/library/folders': () => {
        folders = [];
        return json({ files: 12, pictures: 12 });
      }
    });
    const changed = vi.fn();
    render(LibraryFolders, { online: true, onchange: changed });
    await fireEvent.click(await screen.findByRole('button', { name: 'Remove…' }));
    expect(calls.some((c) => c.key.startsWith('DELETE'))).toBe(false);
    // It counts files (paths), and files another folder covers stay: said so, not "pictures".
    const question = screen.getByRole('alertdialog');
    expect(question.textContent).toContain('Remove this folder from the collection?');
    expect(question.textContent).toContain('Its 12 files are forgotten');
    expect(question.textContent).toContain('the files stay on disk');
    await fireEvent.click(screen.getByRole('button', { name: 'Keep it' }));
    expect(screen.queryByRole('button', { name: 'Remove folder' })).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Remove…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Remove folder' }));
    await screen.findByText(/No folders yet/);
    expect(calls.find((c) => c.key === 'DELETE /api/library/folders')?.url).toBe(
      `/api/library/folders?path=${encodeURIComponent('/srv/pictures/2024')}`
    );
    await waitFor(() => expect(changed).toHaveBeenCalled());
  });

  it('shows why a removal failed beside the question', async () => {
    fakeServer({
      'GET /api/library/folders': () => json({ folders: [folder()] }),
      'DELETE /api/library/folders': () =>
        json({ error: { code: 'conflict', message: 'A job is still running here' } }, 409)
    });
    render(LibraryFolders, { online: true });
    await fireEvent.click(await screen.findByRole('button', { name: 'Remove…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Remove folder' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('Removing failed: A job is still running here');
  });

  it('says why a watched folder is not watched', async () => {
    fakeServer({
      'GET /api/library/folders': () =>
        json({
          folders: [
            folder({
              watched: true,
              watch: { mode: 'refused', reason: 'not a folder inside the image roots' }
            })
          ]
        })
    });
    render(LibraryFolders, { online: true });
    const note = await screen.findByText('Not watched: not a folder inside the image roots');
    expect(note.classList.contains('warn')).toBe(true);
  });
});
