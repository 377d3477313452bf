import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { createRawSnippet } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import ConfirmAction from './ConfirmAction.svelte';
import ClearCollection from './collection/ClearCollection.svelte';
import DeleteCollection from './collection/DeleteCollection.svelte';

const body = createRawSnippet(() => ({ render: () => '<p>The files on disk stay.</p>' }));

const props = (onconfirm: () => Promise<void>, extra: Record<string, unknown> = {}) => ({
  label: 'Empty the trash…',
  title: 'Empty the trash?',
  body,
  confirmLabel: 'Empty it',
  busyLabel: 'Emptying…',
  keepLabel: 'Keep it',
  failureLabel: 'Emptying failed',
  onconfirm,
  ...extra
});

describe('ConfirmAction', () => {
  it('asks in place with the safe choice focused; Escape and the safe choice go back', async () => {
    const onconfirm = vi.fn(async () => {});
    render(ConfirmAction, props(onconfirm));
    await fireEvent.click(screen.getByRole('button', { name: 'Empty the trash…' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Empty the trash?' });
    expect(dialog.getAttribute('aria-describedby')).toBeTruthy();
    expect(dialog.textContent).toContain('The files on disk stay.');
    const keep = within(dialog).getByRole('button', { name: 'Keep it' });
    await waitFor(() => expect(document.activeElement).toBe(keep));
    await fireEvent.keyDown(dialog, { key: 'Escape' });
    expect(screen.queryByRole('alertdialog')).toBeNull();
    await waitFor(() =>
      expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Empty the trash…' }))
    );
    await fireEvent.click(screen.getByRole('button', { name: 'Empty the trash…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Keep it' }));
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(onconfirm).not.toHaveBeenCalled();
  });

  it('acts once confirmed, says it is busy meanwhile, and closes when done', async () => {
    let finish!: () => void;
    const onconfirm = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    render(ConfirmAction, props(onconfirm));
    await fireEvent.click(screen.getByRole('button', { name: 'Empty the trash…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Empty it' }));
    expect(onconfirm).toHaveBeenCalledTimes(1);
    const busy = screen.getByRole('button', { name: 'Emptying…' }) as HTMLButtonElement;
    expect(busy.disabled).toBe(true);
    expect((screen.getByRole('button', { name: 'Keep it' }) as HTMLButtonElement).disabled).toBe(
      true
    );
    finish();
    await waitFor(() => expect(screen.queryByRole('alertdialog')).toBeNull());
    await waitFor(() =>
      expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Empty the trash…' }))
    );
  });

  it('shows why it failed and stays open to try again', async () => {
    const onconfirm = vi.fn(async () => {
      throw new Error('the disk is full');
    });
    render(ConfirmAction, props(onconfirm));
    await fireEvent.click(screen.getByRole('button', { name: 'Empty the trash…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Empty it' }));
    expect((await screen.findByRole('alert')).textContent).toBe(
      'Emptying failed: the disk is full'
    );
    expect(screen.getByRole('alertdialog')).toBeTruthy();
  });

  it('cannot be asked while disabled or unavailable, and says why it is unavailable', async () => {
    const { rerender } = render(
      ConfirmAction,
      props(async () => {}, { disabled: true })
    );
    const open = () =>
      screen.getByRole('button', { name: 'Empty the trash…' }) as HTMLButtonElement;
    expect(open().disabled).toBe(true);
    await rerender(props(async () => {}, { unavailable: 'The trash is empty' }));
    expect(open().disabled).toBe(true);
    expect(open().title).toBe('The trash is empty');
  });

  it('marks a danger action red and a normal one as the primary button', async () => {
    const { rerender } = render(
      ConfirmAction,
      props(async () => {})
    );
    await fireEvent.click(screen.getByRole('button', { name: 'Empty the trash…' }));
    expect(screen.getByRole('button', { name: 'Empty it' }).className).toContain('danger');
    expect(screen.getByRole('alertdialog').className).toContain('danger');
    await rerender(props(async () => {}, { tone: 'normal' }));
    expect(screen.getByRole('button', { name: 'Empty it' }).className).toContain('primary');
    expect(screen.getByRole('alertdialog').className).not.toContain('danger');
  });
});

describe('ClearCollection and DeleteCollection, through ConfirmAction', () => {
  it('clear: names the pictures, refuses an empty collection', async () => {
    const onclear = vi.fn(async () => {});
    const { rerender } = render(ClearCollection, { count: 1, onclear });
    await fireEvent.click(screen.getByRole('button', { name: 'Clear collection…' }));
    expect(
      screen.getByRole('alertdialog', { name: 'Clear the collection?' }).textContent
    ).toContain('forget 1 picture.');
    await fireEvent.click(screen.getByRole('button', { name: 'Forget 1 picture' }));
    expect(onclear).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(screen.queryByRole('alertdialog')).toBeNull());
    await rerender({ count: 0, onclear });
    const open = screen.getByRole('button', { name: 'Clear collection…' }) as HTMLButtonElement;
    expect(open.disabled).toBe(true);
    expect(open.title).toBe('The collection is already empty');
  });

  it('delete: names the collection and its pictures, and shows a failure', async () => {
    const ondelete = vi.fn(async () => {
      throw new Error('a job is running');
    });
    render(DeleteCollection, { name: 'walls', count: 3, ondelete });
    await fireEvent.click(screen.getByRole('button', { name: 'Delete collection…' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Delete the collection “walls”?' });
    expect(dialog.textContent).toContain('its 3 pictures, its index and its jobs');
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Delete “walls”' }));
    expect((await screen.findByRole('alert')).textContent).toBe(
      'Deleting failed: a job is running'
    );
  });
});
