// foliostorm conformance executor: runs as /init of a tiny Linux VM, executes the memory-management
// scenarios of /steps.txt (see vm/README.md for the protocol) and prints what the kernel did as JSON
// lines on the console. Static, no libraries beyond glibc; io_uring through raw syscalls.
//
// Processes: the executor (PID 1) never touches scenario memory. Each scenario process is an
// "actor", a process that waits for commands on a pipe and answers on another. Actors are direct
// children of the executor: the first one by fork(), fork children of actors by
// clone(CLONE_PARENT), so the executor can waitpid() every actor itself.
//
// Build (vm/build.sh): gcc -static-pie -O2 -Wall -Werror -o vm/out/executor vm/executor.c
// -static-pie (not plain -static): a non-PIE static image sits at 0x400000, exactly where the
// scenarios map; a static PIE is loaded in the mmap area near the top of the address space.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/loop.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096ULL
#define MAXSLOTS 8        // command/reply pipe pairs per scenario = live actors at once
#define MAXNAMES 64       // process names per scenario (live or exited)
#define MAXPINS 64        // pins per scenario
#define MAXFILES 64       // files per scenario
#define MAXVALS 65536     // pages per read op (256 MiB)
#define NAMELEN 64
// Scenario addresses must lie below this; every mapping of the executor (a static PIE, its heap,
// stack, vdso) lies above it. Actors pre-touch their writable mappings above it only.
#define SCEN_LIMIT 0x100000000000ULL
#define THPDIR "/sys/kernel/mm/transparent_hugepage"

// ---------------------------------------------------------------------------------------------
// Output: every JSON line is built in one buffer and written with one write(2), so a line is never
// split between writes (printk may still interleave whole lines).

static char *out;          // executor-only buffer (mmap'd, never touched by actors)
static size_t outcap, outlen;

static void oraw(const char *s, size_t n) {
  if (outlen + n + 1 > outcap) n = outcap - outlen - 1; // cannot happen with the caps below
  memcpy(out + outlen, s, n);
  outlen += n;
}
static void of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void of(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out + outlen, outcap - outlen, fmt, ap);
  va_end(ap);
  if (n > 0) outlen += (size_t)n < outcap - outlen ? (size_t)n : outcap - outlen - 1;
}
// a JSON string (names are [A-Za-z0-9_.-]; messages may hold anything)
static void ostr(const char *s) {
  oraw("\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') { char b[2] = {'\\', (char)c}; oraw(b, 2); }
    else if (c < 0x20) of("\\u%04x", c);
    else oraw((const char *)&c, 1);
  }
  oraw("\"", 1);
}
static void oflush(void) {
  oraw("\n", 1);
  size_t off = 0;
  while (off < outlen) {
    ssize_t w = write(1, out + off, outlen - off);
    if (w < 0) { if (errno == EINTR) continue; break; }
    off += (size_t)w;
  }
  outlen = 0;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static ssize_t read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0) { if (errno == EINTR) continue; return -1; }
    if (r == 0) break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}
static int write_full(int fd, const void *buf, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, (const char *)buf + off, n - off);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    off += (size_t)w;
  }
  return 0;
}

// read a small text file (sysfs/procfs) into buf; returns length or -1
static int read_text(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read_full(fd, buf, cap - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return (int)n;
}
static int write_text(const char *path, const char *s) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t w = write(fd, s, strlen(s));
  int e = errno;
  close(fd);
  return w < 0 ? -e : 0;
}

// ---------------------------------------------------------------------------------------------
// Actor side. Everything an actor writes inside a measured window is pre-touched (touch_self), so
// ru_minflt deltas count the scenario's faults only.

enum { OP_READY, OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MADVISE, OP_MREMAP, OP_READ, OP_WRITE, OP_FORK, OP_EXIT, OP_PIN, OP_UNPIN };

struct cmd {
  int32_t op, slot, prot, flags; // slot: OP_FORK: the child's slot; OP_PIN/UNPIN: the pin index
  uint64_t addr, len, arg, arg2; // arg: new address, advice, tag, file offset; arg2: file is shared
  char path[128];                // OP_MMAP of a file
};
struct reply {
  int64_t ret;
  int32_t err, sig; // sig: the signal that stopped a read/write (0: none)
  int64_t minflt, aux; // aux: OP_FORK: the child's pid; OP_READY: own pid
  int64_t majflt;      // faults that waited for I/O (a file page read from ext4), not in minflt
  uint32_t nvals, pad;
};

// the pipes of the current scenario: cmd[i] executor -> actor in slot i, rep[i] actor -> executor
static int cmd_r[MAXSLOTS], cmd_w[MAXSLOTS], rep_r[MAXSLOTS], rep_w[MAXSLOTS];

static int a_slot;                 // this actor's slot
static uint64_t a_vals[MAXVALS];   // values of a read op
static int a_rings[MAXPINS];       // io_uring fds of this actor's pins (-1: none)
static sigjmp_buf a_jb;
static volatile sig_atomic_t a_sig;
// The rusage pair of the measured window lives in a MAP_SHARED page of the actor's own (a new one
// in every fork child): fork does not write-protect a shared mapping, so the parent's getrusage
// right after the fork does not take a copy-on-write fault of its own.
struct meas { struct rusage ru0, ru1; };
static struct meas *a_meas;
static struct reply a_rep;
static struct cmd a_cmd;

// Executor-only regions the actors never touch (their pages stay shared with the executor).
struct region { uint64_t start, end; };
static struct region x_only[8];
static int n_x_only;

static void fault_handler(int sig) {
  a_sig = sig;
  siglongjmp(a_jb, 1);
}

static char a_maps[65536];

// Call fn(start, end, perms, path) for every mapping of /proc/<pid>/maps (pid 0: self), reading
// through buf (a line at a time; the file is read in chunks).
static void for_each_map(const char *path, char *buf, size_t cap, void (*fn)(uint64_t, uint64_t, const char *, const char *, void *), void *arg) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, cap - 1 - have);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) have += (size_t)n;
    buf[have] = 0;
    char *line = buf, *nl;
    while ((nl = strchr(line, '\n')) || (n <= 0 && *line)) {
      if (nl) *nl = 0;
      unsigned long long s, e;
      char perms[8];
      int pos = 0;
      if (sscanf(line, "%llx-%llx %7s %*s %*s %*s%n", &s, &e, perms, &pos) == 3) {
        const char *p = line + pos;
        while (*p == ' ') p++;
        fn(s, e, perms, p, arg);
      } else {
        fn(0, 0, NULL, line, arg); // a non-header line (smaps fields)
      }
      if (!nl) { line += strlen(line); break; }
      line = nl + 1;
    }
    size_t rest = strlen(line);
    memmove(buf, line, rest);
    have = rest;
    if (n <= 0) break;
  }
  close(fd);
}

static int is_x_only(uint64_t s, uint64_t e) {
  for (int i = 0; i < n_x_only; i++)
    if (s < x_only[i].end && e > x_only[i].start) return 1;
  return 0;
}

static void touch_map(uint64_t s, uint64_t e, const char *perms, const char *path, void *arg) {
  (void)arg;
  if (!perms || s < SCEN_LIMIT || perms[0] != 'r' || !strncmp(path, "[v", 2) || is_x_only(s, e)) return;
  for (uint64_t p = s; p < e; p += PAGE) {
    volatile char *c = (volatile char *)p;
    char v = *c;
    if (perms[1] == 'w') *c = v;
  }
}

// ---------------------------------------------------------------------------------------------
// The executor's and the actors' own memory is never THP-eligible. The mTHP counters
// (anon_fault_alloc of every size) are global: a fault in the executor's own heap, stack, bss or
// buffers, or in an actor's (its first touch of a page the executor never touched), that got an
// mTHP would show in a scenario step the model cannot explain. So every mapping above SCEN_LIMIT
// is MADV_NOHUGEPAGE (VM_NOHUGEPAGE, inherited by fork): nohuge_self() at boot, in every actor at
// its start and in every fork child, and at every scenario begin; later own mappings come from
// own_mmap() (madvised at once); malloc is preallocated at boot (a brk growth would be a new VMA
// without the flag). Not prctl(PR_SET_THP_DISABLE): that would disable THP for the scenario's
// mappings too. The scenario's mappings are new mmaps below SCEN_LIMIT, never touched here.
// A check: observe_rss() and scenario_end() report an own mapping that smaps calls THPeligible.

#define NOHUGE_MAX 256
static struct region nohuge_r[NOHUGE_MAX];
static int nohuge_n;

