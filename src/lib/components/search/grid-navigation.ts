/**
 * Where focus goes in a grid of `count` items laid out `columns` wide when a key is pressed, or
 * undefined when the key is not a navigation key. Arrows stop at the edges (no wrap-around), as
 * in the ARIA grid pattern; Home/End go to the first/last item.
 */
export function nextIndex(
  current: number,
  key: string,
  count: number,
  columns: number
): number | undefined {
  if (count === 0) return undefined;
  const cols = Math.max(1, Math.floor(columns));
  const last = count - 1;
  switch (key) {
    case 'ArrowRight':
      return Math.min(last, current + 1);
    case 'ArrowLeft':
      return Math.max(0, current - 1);
    case 'ArrowDown':
      return current + cols <= last ? current + cols : current;
    case 'ArrowUp':
      return current - cols >= 0 ? current - cols : current;
    case 'Home':
      return 0;
    case 'End':
      return last;
    default:
      return undefined;
  }
}

/** Items per row, read from the layout: how many share the first item's top edge. */
export function columnsOf(items: readonly HTMLElement[]): number {
  const first = items[0];
  if (!first) return 1;
  const top = first.offsetTop;
  let columns = 0;
  for (const item of items) {
    if (item.offsetTop !== top) break;
    columns++;
  }
  return Math.max(1, columns);
}
