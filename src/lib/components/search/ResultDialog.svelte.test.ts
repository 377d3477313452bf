import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SearchHit } from '$lib/api/types';
import ResultDialog from './ResultDialog.svelte';

const hit = (id: number): SearchHit => ({
  id,
  path: `/photos/p-${id}.jpg`,
  score: 0.9,
  width: 640,
  height: 480,
  imageUrl: `/api/images/${id}`,
  thumbUrl: `/api/images/${id}/thumb`
});

const props = (h: SearchHit) => ({ hit: h, rank: 1, onclose: () => {}, onmorelikethis: () => {} });

describe('ResultDialog', () => {
  it('falls back to the thumbnail, then to a sentence, when the full picture cannot load', async () => {
    render(ResultDialog, props(hit(4)));
    const image = screen.getByAltText('p-4.jpg');
    expect(image.getAttribute('src')).toBe('/api/images/4');
    await fireEvent.error(image);
    expect(screen.getByAltText('p-4.jpg').getAttribute('src')).toBe('/api/images/4/thumb');
    expect(screen.getByTestId('full-missing').textContent).toContain('Showing the thumbnail');
    await fireEvent.error(screen.getByAltText('p-4.jpg'));
    expect(screen.queryByAltText('p-4.jpg')).toBeNull();
    expect(screen.getByTestId('full-missing').textContent).toContain('cannot be loaded');
  });

  it('starts from the full picture again for another result', async () => {
    const { rerender } = render(ResultDialog, props(hit(4)));
    await fireEvent.error(screen.getByAltText('p-4.jpg'));
    await rerender(props(hit(5)));
    expect(screen.getByAltText('p-5.jpg').getAttribute('src')).toBe('/api/images/5');
  });

  it('says what the score means when the model has measured bands, and only then', async () => {
    const model = { scores: { strong: 0.8, similar: 0.6, gap: 0.15, measured: 'test' } };
    const { rerender } = render(ResultDialog, { ...props(hit(4)), model });
    const score = () => screen.getByText('Score').nextElementSibling!.textContent ?? '';
    expect(score()).toMatch(/0\.900 · Same picture: the same picture or an edited copy/);
    await rerender({ ...props({ ...hit(4), score: 0.65 }), model });
    expect(score()).toMatch(/0\.650 · Similar: looks alike/);
    await rerender({ ...props(hit(4)), model: {} });
    expect(score().trim()).toBe('0.900');
  });

  describe('every path of the picture', () => {
    afterEach(() => vi.unstubAllGlobals());
    const copies = (id: number): SearchHit => ({
      ...hit(id),
      path: '/a/first.jpg',
      paths: ['/a/first.jpg', '/b/second copy.jpg', '/c/third.jpg']
    });

    it('lists every file of a picture stored more than once, each with its own copy button', async () => {
      const writeText = vi.fn(async () => {});
      vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
      render(ResultDialog, props(copies(3)));
      const listed = screen.getAllByTestId('result-path').map((p) => p.textContent);
      expect(listed).toEqual(['/a/first.jpg', '/b/second copy.jpg', '/c/third.jpg']);
      expect(screen.getByText('Paths (3 identical files)')).toBeTruthy();
      const buttons = screen.getAllByRole('button', { name: /^Copy path/, hidden: true });
      expect(buttons).toHaveLength(3);
      await fireEvent.click(buttons[1]!);
      await vi.waitFor(() => expect(writeText).toHaveBeenCalledWith('/b/second copy.jpg'));
      expect(screen.getByTestId('copy-status').textContent).toBe('Path copied.');
      // The original and the download are the picture's bytes, named after the first path.
      const download = screen.getByRole('link', { name: 'Download', hidden: true });
      expect(download.getAttribute('href')).toBe('/api/images/3');
      expect(download.getAttribute('download')).toBe('first.jpg');
    });

    it('selects the one path whose copy the browser refused', async () => {
      vi.stubGlobal('navigator', { ...navigator, clipboard: undefined });
      render(ResultDialog, props(copies(3)));
      const buttons = screen.getAllByRole('button', { name: /^Copy path/, hidden: true });
      await fireEvent.click(buttons[2]!);
      await vi.waitFor(() =>
        expect(screen.getByTestId('copy-status').textContent).toContain('the path is selected')
      );
      expect(getSelection()?.toString()).toBe('/c/third.jpg');
    });

    it('shows the one known path of an offline result, saying others may exist', () => {
      // Offline hits come from the saved copy, which keeps only the first path.
      render(ResultDialog, props(hit(9)));
      expect(screen.getAllByTestId('result-path').map((p) => p.textContent)).toEqual([
        '/photos/p-9.jpg'
      ]);
      expect(screen.getByText('Path')).toBeTruthy();
      expect(screen.getByTestId('paths-unknown').textContent).toContain('saved copy');
    });

    it('shows a server result with one file without the offline note', () => {
      render(ResultDialog, props({ ...hit(10), paths: ['/photos/p-10.jpg'] }));
      expect(screen.getByText('Path')).toBeTruthy();
      expect(screen.queryByTestId('paths-unknown')).toBeNull();
    });
  });

  describe('moving and acting on a result', () => {
    afterEach(() => vi.unstubAllGlobals());

    it('goes to the previous and next result by buttons and arrow keys, not past the ends', async () => {
      const onprevious = vi.fn();
      const onnext = vi.fn();
      const { rerender } = render(ResultDialog, { ...props(hit(4)), onprevious, onnext });
      await fireEvent.click(screen.getByRole('button', { name: 'Previous result', hidden: true }));
      await fireEvent.click(screen.getByRole('button', { name: 'Next result', hidden: true }));
      const dialog = document.querySelector('dialog')!;
      await fireEvent.keyDown(dialog, { key: 'ArrowRight' });
      await fireEvent.keyDown(dialog, { key: 'ArrowLeft' });
      expect(onprevious).toHaveBeenCalledTimes(2);
      expect(onnext).toHaveBeenCalledTimes(2);

      // The first result: no previous.
      await rerender({ ...props(hit(4)), onprevious: undefined, onnext });
      const previous = screen.getByRole('button', { name: 'Previous result', hidden: true });
      expect((previous as HTMLButtonElement).disabled).toBe(true);
      await fireEvent.keyDown(dialog, { key: 'ArrowLeft' });
      expect(onprevious).toHaveBeenCalledTimes(2);
    });

    it('offers the original, a download named after the file, and copying the path', async () => {
      const writeText = vi.fn(async () => {});
      vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
      render(ResultDialog, props(hit(7)));
      const open = screen.getByRole('link', { name: 'Open the original', hidden: true });
      expect(open.getAttribute('href')).toBe('/api/images/7');
      const download = screen.getByRole('link', { name: 'Download', hidden: true });
      expect(download.getAttribute('href')).toBe('/api/images/7');
      expect(download.getAttribute('download')).toBe('p-7.jpg');
      await fireEvent.click(screen.getByRole('button', { name: 'Copy path', hidden: true }));
      await vi.waitFor(() =>
        expect(screen.getByTestId('copy-status').textContent).toBe('Path copied.')
      );
      expect(writeText).toHaveBeenCalledWith('/photos/p-7.jpg');
    });

    it('selects the path when the browser refuses the clipboard (plain HTTP on a phone)', async () => {
      vi.stubGlobal('navigator', { ...navigator, clipboard: undefined });
      render(ResultDialog, props(hit(8)));
      await fireEvent.click(screen.getByRole('button', { name: 'Copy path', hidden: true }));
      await vi.waitFor(() =>
        expect(screen.getByTestId('copy-status').textContent).toContain('the path is selected')
      );
      expect(getSelection()?.toString()).toBe('/photos/p-8.jpg');
    });
  });
});
