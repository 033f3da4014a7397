// Render flight-recorder events as one column per simulated CPU, in global order, with the
// virtual page numbers the kernel paths record shown as addresses.
import type { RingEvent } from '../diag/flight-recorder.js';

/** Events whose first argument is a virtual page number. */
const VPN_FIRST = /^(fault|anon\.|wp\.|zap\.|tlb\.flushRange|mmap$|munmap|madvise)/;

export function formatEvent(e: RingEvent): string {
  if (VPN_FIRST.test(e.event)) {
    const addr = '0x' + (e.a * 4096).toString(16);
    if (e.event.startsWith('anon.mapped')) return `${e.event} ${addr} x${1 << e.b}`;
    if (/^(zap\.batch|mmap|munmap|madvise|tlb\.flushRange)/.test(e.event)) return `${e.event} ${addr} +${e.b}p`;
    return `${e.event} ${addr}${e.b ? ` ${e.b}` : ''}`;
  }
  return `${e.event} ${e.a}${e.b ? ` ${e.b}` : ''}`;
}

export function renderEventsByCpu(perCpu: RingEvent[][], last = 40): string {
  const all = perCpu.flat().sort((a, b) => a.seq - b.seq).slice(-last);
  const cpus = perCpu.length;
  const W = 36;
  const head = Array.from({ length: cpus }, (_, i) => `CPU${i}`.padEnd(W)).join('');
  const rows = all.map((e) => `  ${String(e.seq).padStart(7)} ${' '.repeat(W * e.cpu)}${formatEvent(e).slice(0, W - 2).padEnd(W)}`);
  return [`  events leading to the violation (last ${all.length}, by global sequence):`, `          ${head}`, ...rows].join('\n');
}
