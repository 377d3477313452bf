import { fireEvent, render, screen } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { resultHiding } from '$lib/state/result-hiding.svelte';
import type { ResultHit } from '$lib/state/search.svelte';
import type { SearchHit } from '$lib/api/types';
import ResultGrid from './ResultGrid.svelte';

const hit = (id: number, score: number): SearchHit => ({
  id,
  path: `/photos/trip/picture-${id}.jpg`,
  score,
  width: 640,
  height: 480,
  imageUrl: `/api/images/${id}`,
  thumbUrl: `/api/images/${id}/thumb`
});

const hits = [hit(7, 0.99871), hit(3, 0.8), hit(12, 0.51234), hit(9, 0.2)];

describe('ResultGrid', () => {
  it('shows each hit with its rank, score to 3 decimals and a lazy thumbnail named by file', () => {
    render(ResultGrid, { hits, onopen: () => {} });
    const items = screen.getAllByRole('listitem');
    expect(items).toHaveLength(4);
    expect(items[0]!.textContent).toContain('#1');
    expect(items[0]!.textContent).toContain('0.999');
    expect(items[2]!.textContent).toContain('0.512');
    const img = screen.getByAltText('picture-7.jpg') as HTMLImageElement;
    expect(img.getAttribute('src')).toBe('/api/images/7/thumb');
    expect(img.getAttribute('loading')).toBe('lazy');
    expect(screen.getByRole('button', { name: '2. picture-3.jpg, score 0.800' })).toBeTruthy();
  });

  it('adds "+N" to the name of a picture stored as several identical files, naming the others', () => {
    const copies: ResultHit = {
      ...hit(4, 0.9),
      path: '/photos/dog-copy.jpg',
      paths: ['/photos/dog-copy.jpg', '/photos/dog.jpg', '/photos/old/dog.jpg']
    };
    render(ResultGrid, { hits: [copies, hit(5, 0.5)], onopen: () => {} });
    const more = screen.getByTestId('more-paths');
    expect(more.textContent).toBe('+2');
    expect(more.closest('.name')!.textContent).toContain('dog-copy.jpg');
    expect(more.getAttribute('title')).toBe('Also: /photos/dog.jpg, /photos/old/dog.jpg');
    expect(
      screen.getByRole('button', { name: /^1\. dog-copy\.jpg \+2 identical files, score/ })
    ).toBeTruthy();
    // One file: no count.
    expect(screen.getAllByTestId('more-paths')).toHaveLength(1);
  });

  it('keeps one result in the tab order and moves focus with the arrow keys, Home and End', async () => {
    render(ResultGrid, { hits, onopen: () => {} });
    const buttons = screen.getAllByRole('button');
    expect(buttons.map((b) => b.tabIndex)).toEqual([0, -1, -1, -1]);

    buttons[0]!.focus();
    await fireEvent.keyDown(buttons[0]!, { key: 'ArrowRight' });
    expect(document.activeElement).toBe(buttons[1]);
    expect(buttons.map((b) => b.tabIndex)).toEqual([-1, 0, -1, -1]);

    await fireEvent.keyDown(buttons[1]!, { key: 'End' });
    expect(document.activeElement).toBe(buttons[3]);
    // At the edge an arrow stays put rather than wrapping around.
    await fireEvent.keyDown(buttons[3]!, { key: 'ArrowRight' });
    expect(document.activeElement).toBe(buttons[3]);

    await fireEvent.keyDown(buttons[3]!, { key: 'ArrowLeft' });
    expect(document.activeElement).toBe(buttons[2]);
    await fireEvent.keyDown(buttons[2]!, { key: 'Home' });
    expect(document.activeElement).toBe(buttons[0]);
  });

  it('opens a result on click with the hit and its index', async () => {
    const onopen = vi.fn();
    render(ResultGrid, { hits, onopen });
    await fireEvent.click(screen.getByRole('button', { name: /^3\. picture-12\.jpg/ }));
    expect(onopen).toHaveBeenCalledWith(hits[2], 2);
  });

  it('moves the tab stop back to the first result when a shorter list arrives', async () => {
    const { rerender } = render(ResultGrid, { hits, onopen: () => {} });
    const buttons = screen.getAllByRole('button');
    buttons[0]!.focus();
    await fireEvent.keyDown(buttons[0]!, { key: 'End' });
    await rerender({ hits: hits.slice(0, 2), onopen: () => {} });
    expect(screen.getAllByRole('button').map((b) => b.tabIndex)).toEqual([0, -1]);
  });

  it('shows "No thumbnail" for one that fails, and tries again for a new result list', async () => {
    const { rerender } = render(ResultGrid, { hits, onopen: () => {} });
    await fireEvent.error(screen.getByAltText('picture-3.jpg'));
    expect(screen.getByTestId('thumb-missing').textContent).toBe('No thumbnail');
    expect(screen.queryByAltText('picture-3.jpg')).toBeNull();
    // The same picture in the next search (the server may be back) gets its image again.
    await rerender({ hits: [hit(3, 0.9), hit(7, 0.5)], onopen: () => {} });
    expect(screen.queryByTestId('thumb-missing')).toBeNull();
    expect(screen.getByAltText('picture-3.jpg')).toBeTruthy();
  });

  it("names each score from the model's bands and marks where the weaker matches start", () => {
    const model = { scores: { strong: 0.8, similar: 0.6, gap: 0.15, measured: 'test' } };
    // Best 0.99 → weaker below max(0.6, 0.84): 0.8 and 0.51 and 0.2.
    render(ResultGrid, { hits, onopen: () => {}, model });
    expect(screen.getAllByRole('listitem')).toHaveLength(4);
    const divider = screen.getByRole('separator');
    expect(divider.textContent?.trim()).toBe('Weaker matches');
    const items = [...divider.parentElement!.children];
    expect(items.indexOf(divider)).toBe(1);
    const buttons = screen.getAllByRole('button');
    expect(buttons.map((b) => b.getAttribute('aria-label'))).toEqual([
      '1. picture-7.jpg, score 0.999, Same picture',
      '2. picture-3.jpg, score 0.800, Same picture',
      '3. picture-12.jpg, score 0.512, Weak',
      '4. picture-9.jpg, score 0.200, Weak'
    ]);
    // In words on the card too, not by colour alone.
    expect(buttons[0]!.textContent).toContain('Same picture');
    expect(buttons[2]!.textContent).toContain('Weak');
  });

  it('says there is no close match when even the best result is weak', () => {
    const model = { scores: { strong: 0.8, similar: 0.6, gap: 0.15, measured: 'test' } };
    render(ResultGrid, { hits: [hit(1, 0.5), hit(2, 0.4)], onopen: () => {}, model });
    const divider = screen.getByRole('separator');
    expect(divider.textContent).toContain('No close match');
    expect([...divider.parentElement!.children].indexOf(divider)).toBe(0);
  });

  it('shows no words and no divider for a model without measured bands (synthetic)', () => {
    render(ResultGrid, { hits, onopen: () => {}, model: { scores: undefined } });
    expect(screen.queryByRole('separator')).toBeNull();
    const text = screen.getByRole('list').textContent ?? '';
    expect(text).not.toMatch(/Same picture|Similar|Weak/);
  });

  describe('hiding the picture itself and copies', () => {
    const bands = { scores: { strong: 0.8, similar: 0.6, gap: 0.15, measured: 'test' } };
    const hashed = (h: SearchHit, dhash: string, isQuery = false): ResultHit => ({
      ...h,
      dhash,
      contentHash: String(h.id).repeat(64).slice(0, 64),
      ...(isQuery ? { isQuery } : {})
    });
    // The query itself (1.000), two copies of it, another picture and a copy of that, and a
    // weak match whose hash is close but which is not "Same picture".
    const list = [
      hashed(hit(1, 1), '0000000000000000', true),
      hashed(hit(2, 0.97), '0000000000000003'),
      hashed(hit(3, 0.95), '0000000000000007'),
      hashed(hit(4, 0.9), 'ffffffffffffffff'),
      hashed(hit(6, 0.85), 'fffffffffffffffe'),
      hashed(hit(5, 0.5), '00000000000000ff')
    ];
    const names = () =>
      screen
        .getAllByRole('button')
        .map((b) => b.getAttribute('aria-label')!.replace(/, score.*/, ''));
    const toggle = (name: RegExp) => screen.getByRole('checkbox', { name }) as HTMLInputElement;

    beforeEach(() => {
      localStorage.clear();
      resultHiding.reload();
    });

    it('shows everything until asked, then hides, says how many, and remembers it', async () => {
      const onopen = vi.fn();
      render(ResultGrid, { hits: list, onopen, model: bands });
      expect(names()).toHaveLength(6);
      expect(screen.queryByTestId('hidden-count')).toBeNull();

      await fireEvent.click(toggle(/Hide re-saved copies/));
      // Each picture's first result stays: the query for its copies, #4 for #5.
      expect(names()).toEqual(['1. picture-1.jpg', '4. picture-4.jpg', '6. picture-5.jpg']);
      expect(screen.getByTestId('hidden-count').textContent).toBe('3 hidden');

      await fireEvent.click(toggle(/Hide the picture itself/));
      // The picture itself goes, and its copies with it: only other pictures remain.
      expect(names()).toEqual(['4. picture-4.jpg', '6. picture-5.jpg']);
      expect(screen.getByTestId('hidden-count').textContent).toBe('4 hidden');

      await fireEvent.click(toggle(/Hide re-saved copies/));
      expect(names()).toEqual([
        '2. picture-2.jpg',
        '3. picture-3.jpg',
        '4. picture-4.jpg',
        '5. picture-6.jpg',
        '6. picture-5.jpg'
      ]);
      expect(screen.getByTestId('hidden-count').textContent).toBe('1 hidden');
      await fireEvent.click(toggle(/Hide re-saved copies/));
      expect(JSON.parse(localStorage.getItem('lookalike.hideResults')!)).toEqual({
        hideQuery: true,
        hideCopies: true
      });

      // Opening a result names it by its place in the whole list.
      await fireEvent.click(screen.getByRole('button', { name: /^4\. picture-4/ }));
      expect(onopen).toHaveBeenCalledWith(list[3], 3);
    });

    it('starts with the saved choice, and moves with the keyboard over what is shown', async () => {
      localStorage.setItem(
        'lookalike.hideResults',
        JSON.stringify({ hideQuery: true, hideCopies: true })
      );
      resultHiding.reload();
      render(ResultGrid, { hits: list, onopen: () => {}, model: bands });
      expect(toggle(/Hide the picture itself/).checked).toBe(true);
      expect(toggle(/Hide re-saved copies/).checked).toBe(true);
      const buttons = screen.getAllByRole('button');
      expect(buttons.map((b) => b.tabIndex)).toEqual([0, -1]);
      buttons[0]!.focus();
      await fireEvent.keyDown(buttons[0]!, { key: 'End' });
      expect(document.activeElement).toBe(buttons[1]);
      await fireEvent.keyDown(buttons[1]!, { key: 'ArrowLeft' });
      expect(document.activeElement).toBe(buttons[0]);
    });

    it('tells the larger view which results are next and previous among those shown', () => {
      resultHiding.set({ hideQuery: true, hideCopies: true });
      const { component } = render(ResultGrid, { hits: list, onopen: () => {}, model: bands });
      // Shown: #4 (index 3) and #6 (index 5).
      expect(component.neighbour(3, 1)).toBe(5);
      expect(component.neighbour(5, -1)).toBe(3);
      expect(component.neighbour(3, -1)).toBeUndefined();
      expect(component.neighbour(5, 1)).toBeUndefined();
    });

    it('measures the weaker matches from the best result shown, not the hidden query', async () => {
      resultHiding.set({ hideQuery: true });
      const near = [
        hashed(hit(1, 1), '0000000000000000', true),
        hashed(hit(2, 0.7), 'ffffffffffffffff'),
        hashed(hit(3, 0.66), '00000000000000ff')
      ];
      render(ResultGrid, { hits: near, onopen: () => {}, model: bands });
      // Against 1.000 both would be "weaker"; against 0.70 neither is.
      expect(screen.queryByRole('separator')).toBeNull();
    });

    it('does not claim "no close match" when the close matches are what is hidden', () => {
      resultHiding.set({ hideQuery: true, hideCopies: true });
      // The query and its two copies are the close matches; only a weak picture remains.
      const copiesOnly = [
        hashed(hit(1, 1), '0000000000000000', true),
        hashed(hit(2, 0.97), '0000000000000003'),
        hashed(hit(3, 0.95), '0000000000000007'),
        hashed(hit(5, 0.5), '00000000000000ff')
      ];
      render(ResultGrid, { hits: copiesOnly, onopen: () => {}, model: bands });
      const divider = screen.getByRole('separator');
      expect(divider.textContent).not.toContain('No close match');
      expect(divider.textContent?.trim()).toBe('Weaker matches (3 close matches hidden)');
    });

    it('says honestly what decides copies for a model without bands', () => {
      resultHiding.set({ hideCopies: true });
      render(ResultGrid, { hits: list, onopen: () => {}, model: { scores: undefined } });
      expect(screen.getByTestId('copies-rule').textContent).toContain(
        'this model has no score bands'
      );
    });

    it('says when this browser cannot tell the picture itself (no Web Crypto on plain HTTP)', async () => {
      resultHiding.set({ hideQuery: true });
      vi.stubGlobal('crypto', {});
      try {
        render(ResultGrid, { hits: list, onopen: () => {}, model: bands });
        expect(screen.getByTestId('query-unknown').textContent).toContain('HTTPS');
      } finally {
        vi.unstubAllGlobals();
      }
    });

    it('says that results from the saved copy cannot be told apart', async () => {
      resultHiding.set({ hideQuery: true, hideCopies: true });
      render(ResultGrid, { hits, onopen: () => {}, model: bands });
      expect(names()).toHaveLength(4);
      expect(screen.getByTestId('hiding-unknown').textContent).toContain('saved copy');
    });
  });
});
