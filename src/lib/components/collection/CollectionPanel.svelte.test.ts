import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IndexJob, ModelInfo } from '$lib/api/types';
import CollectionPanel from './CollectionPanel.svelte';

const offline = vi.hoisted(() => ({ sync: vi.fn(async () => {}), useModel: vi.fn() }));
vi.mock('$lib/offline/offline-index.svelte', () => ({ offlineIndex: offline }));

/** Stands in for the browser's EventSource (jsdom has none); tests push job states through it. */
class FakeEventSource {
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];
  readyState = 1;
  onmessage: ((event: MessageEvent<string>) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }
  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
  emit(job: IndexJob) {
    this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(job) }));
  }
}

const model = {
  id: 'resnet50',
  name: 'ResNet-50',
  dimension: 2048,
  synthetic: false
} as unknown as ModelInfo;

function job(overrides: Partial<IndexJob> = {}): IndexJob {
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
    errors: [],
    createdAt: 1_700_000_000_000,
    ...overrides
  };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A tiny fake server: answers per "METHOD path", records every call. */
function fakeServer(routes: Record<string, (init?: RequestInit) => Response>) {
  const calls: { key: string; body?: unknown }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://localhost');
    const key = `${init?.method ?? 'GET'} ${url.pathname}`;
    calls.push({ key, body: init?.body ? JSON.parse(String(init.body)) : undefined });
    const route = routes[key];
    if (!route) return json({ error: { code: 'not_found', message: `No route ${key}` } }, 404);
    return route(init);
  });
  vi.stubGlobal('fetch', fetchMock);
  return calls;
}

beforeEach(() => {
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
    expect(offline.useModel).toHaveBeenCalledWith('resnet50');
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
});
