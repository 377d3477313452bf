import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IndexJob, IndexJobError, ModelInfo } from '$lib/api/types';
import CollectionPanel from './CollectionPanel.svelte';
import { setAdminToken } from '$lib/api/admin-token';

const offline = vi.hoisted(() => ({ sync: vi.fn(async () => {}), useModel: vi.fn() }));
vi.mock('$lib/offline/offline-index.svelte', () => ({ offlineIndex: offline }));

/**
 * Stands in for the browser's EventSource (jsdom has none); tests push job states (progress
 * events, without the error list) and `errors` events through it.
 */
class FakeEventSource {
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];
  readyState = 1;
  onmessage: ((event: MessageEvent<string>) => void) | null = null;
  onerror: (() => void) | null = null;
  private readonly listeners = new Map<string, ((event: MessageEvent<string>) => void)[]>();
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  /** The stream ends for good (as after a 404 or 503 answer): EventSource gives up. */
  fail() {
    this.readyState = FakeEventSource.CLOSED;
    this.onerror?.();
  }
  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }
  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
  emit({ errors: _, ...progress }: IndexJob) {
    this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(progress) }));
  }
  emitErrors(offset: number, errors: IndexJobError[]) {
    const data = JSON.stringify({ offset, errors });
    for (const listener of this.listeners.get('errors') ?? [])
      listener(new MessageEvent('errors', { data }));
  }
}

const model = {
  id: 'resnet50',
  name: 'ResNet-50',
  dimension: 2048,
  synthetic: false
} as unknown as ModelInfo;

function job(overrides: Partial<IndexJob> = {}): IndexJob {
  const errors = overrides.errors ?? [];
  return {
    jobId: 'job-1',
    state: 'running',
    path: '/srv/pictures',
    recursive: true,
    seen: 0,
    indexed: 0,
    unchanged: 0,
    skipped: 0,
    failed: 0,
    removed: 0,
    errors: errors.slice(0, 20),
    errorCount: errors.length,
    createdAt: 1_700_000_000_000,
    ...overrides,
    ...(overrides.errors ? { errors: errors.slice(0, 20) } : {})
  };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A tiny fake server: answers per "METHOD path", records every call. */
function fakeServer(routes: Record<string, (init?: RequestInit) => Response>) {
  const calls: { key: string; url: string; body?: unknown; authorization?: string }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    // The page's typed client (openapi-fetch) hands fetch a Request.
    const request =
      input instanceof Request
        ? input
        : new Request(new URL(String(input), 'http://localhost'), init);
    const url = new URL(request.url);
    const key = `${request.method} ${url.pathname}`;
    const body = await request.text();
    calls.push({
      key,
      url: url.pathname + url.search,
      body: body ? JSON.parse(body) : undefined,
      authorization: request.headers.get('authorization') ?? undefined
    });
    const route = routes[key];
    if (!route) return json({ error: { code: 'not_found', message: `No route ${key}` } }, 404);
    return route({ method: request.method, headers: request.headers });
  });
  vi.stubGlobal('fetch', fetchMock);
  return calls;
}

const unauthorized = (message: string) => json({ error: { code: 'unauthorized', message } }, 401);

/** What the server with LOOKALIKE_ADMIN_TOKEN=s3cret answers to a change. */
const guarded = (answer: () => Response) => (init?: RequestInit) => {
  const authorization = new Headers(init?.headers).get('authorization');
  if (!authorization) return unauthorized('This endpoint needs "Authorization: Bearer <…>"');
  return authorization === 'Bearer s3cret' ? answer() : unauthorized('Wrong bearer token');
};