static void nohuge_map(uint64_t s, uint64_t e, const char *perms, const char *path, void *arg) {
  (void)arg;
  // [vdso], [vvar], [vsyscall]: special mappings, never THP
  if (!perms || s < SCEN_LIMIT || !strncmp(path, "[v", 2) || nohuge_n >= NOHUGE_MAX) return;
  nohuge_r[nohuge_n++] = (struct region){s, e};
}

// MADV_NOHUGEPAGE over every own mapping of this process (collected first: madvise may split or
// merge VMAs under the maps reader); returns the number of ranges madvised
static int nohuge_self(void) {
  nohuge_n = 0;
  for_each_map("/proc/self/maps", a_maps, sizeof a_maps, nohuge_map, NULL);
  for (int i = 0; i < nohuge_n; i++) madvise((void *)nohuge_r[i].start, nohuge_r[i].end - nohuge_r[i].start, MADV_NOHUGEPAGE);
  return nohuge_n;
}

// an own anonymous mapping (private or shared), never THP-eligible; MAP_FAILED on failure
static void *own_mmap(size_t len, int shared) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
  if (p != MAP_FAILED && madvise(p, len, MADV_NOHUGEPAGE)) {
    munmap(p, len);
    return MAP_FAILED;
  }
  return p;
}

// Fault in every page of this process's own mappings above SCEN_LIMIT (text and read-only data
// read, data, bss, heap and stack written; not [vdso]/[vvar], not the executor-only regions), after
// growing the stack by 64 KiB: the faults of a fresh fork (copy-on-write of the actor's own data,
// text a fork does not copy) happen here, not in a measured op.
static void __attribute__((noinline)) touch_self(void) {
  {
    volatile char deep[65536];
    for (size_t i = 0; i < sizeof deep; i += 512) deep[i] = 0;
  }
  for_each_map("/proc/self/maps", a_maps, sizeof a_maps, touch_map, NULL);
}

static void a_send(void) {
  size_t n = sizeof a_rep;
  if (write_full(rep_w[a_slot], &a_rep, n) < 0) _exit(3);
  if (a_rep.nvals && write_full(rep_w[a_slot], a_vals, a_rep.nvals * sizeof(uint64_t)) < 0) _exit(3);
}

#define MEASURE_BEGIN() getrusage(RUSAGE_SELF, &a_meas->ru0)
#define MEASURE_END()                                                                                         \
  (getrusage(RUSAGE_SELF, &a_meas->ru1), a_rep.minflt = a_meas->ru1.ru_minflt - a_meas->ru0.ru_minflt,         \
   a_rep.majflt = a_meas->ru1.ru_majflt - a_meas->ru0.ru_majflt)

// a fresh shared page for the rusage pair (a fork child drops the one it inherited first: touching
// it would race with the parent's measurement)
static void new_meas_page(void) {
  if (a_meas) munmap(a_meas, PAGE);
  a_meas = own_mmap(PAGE, 1);
  if (a_meas == MAP_FAILED) _exit(4);
  memset(a_meas, 0, sizeof *a_meas);
}

// fork (a clone whose child is the executor's child: CLONE_PARENT, so the executor reaps every
// actor) and, in the parent, getrusage(RUSAGE_SELF, ru1) at once: one asm block, so that nothing
// writes the stack or private data between the two syscalls (the fork has just write-protected
// them: a write would count the parent's own copy-on-write fault in the op). Returns the child's
// pid (ru1 filled), 0 in the child, -errno on failure (ru1 not filled).
static long fork_measured(struct rusage *ru1) {
  long ret = SYS_clone, rdi = CLONE_PARENT | SIGCHLD, rsi = 0;
  register long rdx asm("rdx") = 0, r10 asm("r10") = 0, r8 asm("r8") = 0;
  asm volatile("syscall\n\t"
               "test %%rax, %%rax\n\t"
               "jle 1f\n\t"
               "mov %%rax, %%r12\n\t"
               "mov %[gr], %%eax\n\t"
               "xor %%edi, %%edi\n\t"
               "mov %[ru], %%rsi\n\t"
               "syscall\n\t"
               "mov %%r12, %%rax\n"
               "1:"
               : "+a"(ret), "+D"(rdi), "+S"(rsi)
               : "r"(rdx), "r"(r10), "r"(r8), [gr] "i"(SYS_getrusage), [ru] "r"(ru1)
               : "rcx", "r11", "r12", "memory");
  return ret;
}

static void __attribute__((noreturn)) actor_main(int slot) {
  a_slot = slot;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fault_handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  new_meas_page();
  nohuge_self(); // inherited from the executor already; anything new (none expected) too
  touch_self();
  memset(&a_rep, 0, sizeof a_rep);
  a_rep.aux = getpid();
  a_send();
  for (;;) {
    ssize_t n = read_full(cmd_r[a_slot], &a_cmd, sizeof a_cmd);
    if (n != (ssize_t)sizeof a_cmd) _exit(2);
    struct cmd *c = &a_cmd;
    memset(&a_rep, 0, sizeof a_rep);
    long r = 0;
    switch (c->op) {
    case OP_MMAP: {
      int fd = -1, flags = MAP_FIXED_NOREPLACE;
      if (c->path[0]) {
        fd = open(c->path, O_RDWR | O_CLOEXEC);
        if (fd < 0) { a_rep.ret = -1; a_rep.err = errno; break; }
        flags |= c->arg2 ? MAP_SHARED : MAP_PRIVATE;
      } else {
        flags |= MAP_PRIVATE | MAP_ANONYMOUS;
      }
      MEASURE_BEGIN();
      void *p = mmap((void *)c->addr, c->len, c->prot, flags, fd, fd >= 0 ? (off_t)c->arg : 0);
      int e = errno;
      MEASURE_END();
      if (fd >= 0) close(fd);
      a_rep.ret = p == MAP_FAILED ? -1 : (int64_t)(uintptr_t)p;
      a_rep.err = p == MAP_FAILED ? e : 0;
      break;
    }
    case OP_MUNMAP:
    case OP_MPROTECT:
    case OP_MADVISE:
    case OP_MREMAP: {
      int e;
      MEASURE_BEGIN();
      if (c->op == OP_MUNMAP) r = munmap((void *)c->addr, c->len);
      else if (c->op == OP_MPROTECT) r = mprotect((void *)c->addr, c->len, c->prot);
      else if (c->op == OP_MADVISE) r = madvise((void *)c->addr, c->len, (int)c->arg);
      else r = (long)mremap((void *)c->addr, c->len, c->len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)c->arg);
      e = errno;
      MEASURE_END();
      if (c->op == OP_MREMAP && (void *)r == MAP_FAILED) r = -1;
      a_rep.ret = r;
      a_rep.err = r == -1 ? e : 0;
      break;
    }
    case OP_READ:
    case OP_WRITE: {
      // one 8-byte access per page; a SIGSEGV/SIGBUS stops the op at that page
      volatile uint64_t i = 0;
      uint64_t npages = (c->len + PAGE - 1) / PAGE;
      a_sig = 0;
      MEASURE_BEGIN();
      if (sigsetjmp(a_jb, 1) == 0) {
        if (c->op == OP_READ)
          for (i = 0; i < npages; i++) a_vals[i] = *(volatile uint64_t *)(c->addr + i * PAGE);
        else
          for (i = 0; i < npages; i++) *(volatile uint64_t *)(c->addr + i * PAGE) = (c->arg << 32) | i;
      }
      MEASURE_END();
      if (a_sig) { a_rep.ret = -1; a_rep.err = EFAULT; a_rep.sig = a_sig; }
      if (c->op == OP_READ) a_rep.nvals = (uint32_t)i;
      break;
    }
    case OP_FORK: {
      MEASURE_BEGIN();
      long pid = fork_measured(&a_meas->ru1);
      if (pid == 0) {
        // the child: its own pins are none (the rings it inherited stay the parent's pins)
        for (int i = 0; i < MAXPINS; i++)
          if (a_rings[i] >= 0) { close(a_rings[i]); a_rings[i] = -1; }
        a_slot = c->slot;
        new_meas_page();
        nohuge_self();
        touch_self();
        memset(&a_rep, 0, sizeof a_rep);
        a_rep.aux = syscall(SYS_getpid);
        a_send();
        continue;
      }
      if (pid < 0) getrusage(RUSAGE_SELF, &a_meas->ru1);
      a_rep.minflt = a_meas->ru1.ru_minflt - a_meas->ru0.ru_minflt;
      touch_self(); // the parent's own pages are write-protected by the fork too
      a_rep.ret = pid < 0 ? -1 : 0;
      a_rep.err = pid < 0 ? (int)-pid : 0;
      a_rep.aux = pid;
      break;
    }
    case OP_EXIT:
      _exit(0);
    case OP_PIN: {
      // a long-term R/W pin: io_uring fixed buffers (pin_user_pages FOLL_WRITE|FOLL_LONGTERM)
      struct io_uring_params p;
      memset(&p, 0, sizeof p);
      int fd = (int)syscall(__NR_io_uring_setup, 1, &p);
      if (fd < 0) { a_rep.ret = -1; a_rep.err = errno; break; }
      struct iovec iov = {(void *)c->addr, c->len};
      MEASURE_BEGIN();
      r = syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS, &iov, 1);
      int e = errno;
      MEASURE_END();
      a_rep.ret = r;
      a_rep.err = r < 0 ? e : 0;
      if (r < 0) close(fd);
      else a_rings[c->slot] = fd;
      break;
    }
    case OP_UNPIN: {
      int fd = a_rings[c->slot];
      if (fd < 0) { a_rep.ret = -1; a_rep.err = EBADF; break; }
      // unregister first: it unpins synchronously; close() alone leaves it to the ring's exit work
      MEASURE_BEGIN();
      r = syscall(__NR_io_uring_register, fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
      int e = errno;
      MEASURE_END();
      close(fd);
      a_rings[c->slot] = -1;
      a_rep.ret = r;
      a_rep.err = r < 0 ? e : 0;
      break;
    }
    default:
      a_rep.ret = -1;
      a_rep.err = EINVAL;
    }
    a_send();
  }
}

