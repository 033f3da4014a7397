#!/bin/bash
# Smoke test of the conformance executor: build it, boot it in qemu (TCG) on the Debian 6.12
# kernel with a handful of scenarios, check the JSON lines. Prints PASS/FAIL and the boot time.
# Usage: vm/smoke.sh [KERNEL]   (default /tmp/vmtest/k/boot/vmlinuz-6.12.118+deb12-cloud-amd64)
set -euo pipefail
cd "$(dirname "$0")"
KERNEL=${1:-/tmp/vmtest/k/boot/vmlinuz-6.12.118+deb12-cloud-amd64}
./build.sh
W=out/smoke
rm -rf "$W"
mkdir -p "$W/root"/{proc,sys,tmp,dev}
cp out/executor "$W/root/init"
# 7: the executor's and the actors' own memory never moves the mTHP counters: every mTHP size on,
# one 64 KiB folio (delta exactly 1 for 64 kB), a fork, then 40 steps in which the processes only
# read pages they map already (every delta 0), then a new actor with a 4 KiB mapping (delta 0) and
# a read of 640 zero pages (no 2 MiB range: at 512M use_zero_page is off and a PMD read fault
# allocates; a long values line: fresh pages of the executor's buffers; delta 0).
# It runs first, on a fresh executor whose buffers nothing has touched yet.
{
  echo "scenario 7"
  echo "step 0"
  echo "mmap A 0x400000 0x10000 rw anon"
  echo "observe A 0x400000 0x10000"
  echo "step 1"
  echo "thp 16 always"
  echo "thp 32 always"
  echo "thp 64 always"
  echo "thp 2048 always"
  echo "thp-top always"
  echo "write A 0x400000 0x10000 7"
  echo "observe A 0x400000 0x10000"
  echo "step 2"
  echo "fork A B"
  echo "observe A 0x400000 0x10000"
  echo "observe B 0x400000 0x10000"
  for k in $(seq 3 42); do
    echo "step $k"
    echo "read A 0x400000 0x10000"
    echo "observe A 0x400000 0x10000"
    echo "read B 0x400000 0x10000"
    echo "observe B 0x400000 0x10000"
  done
  echo "step 43"
  echo "mmap C 0x400000 0x1000 rw anon"
  echo "write C 0x400000 0x1000 8"
  echo "observe C 0x400000 0x1000"
  echo "step 44"
  echo "mmap C 0x1100000 0x280000 r anon"
  echo "read C 0x1100000 0x280000"
  echo "observe C 0x1100000 0x1000"
  echo "end"
} > "$W/root/steps.txt"
cat >> "$W/root/steps.txt" <<'EOF'
# 1: a 64 KiB mTHP: one folio of order 4
scenario 1
thp 64 always
step 0
mmap A 0x400000 0x10000 rw anon
step 1
write A 0x400000 0x10000 1
step 2
observe A 0x400000 0x10000
end
# 2: COW after fork
scenario 2
step 0
mmap A 0x400000 0x1000 rw anon
write A 0x400000 0x1000 7
step 1
fork A B
step 2
observe A 0x400000 0x1000
observe B 0x400000 0x1000
step 3
write A 0x400000 0x1000 8
step 4
observe A 0x400000 0x1000
observe B 0x400000 0x1000
step 5
read B 0x400000 0x1000
read A 0x400000 0x1000
end
# 3: a R/W pin on one page of a 64 KiB folio: fork copies the whole folio for the child
scenario 3
thp 64 always
step 0
mmap A 0x400000 0x10000 rw anon
write A 0x400000 0x10000 3
step 1
pin A 0x404000 0x1000 p1
step 2
fork A B
step 3
observe A 0x400000 0x10000
observe B 0x400000 0x10000
step 4
unpin p1
end
# 4: SIGSEGV after munmap (errno 14), then a malformed line: error, and scenario 5 still runs
scenario 4
mmap A 0x400000 0x2000 rw anon
write A 0x400000 0x2000 5
munmap A 0x401000 0x1000
read A 0x400000 0x2000
frobnicate A 0x400000
write A 0x400000 0x1000 6
end
# 5: the zero page, madvise, mprotect, mremap, a shared tmpfs file, exit
scenario 5
step 0
mmap A 0x400000 0x1000 rw anon
read A 0x400000 0x1000
observe A 0x400000 0x1000
step 1
write A 0x400000 0x1000 9
madvise A 0x400000 0x1000 dontneed
observe A 0x400000 0x1000
step 2
write A 0x400000 0x1000 10
mprotect A 0x400000 0x1000 r
write A 0x400000 0x1000 11
step 3
mremap A 0x400000 0x1000 0x800000
read A 0x800000 0x1000
observe A 0x800000 0x1000
step 4
mmap A 0x600000 0x2000 rw file f1 0 1
write A 0x600000 0x2000 12
observe A 0x600000 0x2000
fork A B
exit A
read B 0x600000 0x2000
step 5
mmap B 0x1000000 0x64000 rw anon
write B 0x1000000 0x64000 13
observe B 0x1000000 0x1000
end
EOF
# 6: khugepaged stays away: 512 small pages in a 2 MiB range, PMD THP switched off and on again
# (a khugepaged restart scans at once), an actor's first PMD fault (without the decoy: the first mm
# on khugepaged's list, which wakes it), then 40 reads of the range (khugepaged runs at nice 19:
# measured without the decoy, the range was collapsed after ~17 reads, ~450 ms): not collapsed
{
  echo "scenario 6"
  echo "thp-top always"
  echo "thp 2048 never"
  echo "mmap A 0x800000 0x200000 rw anon"
  echo "write A 0x800000 0x200000 1"
  echo "thp 2048 inherit"
  echo "mmap A 0x400000 0x200000 rw anon"
  echo "write A 0x400000 0x1000 2"
  echo "observe A 0x400000 0x1000"
  for k in $(seq 1 40); do echo "read A 0x800000 0x200000"; done
  echo "observe A 0x800000 0x200000"
  echo "end"
} >> "$W/root/steps.txt"
(cd "$W/root" && find . | cpio -o -H newc --quiet | gzip -1 > ../initrd.cpio.gz)
T0=$(date +%s.%N)
timeout 300 qemu-system-x86_64 -accel tcg -M pc -cpu max -m 512M -smp 1 -nographic -no-reboot \
  -kernel "$KERNEL" -initrd "$W/initrd.cpio.gz" \
  -append "console=ttyS0 quiet panic=-1 mitigations=off" > "$W/console.log" 2>&1 || true
