import { ADMIN_TOKEN_NEEDED, setAdminToken, withAdminToken } from './admin-token';

/**
 * One view's question for the admin token (shown with AdminToken.svelte while `pending`): changes
 * run through `run` wait for it when the server wants it, and are tried again once it is given.
 * Changes refused meanwhile share the one question.
 */
export class AdminTokenPrompt {
  /** Set while a change waits: the server's refusal of the token sent, if one was sent. */
  pending = $state<{ refused?: string | undefined } | undefined>();
  #answer: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | undefined;

  /** Runs a change, asking for the token (and trying again) when the server wants it. */
  run<T>(call: () => Promise<T>): Promise<T> {
    return withAdminToken(call, (refused) => this.#ask(refused));
  }

  /** The token the user typed: kept for this tab, and the waiting changes tried again. */
  give(token: string): void {
    setAdminToken(token);
    const answer = this.#answer;
    this.#close();
    answer?.resolve();
  }

  /** The user gave up (or the view closed): the waiting changes fail with `reason`. */
  dismiss(reason: Error = new Error(ADMIN_TOKEN_NEEDED)): void {
    const answer = this.#answer;
    this.#close();
    answer?.reject(reason);
  }

  #ask(refused: string | undefined): Promise<void> {
    if (this.#answer) {
      if (refused !== undefined && this.pending?.refused === undefined) this.pending = { refused };
      return this.#answer.promise;
    }
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    this.#answer = { promise, resolve, reject };
    this.pending = { refused };
    return promise;
  }

  #close(): void {
    this.#answer = undefined;
    this.pending = undefined;
  }
}