// ---------------------------------------------------------------------------------------------
// Executor side: the scenario state

struct actor {
  char name[NAMELEN];
  int state; // 0: live, 1: exited
  int slot;
  pid_t pid;
};
struct pin {
  char name[NAMELEN];
  int owner; // actor index
  int live;  // registered and not yet unpinned
};

static struct {
  int active;
  long long sid, step;
  double t0;
  struct actor actors[MAXNAMES];
  int nactors;
  int slot_used[MAXSLOTS];
  struct pin pins[MAXPINS];
  int npins;
  char files[MAXFILES][128]; // paths: /tmp/NAME (tmpfs) or /ext4/NAME (ext4 over a loop device)
  int nfiles;
  int pipes_open;
} S;

// THP settings at boot, restored at every scenario end when the scenario changed them
struct thpset {
  char path[128];
  char orig[32];
  int changed;
};
static struct thpset thp[64];
static int nthp;

static const char *thp_stats[] = {"anon_fault_alloc", "anon_fault_fallback", "anon_fault_fallback_charge", "split", "split_deferred", "split_failed", "nr_anon", "nr_anon_partially_mapped", "swpout", "shmem_alloc"};

static int thp_sizes[32];
static int nthp_sizes;

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void thp_scan_sizes(void) {
  DIR *d = opendir(THPDIR);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d)) && nthp_sizes < 32) {
    int kb;
    char tail[8];
    if (sscanf(de->d_name, "hugepages-%d%7s", &kb, tail) == 2 && !strcmp(tail, "kB")) thp_sizes[nthp_sizes++] = kb;
  }
  closedir(d);
  qsort(thp_sizes, nthp_sizes, sizeof(int), cmp_int);
}

// the bracketed word of a sysfs THP setting ("always [madvise] never" -> "madvise")
static int thp_current(const char *path, char *word, size_t cap) {
  char buf[256];
  if (read_text(path, buf, sizeof buf) < 0) return -1;
  char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;
  if (!a || !b || (size_t)(b - a - 1) >= cap) return -1;
  memcpy(word, a + 1, b - a - 1);
  word[b - a - 1] = 0;
  return 0;
}

// khugepaged's decoy process: see start_decoy()
#define DECOY_SIZE (32ULL << 40)
static int decoy_cmd = -1, decoy_rep = -1, decoy_registered;

// PMD-sized anonymous THP on (then khugepaged runs), as the kernel's hugepage_pmd_enabled()
static int pmd_thp_enabled(void) {
  char top[32], pmd[32];
  if (thp_current(THPDIR "/enabled", top, sizeof top) || thp_current(THPDIR "/hugepages-2048kB/enabled", pmd, sizeof pmd)) return 0;
  return !strcmp(pmd, "always") || !strcmp(pmd, "madvise") || (!strcmp(pmd, "inherit") && strcmp(top, "never"));
}

// Once PMD THP is on (call it after every THP write), have the decoy process madvise its mapping:
// that registers its mm with khugepaged, where it stays as long as it lives.
static void decoy_register(void) {
  if (decoy_registered || decoy_cmd < 0 || !pmd_thp_enabled()) return;
  char b = 'r';
  if (write(decoy_cmd, &b, 1) == 1 && read(decoy_rep, &b, 1) == 1) decoy_registered = 1;
}

// khugepaged must never collapse a scenario's memory behind its back. Its scan_sleep_millisecs is
// set to one day, but it also scans a round at once whenever it is (re)started (PMD THP switched
// off and on) and whenever an mm joins its empty list; it skips an mm whose mmap_lock it cannot
// trylock, moving on to the next. So a decoy process, forked at boot and idle for good (nothing
// takes its mmap_lock once it is registered), maps 32 TiB (MAP_NORESERVE, MADV_HUGEPAGE: no
// memory) and registers as soon as PMD THP is on, before any actor can: khugepaged scans mms in
// the order they joined, and a round (pages_to_scan 4096 PTEs: 8 PMD ranges) moves 16 MiB through
// the decoy, which lasts 2 million rounds. Actors, registered after it, are never reached.
// Measured on 6.12 (vm/README.md): without the decoy, a 2 MiB range of 4 KiB pages is collapsed
// within a second of a restart or of an actor's first PMD fault; with it, never.
// Registration: MADV_HUGEPAGE registers the mm (khugepaged_enter_vma) if PMD THP is on, the VMA
// has an anon_vma (without one it is skipped: MADV_HUGEPAGE on a fresh mapping did not register)
// and, on this kernel, only if the advice changes the VMA's flags (measured: a second
// MADV_HUGEPAGE did not register, MADV_NOHUGEPAGE then MADV_HUGEPAGE did). So at boot the decoy
// writes its last page under MADV_NOHUGEPAGE (the VMA gets an anon_vma; a 4 KiB page even if THP
// is on at boot, as with 1 GiB of RAM) and drops it again (MADV_DONTNEED: nothing left for
// khugepaged to collapse, the anon_vma stays), then MADV_HUGEPAGE; to register later it toggles
// MADV_NOHUGEPAGE, MADV_HUGEPAGE. No fault then: a PMD read fault (the earlier way)
// allocates a real 2 MiB folio when use_zero_page is off (as below 512 MiB of RAM, where
// hugepage_init() clears every THP flag), +1 in 2048 kB anon_fault_alloc in the step that first
// switched PMD THP on. Checked with khugepaged/full_scans (an 8 MiB decoy: a registered one is
// scanned through at once) and by smoke scenario 6.
static void start_decoy(void) {
  int c[2], r[2];
  if (pipe2(c, O_CLOEXEC) || pipe2(r, O_CLOEXEC)) return;
  pid_t pid = fork();
  if (pid < 0) return;
  if (pid == 0) {
    close(c[1]), close(r[0]);
    char *d = mmap(NULL, DECOY_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (d != MAP_FAILED) {
      madvise(d, DECOY_SIZE, MADV_NOHUGEPAGE); // the write: one 4 KiB page whatever THP is at boot
      *(volatile char *)(d + DECOY_SIZE - PAGE) = 1;
      madvise(d + DECOY_SIZE - PAGE, PAGE, MADV_DONTNEED);
      madvise(d, DECOY_SIZE, MADV_HUGEPAGE); // registers at once if PMD THP is on at boot
    }
    char b;
    while (read(c[0], &b, 1) == 1) {
      if (d != MAP_FAILED) madvise(d, DECOY_SIZE, MADV_NOHUGEPAGE), madvise(d, DECOY_SIZE, MADV_HUGEPAGE);
      if (write(r[1], &b, 1) != 1) break;
    }
    for (;;) pause();
  }
  close(c[0]), close(r[1]);
  decoy_cmd = c[1], decoy_rep = r[0];
}

static void thp_save(const char *path) {
  if (nthp >= 64) return;
  struct thpset *t = &thp[nthp];
  snprintf(t->path, sizeof t->path, "%s", path);
  if (thp_current(path, t->orig, sizeof t->orig) == 0) nthp++;
}

static void thp_save_all(void) {
  thp_save(THPDIR "/enabled");
  for (int i = 0; i < nthp_sizes; i++) {
    char p[128];
    snprintf(p, sizeof p, THPDIR "/hugepages-%dkB/enabled", thp_sizes[i]);
    thp_save(p);
    snprintf(p, sizeof p, THPDIR "/hugepages-%dkB/shmem_enabled", thp_sizes[i]);
    thp_save(p);
  }
}

// write a THP setting; 0 or -errno
static int thp_set(const char *path, const char *mode) {
  struct thpset *t = NULL;
  for (int i = 0; i < nthp; i++)
    if (!strcmp(thp[i].path, path)) t = &thp[i];
  if (!t) return -ENOENT;
  int r = write_text(path, mode);
  if (r == 0) t->changed = 1;
  decoy_register();
  return r;
}

static void thp_restore(void) {
  for (int i = 0; i < nthp; i++)
    if (thp[i].changed) {
      write_text(thp[i].path, thp[i].orig);
      thp[i].changed = 0;
    }
  decoy_register();
}

// ---------------------------------------------------------------------------------------------
// Talking to actors

// a reply from the actor in slot; -1 if the actor died (it is then reaped and marked exited)
static int x_recv(int ai, struct reply *r, uint64_t *vals) {
  struct actor *a = &S.actors[ai];
  int fd = rep_r[a->slot];
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, 1000);
    if (n > 0) break;
    if (n < 0 && errno == EINTR) continue;
    int st;
    if (waitpid(a->pid, &st, WNOHANG) == a->pid) {
      a->state = 1;
      S.slot_used[a->slot] = 0;
      return -1;
    }
  }
  if (read_full(fd, r, sizeof *r) != (ssize_t)sizeof *r) return -1;
  if (r->nvals) {
    if (r->nvals > MAXVALS || read_full(fd, vals, r->nvals * sizeof(uint64_t)) != (ssize_t)(r->nvals * sizeof(uint64_t))) return -1;
  }
  return 0;
}

