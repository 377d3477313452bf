import { afterEach, describe, expect, it, vi } from 'vitest';
import { keepSavedCopyFresh, SAVED_COPY_CHECK_MS } from './app-shell.svelte';

const offline = vi.hoisted(() => ({ sync: vi.fn(async () => {}) }));
vi.mock('$lib/offline/offline-index.svelte', () => ({ offlineIndex: offline }));

afterEach(() => {
  vi.useRealTimers();
  offline.sync.mockClear();
});

describe('keepSavedCopyFresh', () => {
  it('while online, refreshes the saved copy at once and every minute, and not offline', async () => {
    vi.useFakeTimers();
    const state = $state<{ online: boolean | undefined }>({ online: undefined });
    const stop = $effect.root(() => keepSavedCopyFresh(() => state.online));
    await vi.advanceTimersByTimeAsync(0);
    // Still connecting counts as online: the copy is checked without waiting for health.
    expect(offline.sync).toHaveBeenCalledTimes(1);
    state.online = true;
    await vi.advanceTimersByTimeAsync(SAVED_COPY_CHECK_MS);
    expect(offline.sync).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(SAVED_COPY_CHECK_MS);
    expect(offline.sync).toHaveBeenCalledTimes(3);
    state.online = false;
    await vi.advanceTimersByTimeAsync(3 * SAVED_COPY_CHECK_MS);
    expect(offline.sync).toHaveBeenCalledTimes(3);
    // Back online: refreshed at once.
    state.online = true;
    await vi.advanceTimersByTimeAsync(0);
    expect(offline.sync).toHaveBeenCalledTimes(4);
    stop();
    await vi.advanceTimersByTimeAsync(3 * SAVED_COPY_CHECK_MS);
    expect(offline.sync).toHaveBeenCalledTimes(4);
  });
});

describe('appShell.link', () => {
  it('keeps the collection shown in every link, and none for the default', async () => {
    const { appShell } = await import('./app-shell.svelte');
    const { collections } = await import('./collections.svelte');
    collections.choose('holidays');
    expect(appShell.link('/library')).toBe('/library?collection=holidays');
    expect(appShell.link('/')).toBe('/?collection=holidays');
    collections.choose('default');
    expect(appShell.link('/duplicates')).toBe('/duplicates');
  });
});
