// Render flight-recorder events as one column per simulated CPU, in global order.
import type { RingEvent } from '../engine/cpu.js';

export function renderEventsByCpu(perCpu: RingEvent[][], last = 40): string {
  const all = perCpu.flat().sort((a, b) => a.seq - b.seq).slice(-last);
  const cpus = perCpu.length;
  const W = 34;
  const head = Array.from({ length: cpus }, (_, i) => `CPU${i}`.padEnd(W)).join('');
  const rows = all.map((e) => {
    const cell = `${e.event} ${e.a}${e.b ? ` ${e.b}` : ''}`.slice(0, W - 2).padEnd(W);
    return `  ${String(e.seq).padStart(7)} ${' '.repeat(W * e.cpu)}${cell}`;
  });
  return [`  events leading to the violation (last ${all.length}, by global sequence):`, `          ${head}`, ...rows].join('\n');
}
