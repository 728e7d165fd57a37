interface Waiter {
  readonly test: () => boolean;
  readonly done: (held: boolean) => void;
}

/**
 * Promises that resolve once a condition holds, re-tested each time their
 * owner reports a change (`check()`), never on a timer of their own.
 */
export class Waiters {
  readonly #waiting = new Set<Waiter>();

  /**
   * Resolves true once `test()` holds (at once when it holds now), or false
   * when `timeoutMs` passes first (at once when it is 0 or less).
   */
  until(test: () => boolean, timeoutMs: number): Promise<boolean> {
    if (test()) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        test,
        done: (held) => {
          clearTimeout(timer);
          this.#waiting.delete(waiter);
          resolve(held);
        },
      };
      const timer = setTimeout(() => waiter.done(false), timeoutMs);
      this.#waiting.add(waiter);
    });
  }

  /** Something a condition depends on changed: resolves every waiter whose condition now holds. */
  check(): void {
    if (this.#waiting.size === 0) return;
    for (const waiter of [...this.#waiting]) if (waiter.test()) waiter.done(true);
  }
}
