// A piscina task for the worker pool tests (test/engine/pool.test.ts): returns `value` at once;
// with `requireEsm`, tries to require() an ES module (this one) and says how that went.
import { createRequire } from 'node:module';

export default function poolTestTask(t: { value?: unknown; requireEsm?: boolean }): unknown {
  if (t.requireEsm) {
    try {
      createRequire(import.meta.url)('./pool-task.js');
      return 'loaded';
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? String(e);
    }
  }
  return t.value ?? 'done';
}