static int x_send(int ai, struct cmd *c) { return write_full(cmd_w[S.actors[ai].slot], c, sizeof *c); }

static int find_actor(const char *name) {
  for (int i = 0; i < S.nactors; i++)
    if (!strcmp(S.actors[i].name, name)) return i;
  return -1;
}

static int free_slot(void) {
  for (int i = 0; i < MAXSLOTS; i++)
    if (!S.slot_used[i]) return i;
  return -1;
}

static int open_pipes(void) {
  for (int i = 0; i < MAXSLOTS; i++) {
    int a[2], b[2];
    if (pipe2(a, O_CLOEXEC) || pipe2(b, O_CLOEXEC)) return -1;
    cmd_r[i] = a[0], cmd_w[i] = a[1], rep_r[i] = b[0], rep_w[i] = b[1];
  }
  S.pipes_open = 1;
  return 0;
}
static void close_pipes(void) {
  if (!S.pipes_open) return;
  for (int i = 0; i < MAXSLOTS; i++) close(cmd_r[i]), close(cmd_w[i]), close(rep_r[i]), close(rep_w[i]);
  S.pipes_open = 0;
}

// a new actor for a process's first mmap: a fork of the executor; -1 on failure
static int x_spawn(const char *name) {
  int slot = free_slot();
  if (slot < 0 || S.nactors >= MAXNAMES) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) actor_main(slot);
  int ai = S.nactors++;
  struct actor *a = &S.actors[ai];
  snprintf(a->name, sizeof a->name, "%s", name);
  a->state = 0;
  a->slot = slot;
  a->pid = pid;
  S.slot_used[slot] = 1;
  struct reply r;
  if (x_recv(ai, &r, NULL) < 0) return -1;
  return ai;
}

// ---------------------------------------------------------------------------------------------
// Scenario lifecycle

static long cur_line; // the steps.txt line being run (for error lines)
static int self_eligible(uint64_t *first);

static void print_error(long line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void print_error(long line, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  of("{\"t\":\"error\",\"line\":%ld,\"msg\":", line);
  ostr(msg);
  of("}");
  oflush();
}

// end the current scenario: unpin live pins, kill and reap every live actor, remove its files,
// restore THP settings, print the end line
static void scenario_end(void) {
  if (!S.active) return;
  for (int i = 0; i < S.npins; i++) {
    struct pin *p = &S.pins[i];
    if (!p->live || S.actors[p->owner].state) continue;
    struct cmd c = {.op = OP_UNPIN, .slot = i};
    struct reply r;
    if (x_send(p->owner, &c) == 0) x_recv(p->owner, &r, NULL);
    p->live = 0;
  }
  for (int i = 0; i < S.nactors; i++)
    if (S.actors[i].state == 0) kill(S.actors[i].pid, SIGKILL);
  for (int i = 0; i < S.nactors; i++)
    if (S.actors[i].state == 0) {
      while (waitpid(S.actors[i].pid, NULL, 0) < 0 && errno == EINTR) {}
      S.actors[i].state = 1;
    }
  // anything else left (should be nothing): reap without blocking
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
  close_pipes();
  for (int i = 0; i < S.nfiles; i++) unlink(S.files[i]);
  // still under the scenario's THP settings
  uint64_t first;
  int n = self_eligible(&first);
  if (n) print_error(cur_line, "%d own mapping(s) of the executor THP-eligible, the first at 0x%llx: the mTHP counters may count its own faults", n, (unsigned long long)first);
  thp_restore();
  of("{\"t\":\"end\",\"sid\":%lld,\"ms\":%.0f}", S.sid, now_ms() - S.t0);
  oflush();
  S.active = 0;
}

static int scenario_begin(long long sid) {
  nohuge_self(); // anything the executor mapped since (nothing expected)
  memset(&S, 0, sizeof S);
  S.sid = sid;
  S.t0 = now_ms();
  S.active = 1;
  of("{\"t\":\"begin\",\"sid\":%lld}", sid);
  oflush();
  return open_pipes();
}

// ---------------------------------------------------------------------------------------------
// Observation (the executor reads /proc/<pid>/pagemap, /proc/kpageflags, /proc/kpagecount)

#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_FILE (1ULL << 61)
#define PM_EXCL (1ULL << 56)
#define PM_SOFTDIRTY (1ULL << 55)
#define PM_PFN ((1ULL << 55) - 1)
#define KPF_DIRTY 4
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_ZERO_PAGE 24

static int kflags_fd = -1, kcount_fd = -1;

static uint64_t kflags(uint64_t pfn) {
  uint64_t v = 0;
  if (pread(kflags_fd, &v, 8, (off_t)(pfn * 8)) != 8) return 0;
  return v;
}
static uint64_t kcount(uint64_t pfn) {
  uint64_t v = 0;
  if (pread(kcount_fd, &v, 8, (off_t)(pfn * 8)) != 8) return 0;
  return v;
}

static void observe_pages(const char *proc, pid_t pid, uint64_t addr, uint64_t len) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  uint64_t first = addr / PAGE, npages = (addr + len + PAGE - 1) / PAGE - first;
  uint64_t cache_head = ~0ULL, cache_n = 0; // the last folio's head pfn and size in pages
  for (uint64_t i = 0; i < npages; i++) {
    uint64_t e = 0;
    if (fd >= 0 && pread(fd, &e, 8, (off_t)((first + i) * 8)) != 8) e = 0;
    uint64_t va = (first + i) * PAGE;
    of("{\"t\":\"page\",\"sid\":%lld,\"step\":%lld,\"proc\":", S.sid, S.step);
    ostr(proc);
    of(",\"addr\":\"0x%llx\",\"present\":%d", (unsigned long long)va, (e & PM_PRESENT) ? 1 : 0);
    if (e & PM_PRESENT) {
      uint64_t pfn = e & PM_PFN, fl = kflags(pfn), head = pfn, n = 1;
      if (cache_head != ~0ULL && pfn >= cache_head && pfn < cache_head + cache_n) {
        head = cache_head, n = cache_n;
      } else if (fl & ((1ULL << KPF_COMPOUND_HEAD) | (1ULL << KPF_COMPOUND_TAIL))) {
        // walk back to the head while COMPOUND_TAIL (at most 511 steps), then forward from the
        // head while the next pfn is COMPOUND_TAIL (at most 512 pages)
        if (fl & (1ULL << KPF_COMPOUND_TAIL))
          for (int k = 0; k < 511 && head > 0 && (kflags(head) & (1ULL << KPF_COMPOUND_TAIL)); k++) head--;
        while (n < 512 && (kflags(head + n) & (1ULL << KPF_COMPOUND_TAIL))) n++;
        cache_head = head, cache_n = n;
      }
      int order = 63 - __builtin_clzll(n);
      of(",\"pfn\":\"0x%llx\",\"zero\":%d,\"head\":\"0x%llx\",\"order\":%d,\"idx\":%llu,\"mapcount\":%llu",
         (unsigned long long)pfn, (fl >> KPF_ZERO_PAGE) & 1 ? 1 : 0, (unsigned long long)head, order,
         (unsigned long long)(pfn - head), (unsigned long long)kcount(pfn));
    }
    of(",\"softdirty\":%d,\"exclusive\":%d,\"file\":%d", (e & PM_SOFTDIRTY) ? 1 : 0, (e & PM_EXCL) ? 1 : 0, (e & PM_FILE) ? 1 : 0);
    if (e & PM_PRESENT) of(",\"dirty\":%d", (int)((kflags(e & PM_PFN) >> KPF_DIRTY) & 1));
    of(",\"swap\":%d}", (e & PM_SWAP) ? 1 : 0);
    oflush();
  }
  if (fd >= 0) close(fd);
}

