// Hand tasks to a worker pool a few at a time, in the order they come. Piscina 5 does not run a
// deep queue in order (with 864 seeds queued at once, the even-numbered finish first and the odd
// ones late), so every cell finishes late and the cells finish together; a window of a few tasks
// per thread keeps the threads busy and the pool working on the first unfinished cells.

/** What a call rejects with when the window was stopped before it started. */
export class WindowStopped extends Error {
  constructor() {
    super('not started: the task window was stopped');
  }
}

/**
 * A gate that runs at most `width` of the functions given to it at once, starting them in the
 * order given; once stopped() is true, those not started yet reject (WindowStopped) without
 * running.
 */
export function taskWindow(width: number, stopped: () => boolean): <T>(start: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    running--;
    waiting.shift()?.();
  };
  return <T>(start: () => Promise<T>): Promise<T> => {
    const slot = new Promise<void>((enter) => {
      if (running < width) {
        running++;
        enter();
      } else {
        waiting.push(() => {
          running++;
          enter();
        });
      }
    });
    return slot.then(() => (stopped() ? Promise.reject(new WindowStopped()) : start())).finally(release);
  };
}
