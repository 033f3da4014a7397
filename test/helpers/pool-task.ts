// A piscina task for the worker pool tests (test/engine/pool.test.ts): returns `value` at once.
export default function poolTestTask(t: { value?: unknown }): unknown {
  return t.value ?? 'done';
}