static long long status_kb(const char *buf, const char *key) {
  const char *p = strstr(buf, key);
  if (!p) return -1;
  return strtoll(p + strlen(key), NULL, 10);
}

// The actor's own share of its RSS counters: the pages of its mappings above SCEN_LIMIT (the
// executor image, heap, stack, vdso), from /proc/<pid>/smaps (a page-table walk): Anonymous is
// MM_ANONPAGES; the rest of Rss is the image's file pages (MM_SHMEMPAGES when the initramfs root is
// tmpfs, as with the Debian kernel, else MM_FILEPAGES) or the vdso's (MM_FILEPAGES).
// Also: own mappings that smaps calls THPeligible (there must be none: see nohuge_self).
struct own {
  long long anon, file, shmem;
  int cur; // 0: outside, 1: file, 2: shmem
  long long rss;
  int own, elig;                  // the current mapping is own; own mappings THPeligible
  uint64_t start, elig_start;     // the current mapping's start; the first eligible one's
};
static int root_is_shmem;
static char x_maps[65536];

static void own_fold(struct own *o) {
  if (o->cur == 1) o->file += o->rss;
  if (o->cur == 2) o->shmem += o->rss;
  o->cur = 0, o->rss = 0;
}
static void own_map(uint64_t s, uint64_t e, const char *perms, const char *path, void *arg) {
  struct own *o = arg;
  (void)e;
  if (perms) {
    own_fold(o);
    o->own = s >= SCEN_LIMIT, o->start = s;
    o->cur = s < SCEN_LIMIT ? 0 : -1; // -1: own, kind decided by the fields below
    if (o->cur && !strncmp(path, "/dev/zero", 9)) o->cur = 2; // MAP_SHARED|MAP_ANONYMOUS: shmem
    else if (o->cur && path[0] == '/') o->cur = root_is_shmem ? 2 : 1;
    else if (o->cur && path[0] == '[' && strcmp(path, "[heap]") && strcmp(path, "[stack]")) o->cur = 1;
    return;
  }
  int v;
  if (o->own && sscanf(path, "THPeligible: %d", &v) == 1 && v && !o->elig++) o->elig_start = o->start;
  if (!o->cur) return;
  long long kb;
  if (sscanf(path, "Rss: %lld kB", &kb) == 1) o->rss += kb;
  else if (sscanf(path, "Anonymous: %lld kB", &kb) == 1) { o->anon += kb; o->rss -= kb; }
  else if (o->cur == -1 && !strncmp(path, "VmFlags:", 8)) o->cur = 0, o->rss = 0; // anonymous: no file share
}

static void observe_rss(const char *proc, pid_t pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  if (read_text(path, buf, sizeof buf) < 0) buf[0] = 0;
  struct own o = {0};
  snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
  for_each_map(path, x_maps, sizeof x_maps, own_map, &o);
  own_fold(&o);
  of("{\"t\":\"rss\",\"sid\":%lld,\"step\":%lld,\"proc\":", S.sid, S.step);
  ostr(proc);
  of(",\"anon\":%lld,\"file\":%lld,\"shmem\":%lld}", status_kb(buf, "\nRssAnon:") - o.anon, status_kb(buf, "\nRssFile:") - o.file,
     status_kb(buf, "\nRssShmem:") - o.shmem);
  oflush();
  if (o.elig)
    print_error(cur_line, "%d own mapping(s) of %s THP-eligible, the first at 0x%llx: the mTHP counters may count the actor's own faults", o.elig, proc,
                (unsigned long long)o.elig_start);
}

// the executor's own mappings THP-eligible (none expected: see nohuge_self); 0 if none
static int self_eligible(uint64_t *first) {
  struct own o = {0};
  for_each_map("/proc/self/smaps", x_maps, sizeof x_maps, own_map, &o);
  *first = o.elig_start;
  return o.elig;
}

static void observe_thp(void) {
  of("{\"t\":\"thp\",\"sid\":%lld,\"step\":%lld,\"sizes\":{", S.sid, S.step);
  for (int i = 0; i < nthp_sizes; i++) {
    of("%s\"%d\":{", i ? "," : "", thp_sizes[i]);
    int first = 1;
    for (size_t k = 0; k < sizeof thp_stats / sizeof *thp_stats; k++) {
      char path[160], buf[64];
      snprintf(path, sizeof path, THPDIR "/hugepages-%dkB/stats/%s", thp_sizes[i], thp_stats[k]);
      if (read_text(path, buf, sizeof buf) < 0) continue;
      of("%s\"%s\":%llu", first ? "" : ",", thp_stats[k], strtoull(buf, NULL, 10));
      first = 0;
    }
    of("}");
  }
  of("}}");
  oflush();
}

// ---------------------------------------------------------------------------------------------
// Parsing steps.txt

static int parse_num(const char *s, uint64_t *v) {
  char *end;
  if (!*s || *s == '-' || *s == '+') return -1;
  errno = 0;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    if (!s[2]) return -1;
    *v = strtoull(s + 2, &end, 16);
  } else {
    *v = strtoull(s, &end, 10);
  }
  return *end || errno ? -1 : 0;
}

static int is_name(const char *s) {
  if (!*s || strlen(s) >= NAMELEN) return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-')) return 0;
  return 1;
}

static int parse_prot(const char *s) {
  if (!strcmp(s, "none")) return PROT_NONE;
  if (!strcmp(s, "r")) return PROT_READ;
  if (!strcmp(s, "rw")) return PROT_READ | PROT_WRITE;
  return -1;
}

static int in_list(const char *s, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(s, *list)) return 1;
  return 0;
}

// ext4 over a loop device (files with write notify): set up at boot when the initramfs has
// /ext4.img (an empty ext4 image conformance:setup makes with mke2fs); the loop driver is a module
// in the Debian kernel: /loop.ko (decompressed) is loaded with finit_module when
// /dev/loop-control is missing. Readahead is off on the device (read_ahead_kb 0: a read fault
// reads the one page it needs, as the model, which has no readahead, does), and nothing writes
// back behind a scenario's back: periodic writeback off (dirty_writeback_centisecs 0, expiry a
// day), the journal's commit interval an hour.
static int ext4_ok;
static char ext4_err[256] = "no /ext4.img in the initramfs";
static void ext4_setup(void) {
  if (access("/ext4.img", F_OK)) return;
  int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0) {
    int m = open("/loop.ko", O_RDONLY | O_CLOEXEC);
    if (m < 0) {
      snprintf(ext4_err, sizeof ext4_err, "no loop driver (/dev/loop-control) and no /loop.ko in the initramfs");
      return;
    }
    long r = syscall(SYS_finit_module, m, "", 0);
    int e = errno;
    close(m);
    if (r && e != EEXIST) {
      snprintf(ext4_err, sizeof ext4_err, "finit_module(/loop.ko): %s", strerror(e));
      return;
    }
    ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0) {
      snprintf(ext4_err, sizeof ext4_err, "/dev/loop-control: %s", strerror(errno));
      return;
    }
  }
  int n = ioctl(ctl, LOOP_CTL_GET_FREE);
  close(ctl);
  if (n < 0) {
    snprintf(ext4_err, sizeof ext4_err, "LOOP_CTL_GET_FREE: %s", strerror(errno));
    return;
  }
  char dev[32], ra[64];
  snprintf(dev, sizeof dev, "/dev/loop%d", n);
  int lfd = -1;
  for (int i = 0; i < 100 && lfd < 0; i++) {
    lfd = open(dev, O_RDWR | O_CLOEXEC);
    if (lfd < 0) usleep(10000); // devtmpfs creates the node
  }
  int ifd = open("/ext4.img", O_RDWR | O_CLOEXEC);
  if (lfd < 0 || ifd < 0 || ioctl(lfd, LOOP_SET_FD, ifd)) {
    snprintf(ext4_err, sizeof ext4_err, "cannot attach /ext4.img to %s: %s", dev, strerror(errno));
    if (lfd >= 0) close(lfd);
    if (ifd >= 0) close(ifd);
    return;
  }
  close(ifd);
  snprintf(ra, sizeof ra, "/sys/block/loop%d/queue/read_ahead_kb", n);
  write_text(ra, "0");
  write_text("/proc/sys/vm/dirty_writeback_centisecs", "0");
  write_text("/proc/sys/vm/dirty_expire_centisecs", "8640000");
  mkdir("/ext4", 0755);
  if (mount(dev, "/ext4", "ext4", 0, "commit=3600")) {
    snprintf(ext4_err, sizeof ext4_err, "cannot mount %s (ext4) on /ext4: %s (CONFIG_EXT4_FS)", dev, strerror(errno));
    close(lfd);
    return;
  }
  close(lfd);
  ext4_ok = 1;
}

