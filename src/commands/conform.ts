// foliostorm conform: scenarios on a real kernel (qemu) and on the model, compared (issue 16).
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT_USAGE } from '../report/exit-codes.js';
import { conform, ConformInputError, formatReport, formatTap, knownPath, readKnown } from '../conform/run.js';
import { MissingPrerequisite } from '../conform/vm.js';
import { checkDeviations, type Command } from './common.js';

/** The project's root (the folder with vm/ and configs/), from this file's place in dist/src/commands. */
export const projectRoot = (): string => resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

async function cmdConform(a: Record<string, unknown>): Promise<number> {
  const files = a.files as string[];
  const json = a.json as boolean, tap = a.tap as boolean;
  const inject = (a.inject as string[] | undefined) ?? [];
  checkDeviations(inject);
  const root = projectRoot();
  const say = (s: string): void => {
    if (!json && !tap) process.stderr.write(`[conform] ${s}\n`);
  };
  try {
    const kp = (a.known as string | undefined) ?? knownPath(root);
    const known = existsSync(kp) ? readKnown(kp) : [];
    const r = await conform({ files, root, kernel: a.kernel as string | undefined, out: a.out as string | undefined, known, inject, progress: say });
    if (a.out) writeFileSync(join(a.out as string, 'conform.json'), JSON.stringify(r, null, 2) + '\n');
    if (json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else process.stdout.write((tap ? formatTap(r) : formatReport(r)).join('\n') + '\n');
    return r.exitCode;
  } catch (e) {
    if (e instanceof MissingPrerequisite || e instanceof ConformInputError) {
      process.stderr.write(`foliostorm: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

export const conformCommand: Command = {
  command: 'conform <files..>',
  describe: 'run scenario files on a real kernel in qemu and on the model, and compare every observation at every step; exit 0 agree (or known differences), 1 a difference, 2 bad input or a missing prerequisite, 3 the VM failed',
  builder: (y) =>
    y
      .positional('files', { type: 'string', array: true, demandOption: true, describe: 'scenario files (e.g. configs/conformance/*.json)' })
      .option('kernel', { type: 'string', describe: 'boot this kernel image (bzImage or vmlinux) instead of the cached 6.12 one' })
      .option('known', { type: 'string', describe: 'known differences file (default configs/conformance/known-differences.json)' })
      .option('out', { type: 'string', describe: 'keep the initramfs, steps, console logs and conform.json here' })
      .option('inject', { type: 'string', array: true, nargs: 1, describe: 'switch on a named deviation in the model (see: bugs)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON, nothing else' })
      .option('tap', { type: 'boolean', default: false, describe: 'print KTAP (TAP version 13), as kernel selftests do' }),
  run: (a) => cmdConform(a),
};
