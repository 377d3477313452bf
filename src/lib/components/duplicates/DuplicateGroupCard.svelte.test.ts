import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { DuplicateGroup } from '$lib/state/duplicates.svelte';
import DuplicateGroupCard from './DuplicateGroupCard.svelte';

const member = (id: number, paths: string[], width: number, format: string) => ({
  id,
  paths,
  width,
  height: (width * 3) / 4,
  bytes: width * 100,
  format,
  score: 0.99,
  modified: Object.fromEntries(paths.map((p) => [p, Date.UTC(2021, 4, 6)])),
  imageUrl: `/api/images/${id}`,
  thumbUrl: `/api/images/${id}/thumb`
});

const group = (reason: DuplicateGroup['reason']): DuplicateGroup => ({
  reason,
  explanation: '2 copies of one picture (re-encoded or resized): cosine ≥ 0.95',
  members: [member(1, ['/p/a.png'], 400, 'png'), member(2, ['/p/a-small.jpg'], 200, 'jpeg')],
  keep: { id: 1, path: '/p/a.png', why: 'the most pixels (400×300)' }
});

describe('DuplicateGroupCard', () => {
  it('marks the keeper with its reason and picks the other copies, moving only once confirmed', async () => {
    const ontrash = vi.fn(async () => {});
    render(DuplicateGroupCard, { group: group('same-picture'), ontrash });
    expect(
      screen.getByRole('heading', { name: 'Same picture, re-encoded or resized' })
    ).toBeTruthy();
    expect(screen.getByTestId('suggested-keep').textContent).toContain('the most pixels (400×300)');
    expect(document.body.textContent).toContain('400×300 · PNG · 39 KB · similarity 0.990');
    expect(
      (screen.getByRole('checkbox', { name: /\/p\/a\.png/ }) as HTMLInputElement).checked
    ).toBe(false);
    expect((screen.getByRole('checkbox', { name: /a-small/ }) as HTMLInputElement).checked).toBe(
      true
    );

    await fireEvent.click(screen.getByRole('button', { name: 'Move 1 file to trash…' }));
    expect(ontrash).not.toHaveBeenCalled();
    const dialog = screen.getByRole('alertdialog', { name: 'Move 1 file to the trash?' });
    expect(dialog.textContent).toContain('Nothing is deleted');
    expect(dialog.textContent).toContain('It is moved into');
    expect(dialog.textContent).not.toContain('They are');
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Move 1 file' }));
    expect(ontrash).toHaveBeenCalledWith(['/p/a-small.jpg']);
  });

  it('picks nothing among look-alikes, and warns when every file is picked', async () => {
    render(DuplicateGroupCard, { group: group('similar-scene'), ontrash: async () => {} });
    const move = screen.getByRole('button', { name: 'Move to trash…' }) as HTMLButtonElement;
    expect(move.disabled).toBe(true);
    for (const box of screen.getAllByRole('checkbox')) await fireEvent.click(box);
    await fireEvent.click(screen.getByRole('button', { name: 'Move 2 files to trash…' }));
    expect(screen.getByRole('alertdialog').textContent).toContain('none of them will stay');
    expect(screen.getByRole('alertdialog').textContent).toContain('They are moved into');
  });

  it('shows when each file changed to the second, so "the oldest file" can be checked', () => {
    const g = group('same-bytes');
    g.members = [member(1, ['/p/a.png', '/p/b.png'], 400, 'png')];
    g.members[0]!.modified = {
      '/p/a.png': new Date(2021, 4, 6, 10, 20, 30).getTime(),
      '/p/b.png': new Date(2021, 4, 6, 10, 20, 45).getTime()
    };
    render(DuplicateGroupCard, { group: g, ontrash: async () => {} });
    const dates = screen.getAllByTestId('file-date').map((d) => d.textContent ?? '');
    expect(dates[0]).toMatch(/10:20:30/);
    expect(dates[1]).toMatch(/10:20:45/);
  });

  it('offers line breaks after each "/" of a path, not inside a name', () => {
    render(DuplicateGroupCard, { group: group('same-picture'), ontrash: async () => {} });
    const path = screen
      .getByRole('checkbox', { name: /a-small/ })
      .parentElement!.querySelector('.path')!;
    expect(path.textContent).toContain('/p/a-small.jpg');
    expect(path.querySelectorAll('wbr')).toHaveLength(2);
  });
});