static uint64_t *x_vals; // the values of a read, executor side (executor-only memory)

// Run one line. Returns 0, or -1 with *err set for a malformed line (the caller prints the error
// line and skips to the next scenario).
static int run_line(long lineno, char **tok, int nt, char *err, size_t errcap) {
#define BAD(...) do { snprintf(err, errcap, __VA_ARGS__); return -1; } while (0)
  const char *op = tok[0];
  cur_line = lineno;
  if (!strcmp(op, "scenario")) {
    uint64_t sid;
    if (nt != 2 || parse_num(tok[1], &sid)) BAD("usage: scenario <sid>");
    if (S.active) {
      print_error(lineno, "scenario %lld did not end before this line", S.sid);
      scenario_end();
    }
    if (scenario_begin((long long)sid)) BAD("cannot create pipes: %s", strerror(errno));
    return 0;
  }
  if (!S.active) BAD("%s outside a scenario", op);

  if (!strcmp(op, "end")) {
    if (nt != 1) BAD("usage: end");
    scenario_end();
    return 0;
  }
  if (!strcmp(op, "step")) {
    uint64_t k;
    if (nt != 2 || parse_num(tok[1], &k)) BAD("usage: step <k>");
    S.step = (long long)k;
    return 0;
  }
  if (!strcmp(op, "thp") || !strcmp(op, "thp-shmem") || !strcmp(op, "thp-top")) {
    static const char *const anon_modes[] = {"never", "always", "inherit", "madvise", NULL};
    static const char *const shmem_modes[] = {"never", "always", "inherit", "within_size", "advise", NULL};
    static const char *const top_modes[] = {"never", "always", "madvise", NULL};
    char path[128];
    const char *mode;
    if (!strcmp(op, "thp-top")) {
      if (nt != 2 || !in_list(tok[1], top_modes)) BAD("usage: thp-top <never|always|madvise>");
      snprintf(path, sizeof path, THPDIR "/enabled");
      mode = tok[1];
    } else {
      uint64_t kb;
      int shm = !strcmp(op, "thp-shmem");
      if (nt != 3 || parse_num(tok[1], &kb) || !in_list(tok[2], shm ? shmem_modes : anon_modes))
        BAD(shm ? "usage: thp-shmem <sizeKB> <never|always|inherit|within_size|advise>" : "usage: thp <sizeKB> <never|always|inherit|madvise>");
      snprintf(path, sizeof path, THPDIR "/hugepages-%llukB/%s", (unsigned long long)kb, shm ? "shmem_enabled" : "enabled");
      mode = tok[2];
    }
    int r = thp_set(path, mode);
    if (r) BAD("cannot write %s to %s: %s", mode, path, strerror(-r));
    return 0;
  }
  if (!strcmp(op, "observe")) {
    uint64_t addr, len;
    if (nt != 4 || parse_num(tok[2], &addr) || parse_num(tok[3], &len)) BAD("usage: observe <P> <addr> <len>");
    int ai = find_actor(tok[1]);
    if (ai < 0 || S.actors[ai].state) BAD("observe: no live process %s", tok[1]);
    if (len / PAGE > MAXVALS) BAD("observe: range too long");
    if (addr + len < addr || addr + len > SCEN_LIMIT) BAD("observe: range beyond the scenario address limit 0x%llx", SCEN_LIMIT);
    observe_pages(tok[1], S.actors[ai].pid, addr, len);
    observe_rss(tok[1], S.actors[ai].pid);
    observe_thp();
    return 0;
  }

  if (!strcmp(op, "writeback") || !strcmp(op, "sync")) {
    // write back one file's dirty folios (sync_file_range: wait, write, wait: what
    // write_cache_pages does, folio_mkclean first), or every file (sync(2)); by the executor
    long r = 0;
    int e = 0;
    if (!strcmp(op, "sync")) {
      if (nt != 1) BAD("usage: sync");
      sync();
    } else {
      if (nt != 2 || !is_name(tok[1])) BAD("usage: writeback <fname>");
      const char *path = NULL;
      for (int i = 0; i < S.nfiles; i++)
        if (!strcmp(strrchr(S.files[i], '/') + 1, tok[1])) path = S.files[i];
      if (!path) BAD("writeback: unknown file %s", tok[1]);
      int fd = open(path, O_RDWR | O_CLOEXEC);
      if (fd < 0) BAD("writeback: cannot open %s: %s", path, strerror(errno));
      r = sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      e = r ? errno : 0;
      close(fd);
    }
    of("{\"t\":\"op\",\"sid\":%lld,\"step\":%lld,\"op\":\"%s\",\"proc\":\"\",\"ret\":%ld,\"errno\":%d,\"minflt\":0}", S.sid, S.step, op, r, e);
    oflush();
    return 0;
  }

  // ops carried out by an actor
  struct cmd c;
  memset(&c, 0, sizeof c);
  int ai = -1, newproc = 0, pin_i = -1;
  const char *child = NULL;
  if (!strcmp(op, "unpin")) {
    if (nt != 2) BAD("usage: unpin <pinid>");
    for (int i = 0; i < S.npins; i++)
      if (!strcmp(S.pins[i].name, tok[1])) pin_i = i;
    if (pin_i < 0) BAD("unpin: unknown pin %s", tok[1]);
    ai = S.pins[pin_i].owner;
    c.op = OP_UNPIN;
    c.slot = pin_i;
    if (!S.pins[pin_i].live || S.actors[ai].state) {
      // the pin failed, was unpinned, or its process exited: nothing to unregister
      of("{\"t\":\"op\",\"sid\":%lld,\"step\":%lld,\"op\":\"unpin\",\"proc\":", S.sid, S.step);
      ostr(S.actors[ai].name);
      of(",\"ret\":-1,\"errno\":%d,\"minflt\":0}", ENOENT);
      oflush();
      return 0;
    }
  } else {
    if (nt < 2 || !is_name(tok[1])) BAD("%s: expected a process name", op);
    ai = find_actor(tok[1]);
    if (ai >= 0 && S.actors[ai].state) BAD("%s: process %s has exited", op, tok[1]);
    if (!strcmp(op, "mmap")) {
      uint64_t addr, len, off = 0, shared = 0;
      int prot;
      if (nt < 6 || parse_num(tok[2], &addr) || parse_num(tok[3], &len) || (prot = parse_prot(tok[4])) < 0)
        BAD("usage: mmap <P> <addr> <len> <prot> anon | file <fname> <offset> <shared 0|1>");
      if (addr + len > SCEN_LIMIT || addr + len < addr) BAD("mmap: range beyond the scenario address limit");
      if (!strcmp(tok[5], "anon")) {
        if (nt != 6) BAD("usage: mmap <P> <addr> <len> <prot> anon");
      } else if (!strcmp(tok[5], "file")) {
        if ((nt != 9 && nt != 10) || !is_name(tok[6]) || !strcmp(tok[6], ".") || !strcmp(tok[6], "..") || parse_num(tok[7], &off) ||
            parse_num(tok[8], &shared) || shared > 1 || (nt == 10 && strcmp(tok[9], "tmpfs") && strcmp(tok[9], "ext4")))
          BAD("usage: mmap <P> <addr> <len> <prot> file <fname> <offset> <shared 0|1> [tmpfs|ext4]");
        int ext4 = nt == 10 && !strcmp(tok[9], "ext4");
        if (ext4 && !ext4_ok) BAD("mmap: no ext4 file system: %s", ext4_err);
        snprintf(c.path, sizeof c.path, "%s/%s", ext4 ? "/ext4" : "/tmp", tok[6]);
        int known = 0;
        for (int i = 0; i < S.nfiles; i++) {
          if (!strcmp(S.files[i], c.path)) known = 1;
          else if (!strcmp(strrchr(S.files[i], '/') + 1, tok[6])) BAD("mmap: file %s is %s already", tok[6], S.files[i]);
        }
        if (!known) {
          if (S.nfiles >= MAXFILES) BAD("mmap: too many files");
          snprintf(S.files[S.nfiles++], sizeof S.files[0], "%s", c.path);
        }
        // the file: created on first use, at least offset+len long
        int fd = open(c.path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        struct stat st;
        if (fd < 0 || fstat(fd, &st)) BAD("mmap: cannot create %s: %s", c.path, strerror(errno));
        if ((uint64_t)st.st_size < off + len && ftruncate(fd, (off_t)(off + len))) {
          int e = errno;
          close(fd);
          BAD("mmap: cannot size %s: %s", c.path, strerror(e));
        }
        close(fd);
      } else {
        BAD("mmap: expected anon or file, found %s", tok[5]);
      }
      c.op = OP_MMAP, c.addr = addr, c.len = len, c.prot = prot, c.arg = off, c.arg2 = shared;
      if (ai < 0) newproc = 1;
    } else {
      if (ai < 0) BAD("%s: unknown process %s", op, tok[1]);
      uint64_t a = 0, l = 0;
      if (!strcmp(op, "munmap") || !strcmp(op, "read")) {
        if (nt != 4 || parse_num(tok[2], &a) || parse_num(tok[3], &l)) BAD("usage: %s <P> <addr> <len>", op);
        c.op = !strcmp(op, "munmap") ? OP_MUNMAP : OP_READ;
        if (c.op == OP_READ && (l + PAGE - 1) / PAGE > MAXVALS) BAD("read: range too long (at most %d pages)", MAXVALS);
      } else if (!strcmp(op, "write")) {
        if (nt != 5 || parse_num(tok[2], &a) || parse_num(tok[3], &l) || parse_num(tok[4], &c.arg)) BAD("usage: write <P> <addr> <len> <tag>");
        c.op = OP_WRITE;
      } else if (!strcmp(op, "mprotect")) {
        if (nt != 5 || parse_num(tok[2], &a) || parse_num(tok[3], &l) || (c.prot = parse_prot(tok[4])) < 0)
          BAD("usage: mprotect <P> <addr> <len> <none|r|rw>");
        c.op = OP_MPROTECT;
      } else if (!strcmp(op, "madvise")) {
        static const char *const names[] = {"dontneed", "dontfork", "dofork", "free", "cold", "pageout", NULL};
        static const int advs[] = {MADV_DONTNEED, MADV_DONTFORK, MADV_DOFORK, MADV_FREE, MADV_COLD, MADV_PAGEOUT};
        int k = -1;
        if (nt == 5)
          for (int i = 0; names[i]; i++)
            if (!strcmp(tok[4], names[i])) k = i;
        if (k < 0 || parse_num(tok[2], &a) || parse_num(tok[3], &l)) BAD("usage: madvise <P> <addr> <len> <dontneed|dontfork|dofork|free|cold|pageout>");
        c.op = OP_MADVISE;
        c.arg = (uint64_t)advs[k];
      } else if (!strcmp(op, "mremap")) {
        if (nt != 5 || parse_num(tok[2], &a) || parse_num(tok[3], &l) || parse_num(tok[4], &c.arg)) BAD("usage: mremap <P> <addr> <len> <newaddr>");
        if (c.arg + l > SCEN_LIMIT) BAD("mremap: target beyond the scenario address limit");
        c.op = OP_MREMAP;
      } else if (!strcmp(op, "fork")) {
        if (nt != 3 || !is_name(tok[2])) BAD("usage: fork <P> <C>");
        if (find_actor(tok[2]) >= 0) BAD("fork: process %s already exists", tok[2]);
        if (S.nactors >= MAXNAMES) BAD("fork: too many processes");
        c.op = OP_FORK;
        c.slot = free_slot();
        if (c.slot < 0) BAD("fork: more than %d live processes", MAXSLOTS);
        child = tok[2];
      } else if (!strcmp(op, "exit")) {
        if (nt != 2) BAD("usage: exit <P>");
        c.op = OP_EXIT;
      } else if (!strcmp(op, "pin")) {
        if (nt != 5 || parse_num(tok[2], &a) || parse_num(tok[3], &l) || !is_name(tok[4])) BAD("usage: pin <P> <addr> <len> <pinid>");
        for (int i = 0; i < S.npins; i++)
          if (!strcmp(S.pins[i].name, tok[4])) BAD("pin: pin %s already used", tok[4]);
        if (S.npins >= MAXPINS) BAD("pin: too many pins");
        c.op = OP_PIN;
        pin_i = S.npins;
        c.slot = pin_i;
      } else {
        BAD("unknown command %s", op);
      }
      // every range an actor works on lies below the executor's own memory
      if (a + l < a || a + l > SCEN_LIMIT) BAD("%s: range beyond the scenario address limit 0x%llx", op, SCEN_LIMIT);
      c.addr = a, c.len = l;
    }
  }

  if (newproc) {
    if (free_slot() < 0) BAD("mmap: more than %d live processes", MAXSLOTS);
    ai = x_spawn(tok[1]);
    if (ai < 0) BAD("mmap: cannot start an actor for %s", tok[1]);
  }
  if (c.op == OP_PIN) {
    struct pin *p = &S.pins[S.npins++];
    snprintf(p->name, sizeof p->name, "%s", tok[4]);
    p->owner = ai;
    p->live = 0;
  }

  struct reply r;
  memset(&r, 0, sizeof r);
  struct actor *a = &S.actors[ai];
  if (x_send(ai, &c)) BAD("%s: cannot send to %s", op, a->name);
  if (c.op == OP_EXIT) {
    // the actor _exit()s: reap it before printing
    int st;
    while (waitpid(a->pid, &st, 0) < 0 && errno == EINTR) {}
    a->state = 1;
    S.slot_used[a->slot] = 0;
    r.ret = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  } else if (x_recv(ai, &r, x_vals) < 0) {
    BAD("%s: process %s died", op, a->name);
  }
  if (c.op == OP_PIN && r.ret >= 0) S.pins[pin_i].live = 1;
  if (c.op == OP_UNPIN) S.pins[pin_i].live = 0;
  int child_ai = -1;
  if (c.op == OP_FORK && r.ret == 0) {
    child_ai = S.nactors++;
    struct actor *ca = &S.actors[child_ai];
    snprintf(ca->name, sizeof ca->name, "%s", child);
    ca->state = 0;
    ca->slot = c.slot;
    ca->pid = (pid_t)r.aux;
    S.slot_used[c.slot] = 1;
    struct reply cr;
    if (x_recv(child_ai, &cr, NULL) < 0) BAD("fork: child %s died", child);
  }

  of("{\"t\":\"op\",\"sid\":%lld,\"step\":%lld,\"op\":\"%s\",\"proc\":", S.sid, S.step, op);
  ostr(a->name);
  of(",\"ret\":%lld,\"errno\":%d,\"minflt\":%lld", (long long)r.ret, r.err, (long long)r.minflt);
  if (r.majflt) of(",\"majflt\":%lld", (long long)r.majflt);
  if (c.op == OP_FORK) {
    of(",\"child\":");
    ostr(child);
  }
  if (r.sig == SIGBUS) of(",\"signal\":\"SIGBUS\"");
  if (c.op == OP_READ) {
    of(",\"values\":[");
    for (uint32_t i = 0; i < r.nvals; i++) of("%s\"0x%llx\"", i ? "," : "", (unsigned long long)x_vals[i]);
    of("]");
  }
  of("}");
  oflush();
  return 0;
#undef BAD
}

// ---------------------------------------------------------------------------------------------

static char *steps_buf;
static size_t steps_len;

static int load_steps(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st)) { close(fd); return -1; }
  size_t cap = (size_t)st.st_size + 1;
  steps_buf = own_mmap(cap, 0);
  if (steps_buf == MAP_FAILED) { close(fd); return -1; }
  ssize_t n = read_full(fd, steps_buf, (size_t)st.st_size);
  close(fd);
  if (n < 0) return -1;
  steps_buf[n] = 0;
  steps_len = (size_t)n;
  x_only[n_x_only++] = (struct region){(uintptr_t)steps_buf, (uintptr_t)steps_buf + ((cap + PAGE - 1) & ~(PAGE - 1))};
  return 0;
}

