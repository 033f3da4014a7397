// interruptible(): the first Ctrl-C/SIGTERM asks the job to stop (its signal) and starts the
// watchdog, which ends the process with 3 if it is still there watchdogMs later; a second signal
// ends it at once with 3. The process's exit is injected: no signal is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interruptible, interruptibleRunning, STOP_WATCHDOG_MS, stopWatchdogMs } from '../../src/commands/common.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a job that does not stop: the watchdog exits 3 after watchdogMs; the job saw its signal aborted at once', async () => {
  const exits: [number, number][] = [];
  const t0 = performance.now();
  let aborted = -1;
  const job = interruptible('test', true, async (signal) => {
    assert.ok(interruptibleRunning());
    signal.addEventListener('abort', () => (aborted = performance.now() - t0));
    process.emit('SIGTERM', 'SIGTERM');
    await sleep(400); // ignores the signal: a stop that hangs
    return 'ended';
  }, { watchdogMs: 150, exit: (code) => exits.push([code, performance.now() - t0]) });
  assert.equal(await job, 'ended');
  assert.ok(aborted >= 0 && aborted < 50, `aborted after ${aborted} ms`);
  assert.equal(exits.length, 1);
  assert.equal(exits[0][0], 3);
  assert.ok(exits[0][1] >= 150 && exits[0][1] < 400, `watchdog at ${exits[0][1]} ms`);
  assert.ok(!interruptibleRunning());
});

test('a second signal exits 3 at once; the watchdog stays armed after the job, for a process that lingers once it has stopped', async () => {
  const exits: number[] = [];
  await interruptible('test', true, async () => {
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGINT', 'SIGINT');
  }, { watchdogMs: 10_000, exit: (code) => exits.push(code) });
  assert.deepEqual(exits, [3]);
  const later: number[] = [];
  await interruptible('test', true, async (signal) => {
    process.emit('SIGTERM', 'SIGTERM');
    assert.ok(signal.aborted);
  }, { watchdogMs: 100, exit: (code) => later.push(code) });
  assert.deepEqual(later, [], 'not before watchdogMs');
  // unref'd, it keeps no process alive: the CLI ends long before it fires; this test waits for it
  await sleep(200);
  assert.deepEqual(later, [3]);
  assert.equal(STOP_WATCHDOG_MS, 10_000);
  assert.equal(stopWatchdogMs(), 10_000);
});
