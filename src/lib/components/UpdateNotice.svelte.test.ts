import { fireEvent, render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import UpdateNotice from './UpdateNotice.svelte';

/** A service worker container with an old worker in control and, maybe, a new one waiting. */
function fakeContainer(waiting: { postMessage: ReturnType<typeof vi.fn> } | null) {
  const container = Object.assign(new EventTarget(), {
    controller: {} as ServiceWorker | null,
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

  it('reloads this tab, the one that asked, once the new version takes over', async () => {
    const reload = vi.fn();
    vi.stubGlobal('location', { ...location, reload });
    const waiting = { postMessage: vi.fn() };
    const container = fakeContainer(waiting);
    render(UpdateNotice);
    await fireEvent.click(await screen.findByRole('button', { name: 'Reload' }));
    container.dispatchEvent(new Event('controllerchange'));
    container.dispatchEvent(new Event('controllerchange'));
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it('does not reload when the first install claims a page it did not control', async () => {
    const reload = vi.fn();
    vi.stubGlobal('location', { ...location, reload });
    const container = fakeContainer(null);
    container.controller = null as unknown as ServiceWorker;
    render(UpdateNotice);
    container.dispatchEvent(new Event('controllerchange'));
    expect(reload).not.toHaveBeenCalled();
    // A later release taking over does reload.
    container.dispatchEvent(new Event('controllerchange'));
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it('says nothing while no new version waits', async () => {
    fakeContainer(null);
    render(UpdateNotice);
    await new Promise((r) => setTimeout(r, 0));
    await tick();
    expect(screen.queryByTestId('update-notice')).toBeNull();
  });
});