static void power_off(void) {
  tcdrain(1); // the last lines must leave the UART before the machine stops
  sync();
  reboot(RB_POWER_OFF);
  _exit(0);
}

// What the kernel lacks that the executor needs (a `--kernel` of the user's may): one
// {"t":"missing","what":...,"config":...} line each; conform names them and exits 2.
static void missing(const char *what, const char *config) {
  of("{\"t\":\"missing\",\"what\":");
  ostr(what);
  of(",\"config\":");
  ostr(config);
  of("}");
  oflush();
}
static void report_missing(void) {
  if (kflags_fd < 0) missing("/proc/kpageflags", "CONFIG_PROC_PAGE_MONITOR");
  if (kcount_fd < 0) missing("/proc/kpagecount", "CONFIG_PROC_PAGE_MONITOR");
  int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pm < 0) missing("/proc/PID/pagemap", "CONFIG_PROC_PAGE_MONITOR");
  else close(pm);
  if (access(THPDIR "/enabled", F_OK)) missing(THPDIR, "CONFIG_TRANSPARENT_HUGEPAGE");
  else if (nthp_sizes == 0) missing(THPDIR "/hugepages-<size>kB (per-size mTHP)", "Linux 6.8 or later with CONFIG_TRANSPARENT_HUGEPAGE");
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int fd = (int)syscall(__NR_io_uring_setup, 1, &p);
  if (fd < 0 && errno == ENOSYS) missing("io_uring (read-write pins)", "CONFIG_IO_URING");
  else if (fd >= 0) close(fd);
}