beforeEach(() => {
  setAdminToken(undefined); // also the in-memory copy a previous test left
  sessionStorage.clear();
  FakeEventSource.instances = [];
  vi.stubGlobal('EventSource', FakeEventSource);
  offline.sync.mockClear();
  offline.useModel.mockClear();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('CollectionPanel', () => {
  it('shows how many pictures the collection holds and which model built it', async () => {
    fakeServer({
      'GET /api/images/count': () => json({ count: 1234 }),
      'GET /api/index': () => json({ jobs: [] })
    });
    render(CollectionPanel, { online: true, model });
    const count = await screen.findByTestId('image-count');
    expect(count.dataset.count).toBe('1234');
    expect(count.textContent).toContain('1234');
    expect(screen.getByText('ResNet-50')).toBeTruthy();
  });

  it('says the collection is empty', async () => {
    fakeServer({
      'GET /api/images/count': () => json({ count: 0 }),
      'GET /api/index': () => json({ jobs: [] })
    });
    render(CollectionPanel, { online: true, model });
    expect((await screen.findByTestId('image-count')).textContent).toMatch(/empty/);
    expect(
      (screen.getByRole('button', { name: /clear collection/i }) as HTMLButtonElement).disabled
    ).toBe(true);
  });

  it('indexes a folder and follows its progress to the end', async () => {
    let count = 3;
    const calls = fakeServer({
      'GET /api/images/count': () => json({ count }),
      'GET /api/index': () => json({ jobs: [] }),
      'POST /api/index': () => json({ jobId: 'job-1' }, 202)
    });
    const onchange = vi.fn();
    render(CollectionPanel, { online: true, model, onchange });
    await screen.findByTestId('image-count');

    await fireEvent.input(screen.getByLabelText('Folder on the server'), {
      target: { value: '  /srv/pictures ' }
    });
    await fireEvent.click(screen.getByLabelText('Include subfolders'));
    await fireEvent.click(screen.getByRole('button', { name: 'Start' }));

    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect(calls.find((c) => c.key === 'POST /api/index')?.body).toEqual({
      path: '/srv/pictures',
      recursive: false
    });
    const source = FakeEventSource.instances[0]!;
    expect(source.url).toBe('/api/index/job-1/events');

    source.emit(job({ seen: 5, indexed: 4, skipped: 1 }));
    await waitFor(() => expect(screen.getByText('Indexing…')).toBeTruthy());
    const bar = screen.getByRole('progressbar', { name: 'Indexing progress' });
    expect(bar.hasAttribute('value')).toBe(false); // no total known: indeterminate
    expect(
      (screen.getByRole('button', { name: 'Start' }).closest('fieldset') as HTMLFieldSetElement)
        .disabled
    ).toBe(true);

    count = 9;
    source.emitErrors(0, [{ path: '/srv/pictures/notes.txt', reason: 'not an image' }]);
    source.emitErrors(1, [{ path: '/srv/pictures/broken.jpg', reason: 'truncated JPEG' }]);
    source.emit(
      job({
        state: 'done',
        seen: 12,
        indexed: 9,
        unchanged: 0,
        skipped: 2,
        failed: 1,
        removed: 0,
        errors: [
          { path: '/srv/pictures/notes.txt', reason: 'not an image' },
          { path: '/srv/pictures/broken.jpg', reason: 'truncated JPEG' }
        ],
        finishedAt: 1_700_000_004_200
      })
    );
    await waitFor(() => expect(screen.getByText('Finished.')).toBeTruthy());
    expect(source.readyState).toBe(FakeEventSource.CLOSED);
    const counters = Object.fromEntries(
      [...document.querySelectorAll<HTMLElement>('[data-counter]')].map((el) => [
        el.dataset.counter,
        el.querySelector('dd')?.textContent
      ])
    );
    expect(counters).toEqual({
      seen: '12',
      indexed: '9',
      unchanged: '0',
      skipped: '2',
      failed: '1',
      removed: '0'
    });
    expect(screen.getByText('(4.2 s)')).toBeTruthy();
    const details = screen.getByText('2 files could not be indexed').closest('details')!;
    expect(details.open).toBe(false);
    expect(within(details).getByText('/srv/pictures/broken.jpg')).toBeTruthy();
    expect(details.textContent).toContain('truncated JPEG');
    expect(within(details).getAllByRole('listitem')).toHaveLength(2);

    await waitFor(() => expect(screen.getByTestId('image-count').dataset.count).toBe('9'));
    expect(onchange).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(offline.sync).toHaveBeenCalledTimes(1));
  });

  it("shows the server's message when the path is refused", async () => {
    fakeServer({
      'GET /api/images/count': () => json({ count: 3 }),
      'GET /api/index': () => json({ jobs: [] }),
      'POST /api/index': () =>
        json(
          {
            error: {
              code: 'path_not_allowed',
              message: '/etc is outside the allowed image folders (/srv/pictures)'
            }
          },
          403
        )
    });
    render(CollectionPanel, { online: true, model });
    await fireEvent.input(screen.getByLabelText('Folder on the server'), {
      target: { value: '/etc' }
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Start' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain(
      '/etc is outside the allowed image folders (/srv/pictures)'
    );
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it('follows again a job that was running before the page loaded, and cancels it', async () => {
    const calls = fakeServer({
      'GET /api/images/count': () => json({ count: 3 }),
      'GET /api/index': () =>
        json({
          jobs: [job({ jobId: 'job-7', state: 'paused', seen: 40 }), job({ state: 'done' })]
        }),
      'DELETE /api/index/job-7': () => json(job({ jobId: 'job-7', state: 'running' }))
    });
    render(CollectionPanel, { online: true, model });
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect(FakeEventSource.instances[0]!.url).toBe('/api/index/job-7/events');
    expect(screen.getByText(/Paused: a store is unavailable/)).toBeTruthy();

    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(calls.map((c) => c.key)).toContain('DELETE /api/index/job-7'));
    expect(screen.getAllByText('Cancelling…').length).toBeGreaterThan(0);

    FakeEventSource.instances[0]!.emit(
      job({ jobId: 'job-7', state: 'cancelled', seen: 50, finishedAt: 1_700_000_001_000 })
    );
    await waitFor(() => expect(screen.getByText(/^Cancelled\./)).toBeTruthy());
    expect(screen.queryByRole('button', { name: 'Cancel' })).toBeNull();
  });

  it('clears the collection only after a confirmation that says how many pictures go', async () => {
    let count = 12;
    const calls = fakeServer({
      'GET /api/images/count': () => json({ count }),
      'GET /api/index': () => json({ jobs: [] }),
      'DELETE /api/images': () => {
        count = 0;
        return json({ cleared: true });
      }
    });
    const onchange = vi.fn();
    render(CollectionPanel, { online: true, model, onchange });
    await screen.findByTestId('image-count');

    await fireEvent.click(screen.getByRole('button', { name: 'Clear collection…' }));
    const dialog = screen.getByRole('alertdialog');
    expect(dialog.textContent).toContain('forget 12 pictures');
    expect(dialog.textContent).toContain('files on disk are not touched');
    const keep = within(dialog).getByRole('button', { name: 'Keep them' });
    await waitFor(() => expect(document.activeElement).toBe(keep));
    await fireEvent.click(keep);
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(calls.map((c) => c.key)).not.toContain('DELETE /api/images');

    await fireEvent.click(screen.getByRole('button', { name: 'Clear collection…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Forget 12 pictures' }));
    await waitFor(() => expect(screen.getByTestId('image-count').dataset.count).toBe('0'));
    expect(calls.map((c) => c.key)).toContain('DELETE /api/images');
    await waitFor(() => expect(onchange).toHaveBeenCalledTimes(1));
    await waitFor(() => expect(offline.sync).toHaveBeenCalledTimes(1));
  });

  it('is disabled with a reason while the server cannot be reached', async () => {
    const calls = fakeServer({});
    render(CollectionPanel, { online: false, model });
    expect(screen.getByRole('note').textContent).toMatch(/indexing and clearing need it/);
    expect(
      (screen.getByLabelText('Folder on the server').closest('fieldset') as HTMLFieldSetElement)
        .disabled
    ).toBe(true);
    expect(
      (screen.getByRole('button', { name: /clear collection/i }) as HTMLButtonElement).disabled
    ).toBe(true);
    expect(calls).toHaveLength(0);
  });

  it('asks for the admin token when the server wants one, keeps it, and sends it', async () => {
    const calls = fakeServer({
      'GET /api/images/count': () => json({ count: 3 }),
      'GET /api/index': () => json({ jobs: [] }),
      'POST /api/index': guarded(() => json({ jobId: 'job-1' }, 202)),
      'DELETE /api/index/job-1': guarded(() => json(job()))
    });
    render(CollectionPanel, { online: true, model });
    await fireEvent.input(screen.getByLabelText('Folder on the server'), {
      target: { value: '/srv/pictures' }
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Start' }));

    const form = await screen.findByTestId('admin-token');
    expect(form.textContent).toContain(
      'This server needs its admin token to change the collection'
    );
    expect(screen.queryByRole('alert')).toBeNull(); // nothing was refused yet: only asked
    // A wrong token: refused with the server's reason, asked again.
    await fireEvent.input(screen.getByLabelText('Admin token'), { target: { value: 'nope' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Use token' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('Wrong bearer'));
    expect(sessionStorage.getItem('lookalike-admin-token')).toBeNull();

    await fireEvent.input(screen.getByLabelText('Admin token'), { target: { value: 's3cret' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Use token' }));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect(screen.queryByTestId('admin-token')).toBeNull();
    expect(sessionStorage.getItem('lookalike-admin-token')).toBe('s3cret');
    const posts = calls.filter((c) => c.key === 'POST /api/index');
    expect(posts.map((c) => c.authorization)).toEqual([undefined, 'Bearer nope', 'Bearer s3cret']);

    // The kept token goes with the next change at once.
    FakeEventSource.instances[0]!.emit(job());
    await fireEvent.click(await screen.findByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(calls.map((c) => c.key)).toContain('DELETE /api/index/job-1'));
    expect(calls.find((c) => c.key === 'DELETE /api/index/job-1')?.authorization).toBe(
      'Bearer s3cret'
    );
    expect(screen.queryByTestId('admin-token')).toBeNull();
  });

  it('clearing waits for the admin token, and says so when it is not given', async () => {
    const calls = fakeServer({
      'GET /api/images/count': () => json({ count: 5 }),
      'GET /api/index': () => json({ jobs: [] }),
      'DELETE /api/images': guarded(() => json({ cleared: true }))
    });
    render(CollectionPanel, { online: true, model });
    await screen.findByTestId('image-count');
    await fireEvent.click(screen.getByRole('button', { name: 'Clear collection…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Forget 5 pictures' }));
    await screen.findByTestId('admin-token');
    await fireEvent.click(within(screen.getByTestId('admin-token')).getByText('Cancel'));
    await waitFor(() =>
      expect(screen.getByRole('alert').textContent).toContain('needs its admin token')
    );
    expect(calls.filter((c) => c.key === 'DELETE /api/images')).toHaveLength(1);
    expect(offline.sync).not.toHaveBeenCalled();
  });

  it('when the event stream is lost, asks for the job and shows how it ended', async () => {
    fakeServer({
      'GET /api/images/count': () => json({ count: 3 }),
      'GET /api/index': () => json({ jobs: [job({ jobId: 'job-7', seen: 4 })] }),
      'GET /api/index/job-7': () =>
        json(job({ jobId: 'job-7', state: 'done', seen: 9, finishedAt: 1_700_000_002_000 }))
    });
    const onchange = vi.fn();
    render(CollectionPanel, { online: true, model, onchange });
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    await screen.findByText('Indexing…');
    FakeEventSource.instances[0]!.fail();
    await screen.findByText('Finished.');
    expect(
      (screen.getByLabelText('Folder on the server').closest('fieldset') as HTMLFieldSetElement)
        .disabled
    ).toBe(false);
    await waitFor(() => expect(onchange).toHaveBeenCalledTimes(1));
  });

  it('when the job cannot be asked about either, marks it lost and frees the form', async () => {
    fakeServer({
      'GET /api/images/count': () => json({ count: 3 }),
      'GET /api/index': () => json({ jobs: [job({ jobId: 'job-7', seen: 4 })] })
      // GET /api/index/job-7: 404, the server no longer knows it
    });
    render(CollectionPanel, { online: true, model });
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    FakeEventSource.instances[0]!.fail();
    await screen.findByText(/Lost track of this job/);
    expect(
      (screen.getByLabelText('Folder on the server').closest('fieldset') as HTMLFieldSetElement)
        .disabled
    ).toBe(false);
    expect(screen.queryByRole('button', { name: 'Cancel' })).toBeNull();
  });

  it('shows a determinate bar and "N of M files" once the server has counted the files', async () => {
    fakeServer({
      'GET /api/images/count': () => json({ count: 3 }),
      'GET /api/index': () => json({ jobs: [job({ jobId: 'job-7', seen: 4 })] })
    });
    render(CollectionPanel, { online: true, model });
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const bar = () =>
      screen.getByRole('progressbar', { name: 'Indexing progress' }) as HTMLProgressElement;
    await screen.findByText('Indexing…');
    expect(bar().hasAttribute('value')).toBe(false);
    expect(screen.queryByTestId('job-fraction')).toBeNull();
    FakeEventSource.instances[0]!.emit(job({ jobId: 'job-7', seen: 30, total: 120 }));
    await waitFor(() =>
      expect(screen.getByTestId('job-fraction').textContent).toBe('30 of 120 files')
    );
    expect(bar().max).toBe(120);
    expect(bar().value).toBe(30);
  });

  it('lists the first errors of a finished job and fetches the rest on request', async () => {
    const errors = Array.from({ length: 250 }, (_, i) => ({
      path: `/srv/pictures/bad-${i}.txt`,
      reason: 'not an image'
    }));
    const calls = fakeServer({
      'GET /api/images/count': () => json({ count: 3 }),
      'GET /api/index': () => json({ jobs: [job({ jobId: 'job-7', seen: 4 })] }),
      'GET /api/index/job-7': () =>
        json(job({ jobId: 'job-7', state: 'done', seen: 256, skipped: 250, errors })),
      'GET /api/index/job-7/errors': () => {
        const url = new URL(calls.at(-1)!.url, 'http://localhost');
        const offset = Number(url.searchParams.get('offset'));
        const limit = Number(url.searchParams.get('limit'));
        return json({ total: 250, offset, errors: errors.slice(offset, offset + limit) });
      }
    });
    render(CollectionPanel, { online: true, model });
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    FakeEventSource.instances[0]!.fail();
    await screen.findByText('Finished.');
    const details = screen.getByText('250 files could not be indexed').closest('details')!;
    expect(within(details).getAllByRole('listitem')).toHaveLength(20);
    await fireEvent.click(within(details).getByRole('button', { name: 'Show all 250' }));
    await waitFor(() => expect(within(details).getAllByRole('listitem')).toHaveLength(250));
    expect(details.textContent).toContain('/srv/pictures/bad-249.txt');
    expect(within(details).queryByRole('button', { name: /Show all/ })).toBeNull();
    expect(calls.filter((c) => c.key === 'GET /api/index/job-7/errors').length).toBeGreaterThan(0);
  });

  it('sends every call of a named collection to it: count, jobs, index, progress, clear', async () => {
    const calls = fakeServer({
      'GET /api/images/count': () => json({ count: 2 }),
      'GET /api/index': () => json({ jobs: [] }),
      'POST /api/index': () => json({ jobId: 'job-1' }, 202),
      'DELETE /api/images': () => json({ cleared: true })
    });
    render(CollectionPanel, { online: true, model, collection: 'wallpapers' });
    await screen.findByTestId('image-count');
    expect(screen.getByTestId('collection-name').textContent).toContain('wallpapers');

    await fireEvent.input(screen.getByLabelText('Folder on the server'), {
      target: { value: '/srv/walls' }
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Start' }));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect(FakeEventSource.instances[0]!.url).toBe('/api/index/job-1/events?collection=wallpapers');
    FakeEventSource.instances[0]!.emit(job({ state: 'done', finishedAt: 1_700_000_001_000 }));
    await waitFor(() => expect(screen.getByText('Finished.')).toBeTruthy());

    await fireEvent.click(screen.getByRole('button', { name: 'Clear collection…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Forget 2 pictures' }));
    await waitFor(() => expect(calls.map((c) => c.key)).toContain('DELETE /api/images'));

    for (const call of calls) {
      expect(new URL(call.url, 'http://x').searchParams.get('collection'), call.key).toBe(
        'wallpapers'
      );
    }
  });

  it('makes no collection query for the default (the requests stay as before)', async () => {
    const calls = fakeServer({
      'GET /api/images/count': () => json({ count: 2 }),
      'GET /api/index': () => json({ jobs: [] })
    });
    render(CollectionPanel, { online: true, model });
    await screen.findByTestId('image-count');
    expect(calls.map((c) => c.url).sort()).toEqual(['/api/images/count', '/api/index?limit=10']);
    // The default always exists: it is cleared, never deleted.
    expect(screen.queryByRole('button', { name: 'Delete collection…' })).toBeNull();
  });

  it('deletes a named collection after a confirmation, with the admin token when asked', async () => {
    setAdminToken('s3cret');
    const calls = fakeServer({
      'GET /api/images/count': () => json({ count: 4 }),
      'GET /api/index': () => json({ jobs: [] }),
      'DELETE /api/collections/wallpapers': guarded(() => json({ deleted: true })),
      'GET /api/collections': () =>
        json({
          collections: [{ name: 'default', model: null, images: 0, default: true }]
        })
    });
    const ondeleted = vi.fn();
    render(CollectionPanel, { online: true, model, collection: 'wallpapers', ondeleted });
    await screen.findByTestId('image-count');

    await fireEvent.click(screen.getByRole('button', { name: 'Delete collection…' }));
    const dialog = screen.getByRole('alertdialog');
    expect(dialog.textContent).toContain('“wallpapers”');
    expect(dialog.textContent).toContain('its 4 pictures');
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Keep it' }));
    expect(calls.map((c) => c.key)).not.toContain('DELETE /api/collections/wallpapers');

    await fireEvent.click(screen.getByRole('button', { name: 'Delete collection…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Delete “wallpapers”' }));
    await waitFor(() => expect(ondeleted).toHaveBeenCalledWith('wallpapers'));
    const call = calls.find((c) => c.key === 'DELETE /api/collections/wallpapers');
    expect(call?.authorization).toBe('Bearer s3cret');
  });

  it('creates a collection with a chosen model and switches to it', async () => {
    const calls = fakeServer({
      'GET /api/images/count': () => json({ count: 0 }),
      'GET /api/index': () => json({ jobs: [] }),
      'POST /api/collections': () =>
        json(
          { name: 'walls', model: { id: 'tiny', dimension: 128 }, images: 0, default: false },
          201
        ),
      'GET /api/collections': () => json({ collections: [] }),
      'GET /api/models': () =>
        json({
          models: [
            { id: 'resnet50', name: 'ResNet-50', dimension: 2048, synthetic: false, default: true },
            { id: 'tiny', name: 'Tiny', dimension: 128, synthetic: true, default: false }
          ].map((m) => ({ ...m, available: true, availability: 'cached', note: 'Installed.' }))
        })
    });
    const onswitch = vi.fn();
    render(CollectionPanel, { online: true, model, serverModel: 'resnet50', onswitch });
    await screen.findByTestId('image-count');

    await fireEvent.click(screen.getByText('New collection…'));
    const name = screen.getByLabelText('Name');
    await fireEvent.input(name, { target: { value: 'no spaces' } });
    expect(screen.getByText(/Letters, digits/)).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Create' }) as HTMLButtonElement).disabled).toBe(
      true
    );

    await fireEvent.input(name, { target: { value: 'walls' } });
    const models = screen.getByLabelText('Model') as HTMLSelectElement;
    await waitFor(() => expect(models.options).toHaveLength(2));
    await fireEvent.change(models, { target: { value: 'tiny' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Create' }));
    await waitFor(() => expect(onswitch).toHaveBeenCalledWith('walls'));
    expect(calls.find((c) => c.key === 'POST /api/collections')?.body).toEqual({
      name: 'walls',
      model: 'tiny'
    });
  });
});