T1=$(date +%s.%N)
BOOT=$(echo "$T1 - $T0" | bc)
node - "$W/console.log" "$BOOT" <<'EOF'
const fs = require('fs');
const [log, boot] = process.argv.slice(2);
const lines = fs.readFileSync(log, 'utf8').split(/\r?\n/).map((l) => l.replace(/^[^{]*/, '')).filter((l) => l.startsWith('{"t":'));
const ev = [];
for (const l of lines) { try { ev.push(JSON.parse(l)); } catch { ev.push({ t: 'unparsable', line: l }); } }
let fails = 0;
const check = (ok, what, extra) => { if (!ok) { fails++; console.log('FAIL', what, extra !== undefined ? JSON.stringify(extra) : ''); } else console.log('ok  ', what); };
const sc = (sid) => ev.filter((e) => e.sid === sid);
const ops = (sid, op, proc) => sc(sid).filter((e) => e.t === 'op' && e.op === op && (!proc || e.proc === proc));
const pages = (sid, step, proc) => sc(sid).filter((e) => e.t === 'page' && e.step === step && e.proc === proc);

check(ev.some((e) => e.t === 'boot' && e.pagesize === 4096), 'boot line');
check(ev.length && ev[ev.length - 1].t === 'done', 'done line last');
check(!ev.some((e) => e.t === 'unparsable'), 'every JSON line parses', ev.filter((e) => e.t === 'unparsable'));
for (const s of [1, 2, 3, 4, 5, 6, 7]) check(sc(s).some((e) => e.t === 'begin') && sc(s).some((e) => e.t === 'end'), `scenario ${s} begins and ends`);

// 1
{
  const p = pages(1, 2, 'A');
  check(p.length === 16 && p.every((x) => x.present === 1 && x.order === 4), 'sc1: 16 present pages of order 4', p[0]);
  check(new Set(p.map((x) => x.head)).size === 1 && p.every((x, i) => x.idx === i && BigInt(x.pfn) - BigInt(x.head) === BigInt(i)), 'sc1: one head, idx 0..15');
  check(p.every((x) => x.exclusive === 1 && x.mapcount === 1 && x.zero === 0), 'sc1: exclusive, mapcount 1');
  const w = ops(1, 'write', 'A')[0];
  check(w && w.ret === 0 && w.minflt === 1, 'sc1: the write took exactly one fault', w);
  const m = ops(1, 'mmap', 'A')[0];
  check(m && m.ret === 0x400000 && m.minflt === 0, 'sc1: mmap returned the address, no fault', m);
  const rss = sc(1).find((e) => e.t === 'rss');
  check(rss && rss.anon === 64, 'sc1: RssAnon 64 kB', rss);
  const thp = sc(1).find((e) => e.t === 'thp');
  check(thp && thp.sizes['64'] && thp.sizes['64'].anon_fault_alloc >= 1, 'sc1: thp counters with 64 kB anon_fault_alloc', thp && thp.sizes['64']);
}
// 2
{
  const [a2] = pages(2, 2, 'A'), [b2] = pages(2, 2, 'B'), [a4] = pages(2, 4, 'A'), [b4] = pages(2, 4, 'B');
  check(a2 && b2 && a2.pfn === b2.pfn && a2.mapcount === 2 && a2.exclusive === 0, 'sc2: after fork one page mapped twice', [a2, b2]);
  check(a4 && b4 && a4.pfn !== a2.pfn && b4.pfn === b2.pfn && a4.mapcount === 1 && b4.mapcount === 1, "sc2: the parent's write gave it a new pfn", [a4, b4]);
  const f = ops(2, 'fork', 'A')[0];
  check(f && f.ret === 0 && f.child === 'B' && f.minflt === 0, 'sc2: fork op line, no fault in the parent', f);
  const w = ops(2, 'write', 'A')[1];
  check(w && w.minflt === 1, 'sc2: the COW write took one fault', w);
  const rb = ops(2, 'read', 'B')[0], ra = ops(2, 'read', 'A')[0];
  check(rb && rb.values.length === 1 && rb.values[0] === '0x700000000' && rb.minflt === 0, "sc2: the child reads the first write's tag", rb);
  check(ra && ra.values[0] === '0x800000000', 'sc2: the parent reads its own', ra);
}
// 3
{
  const pin = ops(3, 'pin', 'A')[0];
  check(pin && pin.ret === 0 && pin.errno === 0, 'sc3: pin', pin);
  const a = pages(3, 3, 'A'), b = pages(3, 3, 'B');
  check(a.length === 16 && a.every((x) => x.order === 4 && x.mapcount === 1 && x.exclusive === 1), 'sc3: the parent keeps its order-4 folio, exclusive', a[0]);
  const aset = new Set(a.map((x) => x.pfn));
  check(b.length === 16 && b.every((x) => x.present === 1 && !aset.has(x.pfn) && x.mapcount === 1), 'sc3: the child got copies of all 16 pages', b.map((x) => [x.pfn, x.order]));
  const un = ops(3, 'unpin', 'A')[0];
  check(un && un.ret === 0, 'sc3: unpin', un);
}
// 4
{
  const r = ops(4, 'read', 'A')[0];
  check(r && r.ret === -1 && r.errno === 14 && r.values.length === 1 && r.values[0] === '0x500000000', 'sc4: read after munmap: errno 14, the first page read', r);
  const err = sc(4).length && ev.find((e) => e.t === 'error');
  check(err && err.line > 0 && /frobnicate/.test(err.msg), 'sc4: the malformed line gives an error line', err);
  check(ops(4, 'write', 'A').length === 1, 'sc4: the lines after the error are skipped');
}
// 5
{
  const [z] = pages(5, 0, 'A');
  check(z && z.present === 1 && z.zero === 1, 'sc5: a read of a fresh page maps the zero page', z);
  const [d] = pages(5, 1, 'A');
  check(d && d.present === 0 && d.pfn === undefined, 'sc5: dontneed leaves the page not present', d);
  const w = ops(5, 'write', 'A');
  check(w[2] && w[2].ret === -1 && w[2].errno === 14, 'sc5: a write to a read-only page faults', w[2]);
  const mr = ops(5, 'mremap', 'A')[0];
  check(mr && mr.ret === 0x800000, 'sc5: mremap returns the new address', mr);
  const rd = ops(5, 'read', 'A')[1];
  check(rd && rd.values[0] === '0xa00000000', 'sc5: the moved page keeps its data', rd);
  const f = pages(5, 4, 'A');
  check(f.length === 2 && f.every((x) => x.present === 1 && x.file === 1), 'sc5: a shared tmpfs file page has the file bit', f);
  const rss = sc(5).filter((e) => e.t === 'rss' && e.step === 4)[0];
  check(rss && rss.shmem === 8, 'sc5: RssShmem 8 kB', rss);
  const rb = ops(5, 'read', 'B')[0];
  check(rb && rb.values.join() === '0xc00000000,0xc00000001', 'sc5: the child of an exited parent reads the shared file', rb);
  const r100 = sc(5).filter((e) => e.t === 'rss' && e.step === 5)[0];
  check(r100 && r100.anon === 4 + 400 && r100.shmem === 8, 'sc5: RSS exact after 100 more pages', r100);
  const w100 = ops(5, 'write', 'B')[0];
  check(w100 && w100.minflt === 100, 'sc5: 100 faults for 100 pages', w100);
  const ex = ops(5, 'exit', 'A')[0];
  check(ex && ex.ret === 0, 'sc5: exit', ex);
}
// 6
{
  const [h] = pages(6, 0, 'A').filter((x) => x.addr === '0x400000');
  check(h && h.order === 9, 'sc6: a PMD fault with PMD THP on maps an order-9 folio', h);
  const p = pages(6, 0, 'A').filter((x) => x.addr !== '0x400000');
  check(p.length === 512 && p.every((x) => x.present === 1 && x.order === 0), 'sc6: khugepaged did not collapse the 4 KiB pages', p.find((x) => x.order !== 0));
}
// 7
{
  const thps = sc(7).filter((e) => e.t === 'thp');
  const sizes = Object.keys((thps[0] || { sizes: {} }).sizes).filter((kb) => Number(kb) >= 16);
  const stats = ['anon_fault_alloc', 'anon_fault_fallback', 'anon_fault_fallback_charge'];
  // the deltas of one thp line from the one before: {kb: {stat: d}} of the nonzero ones
  const delta = (i) => {
    const d = {};
    for (const kb of sizes)
      for (const st of stats) {
        const v = (thps[i].sizes[kb][st] ?? 0) - (thps[i - 1].sizes[kb][st] ?? 0);
        if (v) (d[kb] ??= {})[st] = v;
      }
    return d;
  };
  check(thps.length === 1 + 1 + 2 + 80 + 2 && sizes.includes('16') && sizes.includes('2048'), 'sc7: 86 thp lines, sizes 16..2048 kB', [thps.length, sizes]);
  const d1 = delta(1);
  check(JSON.stringify(d1) === JSON.stringify({ 64: { anon_fault_alloc: 1 } }), 'sc7: the 64 KiB write: 64 kB anon_fault_alloc +1, nothing else', d1);
  const p1 = pages(7, 1, 'A');
  check(p1.length === 16 && p1.every((x) => x.order === 4 && x.head === p1[0].head), 'sc7: one order-4 folio', p1[0]);
  const dfork = [delta(2), delta(3)];
  check(dfork.every((d) => !Object.keys(d).length), 'sc7: the fork step: every delta 0', dfork);
  const bad = [];
  for (let i = 4; i < 84; i++) {
    const d = delta(i);
    if (Object.keys(d).length) bad.push({ step: thps[i].step, line: i, d });
  }
  check(!bad.length, 'sc7: 40 read steps (80 observes): every delta 0 for every size', bad);
  const reads = ops(7, 'read').filter((r) => r.proc !== 'C');
  check(reads.length === 80 && reads.every((r) => r.ret === 0 && r.minflt === 0 && r.values.length === 16 && r.values.every((v, i) => BigInt(v) === (7n << 32n) + BigInt(i))), 'sc7: 80 reads of 16 pages, no fault, the written values', reads.find((r) => r.minflt !== 0 || r.ret !== 0));
  const pb = pages(7, 42, 'B');
  check(pb.length === 16 && pb.every((x, i) => x.head === p1[0].head && x.order === 4 && x.mapcount === 2), 'sc7: the child still maps the parent\'s folio', pb[0]);
  const dnew = thps.length === 86 ? delta(84) : { missing: 1 };
  check(!Object.keys(dnew).length, 'sc7: a new actor and a 4 KiB write: every delta 0', dnew);
  const dzero = thps.length === 86 ? delta(85) : { missing: 1 };
  const rz = ops(7, 'read', 'C')[0];
  check(rz && rz.ret === 0 && rz.values.length === 640 && !Object.keys(dzero).length, 'sc7: a read of 640 zero pages: every delta 0', [dzero, rz && rz.values.length]);
}
// the executor's own check (observe, scenario end): no own mapping of the executor or an actor is
// THP-eligible
check(!ev.some((e) => e.t === 'error' && /THP-eligible/.test(e.msg)), 'no own mapping THP-eligible', ev.filter((e) => e.t === 'error' && /THP-eligible/.test(e.msg)));
const ms = ev.filter((e) => e.t === 'end').map((e) => `${e.sid}:${e.ms}ms`).join(' ');
console.log(`scenario ms: ${ms}`);
console.log(`boot (qemu start to exit): ${Number(boot).toFixed(2)} s`);
console.log(fails ? `FAIL (${fails})` : 'PASS');
process.exit(fails ? 1 : 0);
EOF
