import type { HidingChoice } from '$lib/components/search/hidden-results';

const STORAGE_KEY = 'lookalike.hideResults';

function storage(): Storage | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    // Storage can be disabled (private mode, policies): the choice then lasts for this visit.
    return undefined;
  }
}

function saved(): HidingChoice {
  try {
    const value: unknown = JSON.parse(storage()?.getItem(STORAGE_KEY) ?? 'null');
    if (typeof value === 'object' && value !== null) {
      const { hideQuery, hideCopies } = value as Partial<Record<keyof HidingChoice, unknown>>;
      return { hideQuery: hideQuery === true, hideCopies: hideCopies === true };
    }
  } catch {
    // Unreadable: start with nothing hidden.
  }
  return { hideQuery: false, hideCopies: false };
}

/**
 * What the person chose to hide among results (the picture searched with, copies), kept on the
 * device: one choice for every search and collection. Nothing is hidden until asked.
 */
class ResultHiding implements HidingChoice {
  hideQuery = $state(false);
  hideCopies = $state(false);

  constructor() {
    this.reload();
  }

  /** Reads the saved choice again (another tab may have changed it; tests start afresh). */
  reload(): void {
    ({ hideQuery: this.hideQuery, hideCopies: this.hideCopies } = saved());
  }

  set(choice: Partial<HidingChoice>): void {
    if (choice.hideQuery !== undefined) this.hideQuery = choice.hideQuery;
    if (choice.hideCopies !== undefined) this.hideCopies = choice.hideCopies;
    try {
      storage()?.setItem(
        STORAGE_KEY,
        JSON.stringify({ hideQuery: this.hideQuery, hideCopies: this.hideCopies })
      );
    } catch {
      // Not saved: the choice still applies to this visit.
    }
  }
}

export const resultHiding = new ResultHiding();
