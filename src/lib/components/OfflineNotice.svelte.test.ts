import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { OfflineStatus } from '$lib/offline/offline-index.svelte';
import OfflineNotice from './OfflineNotice.svelte';

const offline = vi.hoisted(() => ({
  status: { available: false, syncing: false } as OfflineStatus,
  load: vi.fn(async () => {}),
  sync: vi.fn(async () => {})
}));
vi.mock('$lib/offline/offline-index.svelte', () => ({ offlineIndex: offline }));

const SAVED_AT = Date.UTC(2026, 10, 20, 9, 30);

beforeEach(() => {
  offline.load.mockClear();
  offline.sync.mockClear();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('OfflineNotice', () => {
  it('offline with a saved copy: says search runs on it, how many pictures and from when', () => {
    offline.status = {
      available: true,
      syncing: false,
      version: 'v1',
      savedAt: SAVED_AT,
      count: 1500,
      modelId: 'resnet50',
      bytes: 3_400_000
    };
    render(OfflineNotice, { online: false });
    const notice = screen.getByTestId('offline-notice');
    expect(notice.textContent).toMatch(/Search runs on the copy saved on this device/);
    // The header's status says "Offline"; this notice does not say it again.
    expect(notice.textContent).not.toMatch(/offline/i);
    expect(notice.textContent).toContain('1500 pictures');
    expect(notice.querySelector('time')?.getAttribute('datetime')).toBe(
      new Date(SAVED_AT).toISOString()
    );
    expect(screen.queryByRole('button', { name: 'Refresh saved copy' })).toBeNull();
    expect(offline.sync).not.toHaveBeenCalled();
  });

  it('offline without a saved copy: says search needs the server', () => {
    offline.status = { available: false, syncing: false };
    render(OfflineNotice, { online: false });
    expect(screen.getByTestId('offline-notice').textContent).toMatch(
      /no saved copy on this device.*search needs the server/is
    );
  });

  it('online: shows the saved copy, and refreshes it on request', async () => {
    offline.status = {
      available: true,
      syncing: false,
      version: 'v1',
      savedAt: SAVED_AT,
      count: 1,
      modelId: 'resnet50',
      bytes: 2048
    };
    render(OfflineNotice, { online: true });
    const saved = screen.getByTestId('saved-copy');
    expect(saved.textContent).toContain('Saved copy: 1 picture, from');
    expect(saved.textContent).toContain('(2 KB)');
    expect(offline.sync).not.toHaveBeenCalled(); // the app shell keeps it fresh, not the notice
    await fireEvent.click(screen.getByRole('button', { name: 'Refresh saved copy' }));
    expect(offline.sync).toHaveBeenCalledTimes(1);
  });

  it('shows the download while a new copy is saved', () => {
    offline.status = {
      available: false,
      syncing: true,
      download: { received: 1024 * 1024, total: 4 * 1024 * 1024 }
    };
    render(OfflineNotice, { online: true });
    expect(screen.getByTestId('saved-copy').textContent).toContain('1.0 MB of 4.0 MB');
    const bar = screen.getByRole('progressbar', {
      name: 'Saving for offline'
    }) as HTMLProgressElement;
    expect(bar.value).toBe(1024 * 1024);
    expect(
      (screen.getByRole('button', { name: 'Refreshing…' }) as HTMLButtonElement).disabled
    ).toBe(true);
  });
});
