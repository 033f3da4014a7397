import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario } from '../../src/scenario/format.js';
import { compareScenario, folioIds } from '../../src/conform/compare.js';
import { observeModel, parseConsole, type ScenarioObs } from '../../src/conform/observe.js';

const scenario = parseScenario(JSON.stringify({
  config: { anonOrders: [0, 4] },
  steps: [
    { op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'anon' },
    { op: 'write', proc: 'A', addr: '0x400000', len: '0x10000' },
    { op: 'fork', proc: 'A', child: 'B' },
    { op: 'write', proc: 'A', addr: '0x400000', len: '0x1000' },
    { op: 'read', proc: 'B', addr: '0x400000', len: '0x2000' },
  ],
}), 'cow.json');

/** The kernel's lines for the model's observations, PFNs renumbered (as another machine would have them). */
function asConsole(obs: ScenarioObs, pfnOffset: number): string {
  const lines = ['{"t":"boot","uname":"6.12.118+deb12-cloud-amd64","pagesize":4096}', '{"t":"begin","sid":0}'];
  const abs: Record<string, { anon_fault_alloc: number }> = {};
  for (let o = 2; o <= 9; o++) abs[String(4 << o)] = { anon_fault_alloc: 100 }; // global counters: not 0 at the start
  for (const s of obs.steps) {
    for (const [o, n] of Object.entries(s.anonAlloc ?? {})) abs[String(4 << Number(o))].anon_fault_alloc += n;
    lines.push(JSON.stringify({ t: 'thp', sid: 0, step: s.step, sizes: abs }));
    const values = s.values?.map((v) => (v === '0' ? '0x0' : `0x${((BigInt(v!.slice(1).split('.')[0]) << 32n) | BigInt(v!.split('.')[1])).toString(16)}`));
    lines.push(JSON.stringify({ t: 'op', sid: 0, step: s.step, op: s.op, proc: 'A', ret: 0, errno: 0, minflt: s.minflt, ...(values ? { values } : {}) }));
    for (const p of s.pages) {
      const sd = { softdirty: p.softDirty ? 1 : 0 };
      lines.push(JSON.stringify(p.present
        ? p.zero ? { t: 'page', sid: 0, step: s.step, proc: p.proc, addr: `0x${p.addr.toString(16)}`, present: 1, zero: 1, ...sd, file: 0 }
          : { t: 'page', sid: 0, step: s.step, proc: p.proc, addr: `0x${p.addr.toString(16)}`, present: 1, zero: 0, pfn: `0x${(p.head! + p.idx! + pfnOffset).toString(16)}`, head: `0x${(p.head! + pfnOffset).toString(16)}`, order: p.order, idx: p.idx, mapcount: p.mapcount, ...sd, file: p.file ? 1 : 0, dirty: p.dirty ? 1 : 0 }
        : { t: 'page', sid: 0, step: s.step, proc: p.proc, addr: `0x${p.addr.toString(16)}`, present: 0, ...sd, file: 0 }));
    }
    for (const r of s.rss) lines.push(JSON.stringify({ t: 'rss', sid: 0, step: s.step, proc: r.proc, anon: r.anonKb, file: r.fileKb, shmem: 0 }));
  }
  lines.push('{"t":"end","sid":0,"ms":12}', '[    1.2] some kernel line', '{"t":"done"}');
  return lines.join('\n');
}

test('compare: the model against its own observations, PFNs renumbered: no difference', () => {
  const { result, obs } = observeModel(scenario);
  assert.equal(result.status, 'pass', result.message);
  assert.equal(obs.steps.length, 5);
  assert.deepEqual(obs.steps[4].values, ['w2.0', 'w2.1'], 'the child reads the first write, not the parent\'s second');
  const k = parseConsole(asConsole(obs, 0x12345));
  assert.equal(k.boot?.uname, '6.12.118+deb12-cloud-amd64');
  assert.ok(k.done);
  assert.deepEqual(compareScenario(scenario, obs, k.scenarios.get(0)!), []);
});

test('compare: a model side made to differ is a difference (folio, mapcount, present, value, rss), naming step, process, page and field', () => {
  const { obs } = observeModel(scenario);
  const kernel = parseConsole(asConsole(obs, 0)).scenarios.get(0)!;
  const bad = structuredClone(obs);
  // step 3: the parent's write copied page 0; pretend the model reused it in place (same folio as the child's)
  const a0 = bad.steps[3].pages.find((p) => p.proc === 'A' && p.addr === 0x400000)!;
  const b0 = bad.steps[3].pages.find((p) => p.proc === 'B' && p.addr === 0x400000)!;
  a0.head = b0.head;
  a0.order = b0.order;
  a0.idx = b0.idx;
  bad.steps[2].pages.find((p) => p.proc === 'B' && p.addr === 0x401000)!.mapcount = 7;
  bad.steps[1].pages[5].present = false;
  bad.steps[4].values![1] = 'w4.1';
  bad.steps[4].rss[0].anonKb += 4;
  bad.steps[3].minflt = 2;
  bad.steps[1].anonAlloc = {};
  const d = compareScenario(scenario, bad, kernel);
  const fields = d.map((x) => `${x.step}:${x.proc}:${x.field}`);
  assert.ok(fields.includes('3:A:folio') && fields.includes('3:A:order'), fields.join(' '));
  assert.ok(fields.includes('2:B:mapcount'));
  assert.ok(fields.includes('1:A:present'));
  assert.ok(fields.includes('4:B:value'));
  assert.ok(fields.includes('4:A:rssAnon'));
  assert.ok(fields.includes('3:A:faults'));
  assert.ok(fields.includes('1:undefined:anonFaultAlloc.64kB'), 'the order-4 allocation of the first write');
  const v = d.find((x) => x.field === 'value')!;
  assert.deepEqual([v.addr, v.model, v.kernel], [0x401000, 'w4.1', 'w2.1']);
  // a known difference is marked, not dropped
  const known = compareScenario(scenario, bad, kernel, [{ file: 'cow.json', field: 'mapcount', reason: 'test', reference: 'none' }]);
  assert.equal(known.find((x) => x.field === 'mapcount')!.known, 'test');
});

