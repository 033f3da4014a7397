// foliostorm bugs: the named deviations --inject can switch on.
import { DEVIATIONS } from '../inject/deviations.js';
import { EXIT_OK } from '../report/exit-codes.js';
import type { Command } from './common.js';

function cmdBugs(): number {
  const w = Math.max(...DEVIATIONS.map((d) => d.name.length));
  for (const d of DEVIATIONS) process.stdout.write(`${d.name.padEnd(w)}  ${d.path}: ${d.description}\n`);
  return EXIT_OK;
}

export const bugsCommand: Command = {
  command: 'bugs',
  describe: 'list the named deviations --inject can switch on',
  builder: (y) => y,
  run: () => cmdBugs(),
};