int main(int argc, char **argv) {
  (void)argc;
  // It mounts, rewrites THP settings and powers the machine off: only ever as PID 1 of a VM.
  if (getpid() != 1) {
    fprintf(stderr, "executor: must run as /init (PID 1) of a VM\n");
    return 2;
  }
  // Re-exec once: without ASLR (a fixed layout for the executor and so for every actor), and
  // without glibc's rseq registration (the kernel writes the rseq area on a return to user space
  // after a preemption: after a fork that write is a copy-on-write fault of the actor's own, which
  // would count in the op).
  int pers = personality(0xffffffff);
  const char *tun = getenv("GLIBC_TUNABLES");
  if (pers != -1 && (!(pers & ADDR_NO_RANDOMIZE) || !tun || strcmp(tun, "glibc.pthread.rseq=0"))) {
    personality(pers | ADDR_NO_RANDOMIZE);
    char *envp[] = {"GLIBC_TUNABLES=glibc.pthread.rseq=0", NULL};
    execve(argv[0] ? argv[0] : "/init", argv, envp);
  }

  mkdir("/proc", 0555), mkdir("/sys", 0555), mkdir("/dev", 0755), mkdir("/tmp", 01777);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  // kernel command line: fs.steps=PATH (the steps file, default /steps.txt), fs.tmpfs=OPTIONS (more
  // mount options for /tmp, e.g. huge=within_size: on 6.12 the per-size shmem_enabled settings do
  // not apply to tmpfs files, only the mount's huge= option, for PMD size)
  char steps_path[256] = "/steps.txt", tmpfs_opts[256] = "mode=1777", cmdline[4096];
  if (read_text("/proc/cmdline", cmdline, sizeof cmdline) > 0) {
    for (char *t = strtok(cmdline, " \n"); t; t = strtok(NULL, " \n")) {
      if (!strncmp(t, "fs.steps=", 9)) snprintf(steps_path, sizeof steps_path, "%s", t + 9);
      if (!strncmp(t, "fs.tmpfs=", 9)) snprintf(tmpfs_opts, sizeof tmpfs_opts, "mode=1777,%s", t + 9);
    }
  }
  int tmpfs_err = mount("tmpfs", "/tmp", "tmpfs", 0, tmpfs_opts) ? errno : 0;
  if (tmpfs_err) mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777");
  setvbuf(stdout, NULL, _IONBF, 0);

  // malloc never grows the heap during a scenario (a brk growth is a new VMA without
  // VM_NOHUGEPAGE): every request comes from the heap (no mmap'd chunks), which is grown now by
  // 256 KiB and never trimmed (the executor itself mallocs a few KiB at most: glibc's static
  // start-up, opendir at boot). volatile: gcc drops a malloc/memset/free it can see through.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 0);
  size_t heap_pre = 256 << 10;
  char *volatile heap = malloc(heap_pre);

  outcap = 8 << 20;
  out = own_mmap(outcap, 0);
  if (out == MAP_FAILED) power_off();
  x_only[n_x_only++] = (struct region){(uintptr_t)out, (uintptr_t)out + outcap};
  // executor-only: actors never touch it (a fork's COW faults there would only cost time)
  x_vals = own_mmap(MAXVALS * sizeof(uint64_t), 0);
  if (x_vals == MAP_FAILED) power_off();
  x_only[n_x_only++] = (struct region){(uintptr_t)x_vals, (uintptr_t)x_vals + MAXVALS * sizeof(uint64_t)};

  // every own mapping: image, heap, stack, bss, the buffers above (see nohuge_self)
  nohuge_self();

  // Pre-touch the executor's own memory (the heap, 128 KiB of stack, the big bss arrays), so
  // actors inherit populated pages (copy-on-write faults in touch_self rather than fresh ones)
  if (heap) memset(heap, 0, heap_pre);
  free(heap);
  {
    volatile char deep[1 << 17];
    for (size_t i = 0; i < sizeof deep; i += 512) deep[i] = 0;
  }
  memset(a_vals, 0, sizeof a_vals);
  memset(a_maps, 0, sizeof a_maps);
  memset(x_maps, 0, sizeof x_maps);
  for (int i = 0; i < MAXPINS; i++) a_rings[i] = -1;

  // khugepaged: see start_decoy()
  write_text(THPDIR "/khugepaged/scan_sleep_millisecs", "86400000");
  start_decoy();
  decoy_register();

  struct statfs sfs;
  root_is_shmem = statfs("/", &sfs) == 0 && sfs.f_type == 0x01021994; // TMPFS_MAGIC
  kflags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  kcount_fd = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);

  struct utsname u;
  uname(&u);
  of("{\"t\":\"boot\",\"uname\":");
  ostr(u.release);
  of(",\"pagesize\":%ld}", sysconf(_SC_PAGESIZE));
  oflush();

  if (tmpfs_err) print_error(0, "cannot mount /tmp with %s: %s (mounted with mode=1777 only)", tmpfs_opts, strerror(tmpfs_err));
  thp_scan_sizes();
  thp_save_all();
  report_missing();
  // a boot with /ext4.img is one whose scenarios map write-notify files: a kernel that cannot give
  // them ext4 over a loop device lacks what the executor needs (conform: exit 2, named)
  ext4_setup();
  if (!ext4_ok && !access("/ext4.img", F_OK)) {
    char what[320];
    snprintf(what, sizeof what, "ext4 over a loop device (write-notify files): %s", ext4_err);
    missing(what, "CONFIG_BLK_DEV_LOOP=y, CONFIG_EXT4_FS");
  }

  if (load_steps(steps_path)) {
    print_error(0, "cannot read %s: %s", steps_path, strerror(errno));
  } else {
    int skipping = 0;
    long lineno = 0;
    char *p = steps_buf, *endp = steps_buf + steps_len;
    while (p < endp) {
      char *nl = memchr(p, '\n', (size_t)(endp - p));
      char *line = p;
      if (nl) *nl = 0;
      p = nl ? nl + 1 : endp;
      lineno++;
      size_t L = strlen(line);
      while (L && (line[L - 1] == '\r' || line[L - 1] == ' ' || line[L - 1] == '\t')) line[--L] = 0;
      if (!L || line[0] == '#') continue;
      char *tok[16];
      int nt = 0, bad = 0;
      for (char *s = line; nt < 16;) {
        tok[nt++] = s;
        char *sp = strchr(s, ' ');
        if (!sp) break;
        *sp = 0;
        s = sp + 1;
        if (!*s) { bad = 1; break; }
      }
      for (int i = 0; i < nt; i++)
        if (!*tok[i]) bad = 1;
      if (skipping && strcmp(tok[0], "scenario")) continue;
      skipping = 0;
      char err[512];
      if (bad || nt >= 16) snprintf(err, sizeof err, "malformed line (tokens are separated by single spaces)");
      if (bad || nt >= 16 || run_line(lineno, tok, nt, err, sizeof err)) {
        print_error(lineno, "%s", err);
        scenario_end(); // kills what the scenario started and prints its end line
        skipping = 1;
      }
    }
    if (S.active) {
      print_error(lineno, "scenario %lld has no end line", S.sid);
      scenario_end();
    }
  }
  of("{\"t\":\"done\"}");
  oflush();
  power_off();
  return 0;
}