test('compare: a kernel side that stops early is a difference at the first step it did not report', () => {
  const { obs } = observeModel(scenario);
  const k = parseConsole(asConsole(obs, 0)).scenarios.get(0)!;
  k.steps = k.steps.slice(0, 2);
  const d = compareScenario(scenario, obs, k);
  assert.deepEqual(d.map((x) => [x.step, x.field]), [[2, 'step']]);
});

test('folio ids: first appearance, forgotten when a step shows no page of the folio', () => {
  const ids = folioIds([
    { step: 0, op: 'x', rss: [], pages: [{ proc: 'A', addr: 0, present: true, zero: false, head: 100 }, { proc: 'A', addr: 1, present: true, zero: false, head: 200 }] },
    { step: 1, op: 'x', rss: [], pages: [{ proc: 'A', addr: 0, present: true, zero: false, head: 200 }] },
    { step: 2, op: 'x', rss: [], pages: [{ proc: 'A', addr: 0, present: true, zero: false, head: 100 }] },
  ]);
  assert.deepEqual([...ids.get(0)!.values()], [1, 2]);
  assert.deepEqual([...ids.get(1)!.values()], [2]);
  assert.deepEqual([...ids.get(2)!.values()], [3], 'head 100 was unseen at step 1: a new folio');
});

test('parseConsole: an executor error inside a scenario is that scenario\'s, one outside is the boot\'s', () => {
  const k = parseConsole([
    '{"t":"boot","uname":"6.12.1"}', '{"t":"begin","sid":0}', '{"t":"error","line":4,"msg":"bad op \\"wrte\\""}', '{"t":"end","sid":0,"ms":1}',
    '{"t":"begin","sid":1}', '{"t":"end","sid":1,"ms":1}', '{"t":"error","msg":"own mapping THPeligible"}', '{"t":"done"}',
  ].join('\n'));
  assert.equal(k.scenarios.get(0)!.error, 'executor: line 4: bad op "wrte"');
  assert.equal(k.scenarios.get(1)!.error, undefined);
  assert.deepEqual(k.errors, ['executor: own mapping THPeligible']);
});

test('parseConsole: the executor\'s missing lines name what the booted kernel lacks (conform exits 2 on them)', () => {
  const k = parseConsole(['{"t":"boot","uname":"6.1.0"}', '{"t":"missing","what":"/proc/kpageflags","config":"CONFIG_PROC_PAGE_MONITOR"}', '{"t":"missing","what":"io_uring (read-write pins)","config":"CONFIG_IO_URING"}', '{"t":"done"}'].join('\n'));
  assert.deepEqual(k.missing, ['/proc/kpageflags (CONFIG_PROC_PAGE_MONITOR)', 'io_uring (read-write pins) (CONFIG_IO_URING)']);
});

test('compare: soft-dirty (every page of a VMA, none outside) and a file folio\'s dirty flag are compared; a side made to differ is caught', () => {
  const file = parseScenario(JSON.stringify({
    config: { anonOrders: [0], files: { count: 1, pages: 16 } },
    steps: [
      { op: 'mmap', proc: 'A', addr: '0x400000', len: '0x4000', prot: 'rw', kind: 'file', file: 'f', shared: true },
      { op: 'read', proc: 'A', addr: '0x400000', len: '0x1000' },
      { op: 'write', proc: 'A', addr: '0x401000', len: '0x1000' },
      { op: 'mmap', proc: 'A', addr: '0x500000', len: '0x2000', prot: 'rw', kind: 'anon' },
      { op: 'munmap', proc: 'A', addr: '0x500000', len: '0x1000' },
    ],
  }), 'file.json');
  const { result, obs } = observeModel(file);
  assert.equal(result.status, 'pass', result.message);
  const page = (step: number, addr: number) => obs.steps[step].pages.find((p) => p.addr === addr)!;
  assert.equal(page(2, 0x401000).dirty, true, 'the shared write dirtied the page-cache folio');
  assert.equal(page(2, 0x400000).file, true);
  assert.equal(page(4, 0x500000).softDirty, false, 'unmapped: outside any VMA');
  assert.equal(page(4, 0x501000).softDirty, true, 'inside a VMA (VM_SOFTDIRTY), not present');
  const kernel = parseConsole(asConsole(obs, 0x777)).scenarios.get(0)!;
  assert.deepEqual(compareScenario(file, obs, kernel), []);
  const bad = structuredClone(obs);
  bad.steps[2].pages.find((p) => p.addr === 0x401000)!.dirty = false;
  bad.steps[4].pages.find((p) => p.addr === 0x500000)!.softDirty = true;
  bad.steps[1].pages.find((p) => p.addr === 0x400000)!.file = false;
  const d = compareScenario(file, bad, kernel).map((x) => `${x.step}:${x.addr?.toString(16)}:${x.field}:${String(x.model)}:${String(x.kernel)}`);
  assert.deepEqual(d.sort(), ['1:400000:file:false:true', '2:401000:fileDirty:false:true', '4:500000:softDirty:true:false']);
});
