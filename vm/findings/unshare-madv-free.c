// Does a child's MADV_FREE lose the parent's data when the parent's copy of the page came from a
// GUP unshare (read-only FOLL_PIN: clean PTE, clean folio)? Run as /init in a VM.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static uint64_t pm(void *p) {
  int fd = open("/proc/self/pagemap", O_RDONLY);
  uint64_t e = 0;
  pread(fd, &e, 8, ((uintptr_t)p / 4096) * 8);
  close(fd);
  return e;
}
static void show(const char *what, char *p) {
  uint64_t e = pm(p);
  printf("  %-28s present=%d pfn=0x%llx excl=%d value=0x%02x\n", what, (int)(e >> 63), (unsigned long long)(e & ((1ULL << 55) - 1)), (int)((e >> 56) & 1), (unsigned char)p[0]);
}

static int trial(int unshare, int viaChild) {
  char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(p, 0x5a, 4096);
  show("written", p);
  pid_t c1 = fork();
  if (c1 == 0) { pause(); _exit(0); }
  if (unshare) {
    char buf[64];
    struct iovec l = {buf, sizeof buf}, r = {p, sizeof buf};
    long n = process_vm_readv(getpid(), &l, 1, &r, 1, 0); // FOLL_PIN without FOLL_WRITE: unshare
    printf("  process_vm_readv -> %ld\n", n);
    show("after R/O pin (unshare)", p);
  }
  kill(c1, SIGKILL);
  waitpid(c1, NULL, 0);
  if (viaChild) {
    pid_t c2 = fork();
    if (c2 == 0) { int r = madvise(p, 4096, MADV_FREE); printf("  child MADV_FREE -> %d\n", r); fflush(stdout); _exit(0); }
    waitpid(c2, NULL, 0);
  }
  int r = madvise(p, 4096, MADV_PAGEOUT);
  printf("  parent MADV_PAGEOUT -> %d\n", r);
  show("after pageout", p);
  int lost = p[0] != 0x5a;
  munmap(p, 4096);
  return lost;
}

int main(void) {
  mount("proc", "/proc", "proc", 0, NULL);
  setvbuf(stdout, NULL, _IONBF, 0);
  int a = trial(1, 1);
  printf("RESULT unshare+childfree: %s\n", a ? "DATA LOST" : "kept");
  int b = trial(0, 1);
  printf("RESULT no-unshare+childfree (control): %s\n", b ? "DATA LOST" : "kept");
  int c = trial(1, 0);
  printf("RESULT unshare, no MADV_FREE (control): %s\n", c ? "DATA LOST" : "kept");
  reboot(RB_POWER_OFF);
  return 0;
}
