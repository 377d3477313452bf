import { api, dataOf } from '$lib/api/client';
import type { Health, StartingHealth } from '$lib/api/types';

export type { Health, StartingHealth };

/** How often the page asks whether the server is still there. */
const POLL_MS = 10_000;
/** How often while it starts, so the download's progress moves. */
export const STARTING_POLL_MS = 1_000;

/**
 * Whether the Lookalike server answers, and its last health report. The page passes `online`
 * down as a prop; search falls back to the offline copy when it is false.
 */
class Connection {
  /** undefined until the first answer (or failure), so the page can say "connecting". */
  online = $state<boolean | undefined>(undefined);
  health = $state<Health | undefined>(undefined);
  /** Set while the server is starting; the page shows this in place of its content. */
  starting = $state<StartingHealth | undefined>(undefined);

  #timer: ReturnType<typeof setInterval> | undefined;
  #soon: ReturnType<typeof setTimeout> | undefined;
  #checking: Promise<void> | undefined;

  /** Asks the server now; concurrent callers share one request. */
  check(): Promise<void> {
    this.#checking ??= api
      .GET('/api/health', { cache: 'no-store' })
      .then((result) => {
        const health = dataOf(result);
        this.online = true;
        if (health.status === 'starting') {
          this.starting = health;
          clearTimeout(this.#soon);
          this.#soon = setTimeout(() => void this.check(), STARTING_POLL_MS);
        } else {
          this.starting = undefined;
          this.health = health;
        }
      })
      .catch(() => {
        this.online = false;
      })
      .finally(() => {
        this.#checking = undefined;
      });
    return this.#checking;
  }

  /** A request elsewhere failed to reach the server: say so now rather than at the next poll. */
  markOffline(): void {
    this.online = false;
  }

  /** Polls and listens to the browser's own online/offline events; returns the stop function. */
  start(): () => void {
    void this.check();
    this.#timer = setInterval(() => void this.check(), POLL_MS);
    const onOnline = () => void this.check();
    const onOffline = () => this.markOffline();
    window.addEventListener('online', onOnline);
    window.addEventListener('offline', onOffline);
    return () => {
      clearInterval(this.#timer);
      clearTimeout(this.#soon);
      window.removeEventListener('online', onOnline);
      window.removeEventListener('offline', onOffline);
    };
  }
}

export const connection = new Connection();
