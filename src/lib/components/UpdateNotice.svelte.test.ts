import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import UpdateNotice from './UpdateNotice.svelte';

/** A service worker container with an old worker in control and, maybe, a new one waiting. */
function fakeContainer(waiting: { postMessage: ReturnType<typeof vi.fn> } | null) {
  const container = Object.assign(new EventTarget(), {
    controller: {} as ServiceWorker,
    ready: Promise.resolve(
      Object.assign(new EventTarget(), { waiting, installing: null }) as unknown
    )
  });
  vi.stubGlobal('navigator', { ...navigator, serviceWorker: container });
  return container;
}

afterEach(() => vi.unstubAllGlobals());

describe('UpdateNotice', () => {
  it('offers a waiting new version, and asks it to take over on Reload', async () => {
    const waiting = { postMessage: vi.fn() };
    fakeContainer(waiting);
    render(UpdateNotice);
    const notice = await screen.findByTestId('update-notice');
    expect(notice.textContent).toContain('A new version of Lookalike is available');
    await fireEvent.click(screen.getByRole('button', { name: 'Reload' }));
    expect(waiting.postMessage).toHaveBeenCalledWith({ type: 'lookalike:skip-waiting' });
  });

  it('says nothing while no new version waits', async () => {
    fakeContainer(null);
    render(UpdateNotice);
    await Promise.resolve();
    expect(screen.queryByTestId('update-notice')).toBeNull();
  });
});
