/** A timer the engine started: progress restarts a request's with `refresh`. */
export interface Timer {
  refresh(): void;
}

/**
 * Time as the engine sees it. Injected (`MuxOptions.clock`), so that tests
 * move time forward by hand instead of sleeping. Timers never keep the
 * process alive.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Milliseconds from an arbitrary start, with sub-millisecond precision, never going back: for durations. */
  elapsed(): number;
  setTimeout(callback: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  elapsed: () => performance.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref?.();
    return timer;
  },
  clearTimeout(timer) {
    clearTimeout(timer as ReturnType<typeof setTimeout>);
  },
};
