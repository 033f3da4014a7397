// Piscina task for the commands whose work is long and synchronous (issue #18): repro, shrink and
// scenario run here, on a worker thread, so the main thread stays free for Ctrl-C and SIGTERM (a
// signal handler runs only when the main thread's event loop gets a turn) and the run is stopped by
// terminating the thread. The main thread loads and checks the input, and prints and writes what
// this returns.
import { runCommandTask, type CommandTask, type CommandTaskResult } from '../src/commands/offthread.js';

export default function commandTask(t: CommandTask): CommandTaskResult {
  return runCommandTask(t);
}
