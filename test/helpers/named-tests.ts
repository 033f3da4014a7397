// Tests named after what they test: the first word of a title ("mm-id-stale: ...") is recorded, so
// a file can check that every name in the source it covers has a test.
import { test } from 'node:test';

export function namedTests(): { tested: Set<string>; namedTest: (title: string, fn: () => void) => void } {
  const tested = new Set<string>();
  return {
    tested,
    namedTest(title: string, fn: () => void): void {
      tested.add(title.split(/[ :]/)[0]);
      test(title, fn);
    },
  };
}
