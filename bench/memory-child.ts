// Child process of the bench's memory figure: one sched seed (short) on one machine of the given
// pages, built on a buffer this process holds, then the buffer's size and the process's peak
// resident memory. One process per size, so the peaks do not mix. pages 0: nothing built (the base).
// A SharedArrayBuffer is zero pages until written: resident memory counts the words booting and
// the run wrote (every page's struct page words are written at boot).
// Usage: node dist/bench/memory-child.js PAGES
import { readFileSync } from 'node:fs';
import { defaultConfig } from '../src/config/config.js';
import { computeLayout } from '../src/machine/layout.js';
import { runSched } from '../src/engine/sched.js';

const pages = Number(process.argv[2]);
let sabBytes = 0;
if (pages > 0) {
  const cfg = defaultConfig({ memoryPages: pages, cpus: 2, opsPerCpu: 50, seed: 1 });
  const sab = new SharedArrayBuffer(computeLayout(cfg).words * 4);
  runSched(cfg, 1, { sab }); // builds and boots the machine on sab, runs the seed on it
  sabBytes = sab.byteLength;
}
process.stdout.write(JSON.stringify({ pages, sabBytes, maxRssBytes: peakRss(), rssBytes: process.memoryUsage().rss }) + '\n');

/**
 * This process's peak resident memory. Linux: VmHWM of /proc/self/status, the high-water mark of
 * this process's own address space (getrusage's maxRSS is kept across exec, so a child spawned by a
 * large parent reports the parent's size); elsewhere resourceUsage().maxRSS (kilobytes).
 */
function peakRss(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}
