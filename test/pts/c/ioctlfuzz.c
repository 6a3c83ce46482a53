/*
 * ioctlfuzz: a paired tty-ioctl fuzzer (issue "untrusted callers").
 *
 *   ioctlfuzz PTSFS_DIR KERNEL_DIR SEED ITERATIONS [-v]
 *
 * Runs one seeded random sequence of operations on a ptsfs pty (PTSFS_DIR)
 * and on a kernel devpts pty (KERNEL_DIR, a `newinstance` devpts mount), in
 * the same order: known and random tty ioctl numbers with pointer arguments
 * among a valid buffer, NULL, an unmapped page, a read-only page, a kernel
 * address, a FUSE-backed page (MAP_PRIVATE mmap of a ptsfs slave entry) and
 * a buffer that runs into an unmapped page; interleaved with non-blocking
 * reads, writes, closes and reopens of both sides.
 *
 * Each pty is driven by its own child process (its own session, so that
 * TIOCSCTTY/TIOCNOTTY/TIOCSPGRP on one pty cannot see the other's
 * controlling tty). The parent draws every operation from the PRNG, hands it
 * to the ptsfs child, waits for its result (bounded: a hang is a dead
 * daemon), then hands the same operation to the kernel child, and compares
 * the results of every known ioctl: return value (an fd counts as ">= 0"),
 * errno, and the first OUT_BYTES bytes of the output buffer. Values that
 * name this pty or this process (TIOCGPTN, TIOCGDEV, TIOCGPGRP, TIOCGSID)
 * are rewritten to tokens first, since pids and indexes differ.
 *
 * At the end a fresh ptsfs pty must work (master -> slave -> master, TCGETS).
 * Prints counts and one line per mismatch; exits 1 on a mismatch, 3 on a
 * hang or dead daemon, 2 on a usage or setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* include/uapi/asm-generic/ioctls.h, spelled out: glibc's headers lack some. */
#define X_TCGETS 0x5401
#define X_TCSETS 0x5402
#define X_TCSETSW 0x5403
#define X_TCSETSF 0x5404
#define X_TCGETA 0x5405
#define X_TCSETA 0x5406
#define X_TCSETAW 0x5407
#define X_TCSETAF 0x5408
#define X_TCSBRK 0x5409
#define X_TCXONC 0x540A
#define X_TCFLSH 0x540B
#define X_TIOCEXCL 0x540C
#define X_TIOCNXCL 0x540D
#define X_TIOCSCTTY 0x540E
#define X_TIOCGPGRP 0x540F
#define X_TIOCSPGRP 0x5410
#define X_TIOCOUTQ 0x5411
#define X_TIOCSTI 0x5412
#define X_TIOCGWINSZ 0x5413
#define X_TIOCSWINSZ 0x5414
#define X_TIOCMGET 0x5415
#define X_TIOCMBIS 0x5416
#define X_TIOCMBIC 0x5417
#define X_TIOCMSET 0x5418
#define X_TIOCGSOFTCAR 0x5419
#define X_TIOCSSOFTCAR 0x541A
#define X_FIONREAD 0x541B /* = TIOCINQ */
#define X_TIOCLINUX 0x541C
#define X_TIOCCONS 0x541D /* NEVER: redirects the host console */
#define X_TIOCGSERIAL 0x541E
#define X_TIOCSSERIAL 0x541F
#define X_TIOCPKT 0x5420
#define X_FIONBIO 0x5421
#define X_TIOCNOTTY 0x5422
#define X_TIOCSETD 0x5423
#define X_TIOCGETD 0x5424
#define X_TCSBRKP 0x5425
#define X_TIOCSBRK 0x5427
#define X_TIOCCBRK 0x5428
#define X_TIOCGSID 0x5429
#define X_TCGETS2 0x802C542AU
#define X_TCSETS2 0x402C542BU
#define X_TCSETSW2 0x402C542CU
#define X_TCSETSF2 0x402C542DU
#define X_TIOCGRS485 0x542E
#define X_TIOCGPTN 0x80045430U
#define X_TIOCSPTLCK 0x40045431U
#define X_TIOCGDEV 0x80045432U
#define X_TIOCSIG 0x40045436U
#define X_TIOCVHANGUP 0x5437 /* not fuzzed: needs a reopen after */
#define X_TIOCGPKT 0x80045438U
#define X_TIOCGPTLCK 0x80045439U
#define X_TIOCGEXCL 0x80045440U
#define X_TIOCGPTPEER 0x5441
#define X_FIONCLEX 0x5450
#define X_FIOCLEX 0x5451
#define X_FIOASYNC 0x5452
#define X_TIOCGLCKTRMIOS 0x5456
#define X_TIOCSLCKTRMIOS 0x5457
#define X_TIOCMIWAIT 0x545C
#define X_TIOCGICOUNT 0x545D
#define X_FIFREEZE 0xC0045877U
#define X_FITHAW 0xC0045878U

/* ---------- PRNG: xorshift64*, seeded from argv ---------- */
static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1DULL;
}
static unsigned below(unsigned n) { return (unsigned)(rnd() % n); }
static int chance(unsigned pct) { return below(100) < pct; }

/* ---------- the known ioctls ---------- */
enum argk { A_NONE, A_INT, A_IN, A_OUT }; /* A_INT: the arg is a value, not a pointer */
enum fill { F_NONE, F_TERMIOS, F_TERMIO, F_TERMIOS2, F_WINSZ, F_INT01, F_PGRP, F_LDISC, F_CHAR, F_RANDINT };

struct known {
  const char *name;
  unsigned long cmd;
  enum argk arg;
  enum fill fill;
  unsigned outlen; /* bytes of output compared (A_OUT) */
  const long *ints; /* values for A_INT */
  int nints;
  int timing; /* output depends on timing: compare errno only */
};

static const long I_FLSH[] = {0, 1, 2, 3, -1, 7};
static const long I_XONC[] = {0, 1, 2, 3, 4, -1};
static const long I_BRK[] = {0, 1, 3};
static const long I_01[] = {0, 1, 2};
/* SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGWINCH are ignored by the children; 0 and 65 are invalid. */
static const long I_SIG[] = {0, 1, 2, 3, 20, 28, 65, -1};

#define INTS(a) a, (int)(sizeof a / sizeof a[0])
static const struct known KNOWN[] = {
    {"TCGETS", X_TCGETS, A_OUT, F_NONE, 36, 0, 0, 0},
    {"TCSETS", X_TCSETS, A_IN, F_TERMIOS, 0, 0, 0, 0},
    {"TCSETSW", X_TCSETSW, A_IN, F_TERMIOS, 0, 0, 0, 0},
    {"TCSETSF", X_TCSETSF, A_IN, F_TERMIOS, 0, 0, 0, 0},
    {"TCGETA", X_TCGETA, A_OUT, F_NONE, 18, 0, 0, 0},
    {"TCSETA", X_TCSETA, A_IN, F_TERMIO, 0, 0, 0, 0},
    {"TCSETAW", X_TCSETAW, A_IN, F_TERMIO, 0, 0, 0, 0},
    {"TCSETAF", X_TCSETAF, A_IN, F_TERMIO, 0, 0, 0, 0},
    {"TCGETS2", X_TCGETS2, A_OUT, F_NONE, 44, 0, 0, 0},
    {"TCSETS2", X_TCSETS2, A_IN, F_TERMIOS2, 0, 0, 0, 0},
    {"TCSETSW2", X_TCSETSW2, A_IN, F_TERMIOS2, 0, 0, 0, 0},
    {"TCSETSF2", X_TCSETSF2, A_IN, F_TERMIOS2, 0, 0, 0, 0},
    {"TIOCGWINSZ", X_TIOCGWINSZ, A_OUT, F_NONE, 8, 0, 0, 0},
    {"TIOCSWINSZ", X_TIOCSWINSZ, A_IN, F_WINSZ, 0, 0, 0, 0},
    {"TCFLSH", X_TCFLSH, A_INT, F_NONE, 0, INTS(I_FLSH), 0},
    {"TCXONC", X_TCXONC, A_INT, F_NONE, 0, INTS(I_XONC), 0},
    {"TCSBRK", X_TCSBRK, A_INT, F_NONE, 0, INTS(I_BRK), 0},
    {"TCSBRKP", X_TCSBRKP, A_INT, F_NONE, 0, INTS(I_BRK), 0},
    {"TIOCSBRK", X_TIOCSBRK, A_NONE, F_NONE, 0, 0, 0, 0},
    {"TIOCCBRK", X_TIOCCBRK, A_NONE, F_NONE, 0, 0, 0, 0},
    {"TIOCGETD", X_TIOCGETD, A_OUT, F_NONE, 4, 0, 0, 0},
    {"TIOCSETD", X_TIOCSETD, A_IN, F_LDISC, 0, 0, 0, 0},
    /* Timing-dependent: how much is queued depends on when the ldisc worker
       ran, so only errno is compared for TIOCOUTQ and FIONREAD (TIOCINQ). */
    {"TIOCOUTQ", X_TIOCOUTQ, A_OUT, F_NONE, 4, 0, 0, 1},
    {"FIONREAD", X_FIONREAD, A_OUT, F_NONE, 4, 0, 0, 1},
    {"TIOCEXCL", X_TIOCEXCL, A_NONE, F_NONE, 0, 0, 0, 0},
    {"TIOCNXCL", X_TIOCNXCL, A_NONE, F_NONE, 0, 0, 0, 0},
    {"TIOCGEXCL", X_TIOCGEXCL, A_OUT, F_NONE, 4, 0, 0, 0},
    {"TIOCGDEV", X_TIOCGDEV, A_OUT, F_NONE, 4, 0, 0, 0},
    {"TIOCGPTN", X_TIOCGPTN, A_OUT, F_NONE, 4, 0, 0, 0},
    {"TIOCSPTLCK", X_TIOCSPTLCK, A_IN, F_INT01, 0, 0, 0, 0},
    {"TIOCGPTLCK", X_TIOCGPTLCK, A_OUT, F_NONE, 4, 0, 0, 0},
    {"TIOCPKT", X_TIOCPKT, A_IN, F_INT01, 0, 0, 0, 0},
    {"TIOCGPKT", X_TIOCGPKT, A_OUT, F_NONE, 4, 0, 0, 0},
    {"TIOCGPTPEER", X_TIOCGPTPEER, A_INT, F_NONE, 0, (const long[]){O_RDWR | O_NOCTTY | O_NONBLOCK, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, -1}, 3, 0},
    {"TIOCSIG", X_TIOCSIG, A_INT, F_NONE, 0, INTS(I_SIG), 0},
    {"TIOCGPGRP", X_TIOCGPGRP, A_OUT, F_NONE, 4, 0, 0, 0},
    {"TIOCSPGRP", X_TIOCSPGRP, A_IN, F_PGRP, 0, 0, 0, 0},
    {"TIOCGSID", X_TIOCGSID, A_OUT, F_NONE, 4, 0, 0, 0},
    {"TIOCSCTTY", X_TIOCSCTTY, A_INT, F_NONE, 0, INTS(I_01), 0},
    {"TIOCNOTTY", X_TIOCNOTTY, A_NONE, F_NONE, 0, 0, 0, 0},
    {"TIOCSTI", X_TIOCSTI, A_IN, F_CHAR, 0, 0, 0, 0},
    {"TIOCMGET", X_TIOCMGET, A_OUT, F_NONE, 4, 0, 0, 0},
    {"TIOCMSET", X_TIOCMSET, A_IN, F_RANDINT, 0, 0, 0, 0},
    {"TIOCMBIS", X_TIOCMBIS, A_IN, F_RANDINT, 0, 0, 0, 0},
    {"TIOCMBIC", X_TIOCMBIC, A_IN, F_RANDINT, 0, 0, 0, 0},
    {"TIOCGSOFTCAR", X_TIOCGSOFTCAR, A_OUT, F_NONE, 4, 0, 0, 0},
    {"TIOCSSOFTCAR", X_TIOCSSOFTCAR, A_IN, F_INT01, 0, 0, 0, 0},
    {"TIOCGLCKTRMIOS", X_TIOCGLCKTRMIOS, A_OUT, F_NONE, 36, 0, 0, 0},
    {"TIOCSLCKTRMIOS", X_TIOCSLCKTRMIOS, A_IN, F_TERMIOS, 0, 0, 0, 0}, /* EPERM without CAP_SYS_ADMIN */
    {"TIOCGSERIAL", X_TIOCGSERIAL, A_OUT, F_NONE, 72, 0, 0, 0},
    {"TIOCGICOUNT", X_TIOCGICOUNT, A_OUT, F_NONE, 80, 0, 0, 0},
    {"TIOCGRS485", X_TIOCGRS485, A_OUT, F_NONE, 32, 0, 0, 0},
    {"TIOCMIWAIT", X_TIOCMIWAIT, A_INT, F_NONE, 0, INTS(I_01), 0},
};
#define NKNOWN (int)(sizeof KNOWN / sizeof KNOWN[0])

static int is_known(unsigned long cmd) {
  for (int i = 0; i < NKNOWN; i++)
    if (KNOWN[i].cmd == cmd) return 1;
  return 0;
}

/* Never issued as a random number. */
static int dangerous(unsigned long cmd) {
  unsigned type = (cmd >> 8) & 0xff;
  if (cmd == X_TIOCCONS || cmd == X_TIOCVHANGUP || cmd == X_FIONBIO || cmd == X_FIOASYNC || cmd == X_TIOCLINUX) return 1;
  if (cmd == X_FIFREEZE || cmd == X_FITHAW) return 1;
  if (type == 'X') return 1;  /* FIFREEZE, FITHAW, FITRIM, ... */
  if (type == 0x94) return 1; /* FICLONE, FIDEDUPERANGE, ... (btrfs range) */
  if (cmd == X_FIOCLEX || cmd == X_FIONCLEX) return 1; /* fd flags, VFS-side */
  if ((cmd & 0xffff) == X_TIOCCONS || (cmd & 0xffff) == X_TIOCVHANGUP) return 1;
  return 0;
}

/* ---------- pointer kinds ---------- */
enum ptrk { P_VALID, P_NULL, P_UNMAPPED, P_RO, P_KERNEL, P_FUSE, P_EDGE, NPTR };
static const char *PTRNAME[] = {"valid", "null", "unmapped", "readonly", "kernel", "fuse", "edge"};
#define PAGE 4096
#define OUT_BYTES 96

/* ---------- operations ---------- */
enum opk { OP_KNOWN, OP_RANDOM, OP_READ, OP_WRITE, OP_CLOSE_SLAVE, OP_CLOSE_MASTER, OP_OPEN_SLAVE, OP_REOPEN, OP_END };
static const char *OPNAME[] = {"known", "random", "read", "write", "close-slave", "close-master", "open-slave", "reopen", "end"};

struct op {
  int kind;
  int side; /* 0 master, 1 slave */
  int known; /* index in KNOWN for OP_KNOWN */
  int ptr;
  unsigned long cmd;
  long intarg; /* A_INT and random */
  int inlen;
  unsigned char in[128];
};

struct result {
  long ret;
  int err;
  int done;
  int nbytes; /* valid bytes in out (-1: not readable) */
  unsigned char out[OUT_BYTES];
};

/* ---------- the child: one pty ---------- */
static const char *cdir;
static int cm = -1, cs = -1, cidx = -1;
static unsigned char *buf_valid, *buf_ro, *buf_unmapped, *buf_fuse, *buf_edge;
static sigjmp_buf bus_jmp;

static void on_bus(int sig) {
  (void)sig;
  siglongjmp(bus_jmp, 1);
}

static int open_master(void) {
  char p[4096];
  snprintf(p, sizeof p, "%s/ptmx", cdir);
  int m = open(p, O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (m < 0) return -1;
  unsigned n = 0;
  if (ioctl(m, X_TIOCGPTN, &n) < 0) {
    int e = errno;
    close(m);
    errno = e;
    return -1;
  }
  int zero = 0;
  ioctl(m, X_TIOCSPTLCK, &zero);
  cidx = (int)n;
  return m;
}

static int open_slave(void) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%d", cdir, cidx);
  return open(p, O_RDWR | O_NOCTTY | O_NONBLOCK);
}

/* Replaces values that name this pty or process by tokens. */
static void normalize(const struct known *k, struct result *r) {
  if (r->ret < 0 || r->nbytes < 4) return;
  int32_t v;
  memcpy(&v, r->out, 4);
  int32_t tok = v;
  if (k->cmd == X_TIOCGPTN && v == cidx) tok = 0x7e000001;
  if (k->cmd == X_TIOCGDEV && (uint32_t)v == (uint32_t)makedev(136, cidx)) tok = 0x7e000002;
  if ((k->cmd == X_TIOCGPGRP || k->cmd == X_TIOCGSID) && v == getpgrp()) tok = 0x7e000003;
  if (k->cmd == X_TIOCGSID && v == getsid(0)) tok = 0x7e000004;
  memcpy(r->out, &tok, 4);
}

static void *arg_pointer(int ptr, size_t len) {
  switch (ptr) {
  case P_VALID: return buf_valid;
  case P_NULL: return NULL;
  case P_UNMAPPED: return buf_unmapped;
  case P_RO: return buf_ro;
  case P_KERNEL: return (void *)0xffffffff81000000UL;
  case P_FUSE: return buf_fuse;
  case P_EDGE: return buf_edge + PAGE - (len > 2 ? len / 2 : 1);
  }
  return NULL;
}

static void child_do(const struct op *o, struct result *r) {
  memset(r, 0, sizeof *r);
  r->nbytes = -1;
  int fd = o->side ? cs : cm;
  switch (o->kind) {
  case OP_KNOWN:
  case OP_RANDOM: {
    if (fd < 0) {
      r->ret = -1;
      r->err = EBADF;
      return;
    }
    const struct known *k = o->kind == OP_KNOWN ? &KNOWN[o->known] : NULL;
    memset(buf_valid, 0xa5, PAGE);
    memcpy(buf_valid, o->in, o->inlen);
    unsigned long arg;
    if (k && k->arg == A_INT) arg = (unsigned long)o->intarg;
    else if (k && k->arg == A_NONE) arg = (unsigned long)o->intarg;
    else if (!k && o->ptr < 0) arg = (unsigned long)o->intarg;
    else {
      void *p = arg_pointer(o->ptr, k ? (k->outlen ? k->outlen : 4) : 8);
      if (o->ptr == P_EDGE) memcpy(p, o->in, (size_t)(buf_edge + PAGE - (unsigned char *)p));
      arg = (unsigned long)p;
    }
    errno = 0;
    long ret = ioctl(fd, o->cmd, arg);
    r->ret = ret;
    r->err = ret < 0 ? errno : 0;
    r->done = 1;
    if (k && k->cmd == X_TIOCGPTPEER && ret >= 0) {
      close((int)ret);
      r->ret = 0x7e000000; /* "an fd" */
    }
    if (k && k->arg == A_OUT && !k->timing) {
      unsigned char *p = o->ptr == P_VALID ? buf_valid : o->ptr == P_FUSE ? buf_fuse : NULL;
      if (p) {
        if (sigsetjmp(bus_jmp, 1) == 0) {
          memcpy(r->out, p, OUT_BYTES);
          r->nbytes = OUT_BYTES;
        }
      }
      normalize(k, r);
    }
    return;
  }
  case OP_READ: {
    if (fd < 0) {
      r->ret = -1;
      r->err = EBADF;
      return;
    }
    char b[512];
    ssize_t n = read(fd, b, (size_t)(o->inlen ? o->inlen : 1) * 4);
    r->ret = n;
    r->err = n < 0 ? errno : 0;
    return;
  }
  case OP_WRITE: {
    if (fd < 0) {
      r->ret = -1;
      r->err = EBADF;
      return;
    }
    ssize_t n = write(fd, o->in, (size_t)o->inlen);
    r->ret = n;
    r->err = n < 0 ? errno : 0;
    return;
  }
  case OP_CLOSE_SLAVE:
    if (cs >= 0) close(cs);
    cs = -1;
    return;
  case OP_CLOSE_MASTER:
    if (cm >= 0) close(cm);
    cm = -1;
    return;
  case OP_OPEN_SLAVE:
    if (cm < 0) {
      r->ret = -1;
      r->err = EBADF;
      return;
    }
    if (cs >= 0) close(cs);
    cs = open_slave();
    r->ret = cs < 0 ? -1 : 0;
    r->err = cs < 0 ? errno : 0;
    r->done = 1;
    return;
  case OP_REOPEN:
    if (cs >= 0) close(cs);
    if (cm >= 0) close(cm);
    cs = -1;
    cm = open_master();
    r->err = cm < 0 ? errno : 0;
    if (cm >= 0) {
      cs = open_slave();
      if (cs < 0) r->err = errno;
    }
    r->ret = r->err ? -1 : 0;
    r->done = 1;
    return;
  }
}

static int full_read(int fd, void *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)p + got, n - got);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return -1;
    }
    got += (size_t)r;
  }
  return 0;
}

static void child_main(const char *dir, int in, int out) {
  cdir = dir;
  setsid();
  /* Signal keys, TIOCSIG and hangups must not stop or kill the fuzzer. */
  int ign[] = {SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH, SIGPIPE, SIGUSR1, SIGUSR2, SIGIO, SIGURG};
  for (size_t i = 0; i < sizeof ign / sizeof ign[0]; i++) signal(ign[i], SIG_IGN);
  struct sigaction sa = {0};
  sa.sa_handler = on_bus;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  struct result r;
  memset(&r, 0, sizeof r);
  cm = open_master();
  if (cm >= 0) cs = open_slave();
  r.ret = cm >= 0 && cs >= 0 ? 0 : -1;
  r.err = r.ret ? errno : 0;
  r.nbytes = cidx;
  if (write(out, &r, sizeof r) != sizeof r) _exit(2);
  struct op o;
  while (full_read(in, &o, sizeof o) == 0) {
    if (o.kind == OP_END) break;
    child_do(&o, &r);
    if (write(out, &r, sizeof r) != sizeof r) _exit(2);
  }
  _exit(0);
}

/* ---------- the parent ---------- */
struct side {
  const char *name;
  pid_t pid;
  int to, from;
};

#define STEP_TIMEOUT_MS 5000

static int hung = 0;

static int ask(struct side *s, const struct op *o, struct result *r) {
  if (write(s->to, o, sizeof *o) != (ssize_t)sizeof *o) return -1;
  struct pollfd p = {s->from, POLLIN, 0};
  if (poll(&p, 1, STEP_TIMEOUT_MS) <= 0) {
    hung = 1;
    return -1;
  }
  return full_read(s->from, r, sizeof *r);
}

static struct side start(const char *name, const char *dir) {
  int a[2], b[2];
  if (pipe(a) < 0 || pipe(b) < 0) exit(2);
  struct side s = {name, 0, a[1], b[0]};
  s.pid = fork();
  if (s.pid == 0) {
    close(a[1]);
    close(b[0]);
    child_main(dir, a[0], b[1]);
  }
  close(a[0]);
  close(b[1]);
  return s;
}

static void fmt_result(char *s, size_t n, const struct op *o, const struct result *r) {
  const struct known *k = &KNOWN[o->known];
  if (r->ret < 0) {
    snprintf(s, n, "%s", strerrorname_np(r->err) ? strerrorname_np(r->err) : "?");
    return;
  }
  size_t w = (size_t)snprintf(s, n, "ret=%ld", r->ret);
  if (r->nbytes > 0 && k->outlen) {
    w += (size_t)snprintf(s + w, n - w, " bytes=");
    unsigned len = k->outlen < OUT_BYTES ? k->outlen + 4 : OUT_BYTES;
    for (unsigned i = 0; i < len && w + 3 < n; i++) w += (size_t)snprintf(s + w, n - w, "%02x", r->out[i]);
  }
}

/* A termios the way a pty starts (struct termios of the kernel: 36 bytes), with some bits flipped. */
static void fill_termios(unsigned char *b, int two) {
  uint32_t f[4] = {0x0500, 0x0005, 0x00bf, 0x8a3b}; /* ICRNL|IXON, OPOST|ONLCR, B38400|CS8|CREAD|HUPCL, ISIG|ICANON|ECHO|... */
  static const uint32_t flips[4][6] = {
      {0x0100, 0x0400, 0x1000, 0x0020, 0x0002, 0x4000}, /* ICRNL IXON IXOFF? IXANY-ish, INLCR, BRKINT... */
      {0x0001, 0x0004, 0x0008, 0x0010, 0x0020, 0x1800},
      {0x000f, 0x0030, 0x0040, 0x0400, 0x0800, 0x1000}, /* baud, CSIZE, CSTOPB, HUPCL, CLOCAL, BOTHER */
      {0x0001, 0x0002, 0x0008, 0x0100, 0x8000, 0x0200},
  };
  int nflip = (int)below(4);
  for (int i = 0; i < nflip; i++) {
    int w = (int)below(4);
    f[w] ^= flips[w][below(6)];
  }
  memcpy(b, f, 16);
  b[16] = 0; /* c_line */
  static const unsigned char cc[19] = {3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0};
  memcpy(b + 17, cc, 19);
  if (chance(20)) b[17 + below(19)] = (unsigned char)rnd();
  if (chance(5))
    for (int i = 0; i < 36; i++) b[i] = (unsigned char)rnd();
  if (two) {
    uint32_t sp[2] = {38400, 38400};
    if (chance(30)) sp[0] = (uint32_t)below(4000000), sp[1] = (uint32_t)below(4000000);
    memcpy(b + 36, sp, 8);
  }
}

static void fill(struct op *o, const struct known *k, pid_t pgrp_hint) {
  (void)pgrp_hint;
  switch (k->fill) {
  case F_NONE: o->inlen = 0; break;
  case F_TERMIOS: fill_termios(o->in, 0); o->inlen = 36; break;
  case F_TERMIOS2: fill_termios(o->in, 1); o->inlen = 44; break;
  case F_TERMIO: {
    unsigned char t[36];
    fill_termios(t, 0);
    uint16_t f[4] = {(uint16_t)(t[0] | t[1] << 8), (uint16_t)(t[4] | t[5] << 8), (uint16_t)(t[8] | t[9] << 8), (uint16_t)(t[12] | t[13] << 8)};
    memcpy(o->in, f, 8);
    o->in[8] = 0;
    memcpy(o->in + 9, t + 17, 8);
    o->inlen = 18;
    break;
  }
  case F_WINSZ: {
    uint16_t w[4] = {(uint16_t)below(300), (uint16_t)below(300), (uint16_t)below(2000), (uint16_t)below(2000)};
    if (chance(10)) w[0] = w[1] = 0;
    memcpy(o->in, w, 8);
    o->inlen = 8;
    break;
  }
  case F_INT01: {
    int32_t v = chance(70) ? 0 : chance(70) ? 1 : (int32_t)rnd();
    memcpy(o->in, &v, 4);
    o->inlen = 4;
    break;
  }
  case F_PGRP: {
    /* 0x7e000003 is replaced by the child's own pgrp. */
    static const int32_t v[] = {0x7e000003, 0x7e000003, 0, -1, 1, 0x3ffffff0};
    memcpy(o->in, &v[below(6)], 4);
    o->inlen = 4;
    break;
  }
  case F_LDISC: {
    static const int32_t v[] = {0, 0, -1, 31, 1000};
    memcpy(o->in, &v[below(5)], 4);
    o->inlen = 4;
    break;
  }
  case F_CHAR: {
    static const char c[] = "ab\n\r\003\004\021\023\032\177";
    o->in[0] = (unsigned char)c[below(sizeof c - 1)];
    o->inlen = 1;
    break;
  }
  case F_RANDINT: {
    uint32_t v = (uint32_t)rnd();
    memcpy(o->in, &v, 4);
    o->inlen = 4;
    break;
  }
  }
}

static unsigned long random_cmd(void) {
  for (;;) {
    unsigned long c;
    switch (below(4)) {
    case 0: c = 0x5400 | below(0x80); break; /* legacy 'T' */
    case 1: /* _IOC(dir, 'T', nr, size) */
      c = ((unsigned long)below(4) << 30) | ((unsigned long)below(256) << 16) | ('T' << 8) | below(0x80);
      break;
    case 2: c = KNOWN[below(NKNOWN)].cmd ^ (1UL << below(32)); break; /* a neighbour of a known one */
    default: c = (uint32_t)rnd(); break;
    }
    c &= 0xffffffffUL;
    if (!is_known(c) && !dangerous(c)) return c;
  }
}

/*
 * Known-open mismatch classes: ioctlfuzz -t "NAME/ptr,NAME/bad,NAME/any,...".
 * NAME/ptr tolerates a mismatch of that ioctl (or op) with that pointer kind
 * ("int" for a value argument, "bad" for any unreadable kind: null, unmapped,
 * kernel, fuse, edge); it is printed as TOLERATED. NAME/any is an ioctl that
 * ptsfs does not implement at all: it is not issued, since its effect on the
 * kernel pty alone would make every later termios comparison differ.
 */
static const char *tolerate = "";
static int tolerated(const char *name, const char *ptr) {
  char key[128];
  snprintf(key, sizeof key, ",%s/%s,", name, ptr);
  char all[128];
  snprintf(all, sizeof all, ",%s/any,", name);
  char list[4096];
  snprintf(list, sizeof list, ",%s,", tolerate);
  int bad = strcmp(ptr, "null") == 0 || strcmp(ptr, "unmapped") == 0 || strcmp(ptr, "kernel") == 0 || strcmp(ptr, "fuse") == 0 ||
            strcmp(ptr, "edge") == 0;
  char badkey[128];
  snprintf(badkey, sizeof badkey, ",%s/bad,", name);
  return strstr(list, key) || strstr(list, all) || (bad && strstr(list, badkey));
}

/* The final check: a fresh ptsfs pty works. */
static int final_check(const char *dir) {
  char p[4096];
  snprintf(p, sizeof p, "%s/ptmx", dir);
  int m = open(p, O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (m < 0) return perror("final: open ptmx"), -1;
  unsigned n;
  int zero = 0;
  if (ioctl(m, X_TIOCGPTN, &n) < 0 || ioctl(m, X_TIOCSPTLCK, &zero) < 0) return perror("final: TIOCGPTN/TIOCSPTLCK"), -1;
  snprintf(p, sizeof p, "%s/%u", dir, n);
  int s = open(p, O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (s < 0) return perror("final: open slave"), -1;
  unsigned char t[36];
  if (ioctl(s, X_TCGETS, t) < 0) return perror("final: TCGETS"), -1;
  if (write(m, "ping\n", 5) != 5) return perror("final: write master"), -1;
  char b[64];
  struct pollfd pf = {s, POLLIN, 0};
  if (poll(&pf, 1, 5000) != 1) return fprintf(stderr, "final: slave never readable\n"), -1;
  ssize_t r = read(s, b, sizeof b);
  if (r < 4 || memcmp(b, "ping", 4) != 0) return fprintf(stderr, "final: slave read %zd\n", r), -1;
  if (write(s, "pong\n", 5) != 5) return perror("final: write slave"), -1;
  /* The master also sees the echo of "ping"; wait for "pong". */
  char all[256];
  size_t got = 0;
  for (int i = 0; i < 50 && !memmem(all, got, "pong", 4); i++) {
    pf.fd = m;
    if (poll(&pf, 1, 100) == 1) {
      r = read(m, all + got, sizeof all - got);
      if (r > 0) got += (size_t)r;
    }
  }
  if (!memmem(all, got, "pong", 4)) return fprintf(stderr, "final: master never read pong\n"), -1;
  close(s);
  close(m);
  return 0;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "DEAD: the final check hung (ptsfs daemon not answering)\n";
  if (write(1, msg, sizeof msg - 1) < 0) _exit(3);
  _exit(3);
}

int main(int argc, char **argv) {
  int verbose = 0;
  int opt;
  while ((opt = getopt(argc, argv, "vt:")) != -1) {
    if (opt == 'v') verbose = 1;
    else if (opt == 't') tolerate = optarg;
    else return 2;
  }
  if (argc - optind != 4) {
    fprintf(stderr, "usage: %s [-v] [-t NAME/ptr,...] PTSFS_DIR KERNEL_DIR SEED ITERATIONS\n", argv[0]);
    return 2;
  }
  const char *pdir = argv[optind], *kdir = argv[optind + 1];
  uint64_t seed = strtoull(argv[optind + 2], NULL, 0);
  long iters = strtol(argv[optind + 3], NULL, 0);
  rng_state = seed * 0x9E3779B97F4A7C15ULL + 0x1234567;
  if (!rng_state) rng_state = 1;
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);

  /* The pointer targets, made before fork so both children have them at the same addresses. */
  buf_valid = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  buf_ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  buf_unmapped = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(buf_unmapped, PAGE);
  buf_edge = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(buf_edge + PAGE, PAGE);
  /* The FUSE-backed page: a MAP_PRIVATE mmap of a ptsfs slave entry (of a pty the parent holds). */
  char p[4096];
  snprintf(p, sizeof p, "%s/ptmx", pdir);
  int hm = open(p, O_RDWR | O_NOCTTY | O_NONBLOCK);
  unsigned hn = 0;
  int zero = 0;
  if (hm < 0 || ioctl(hm, X_TIOCGPTN, &hn) < 0 || ioctl(hm, X_TIOCSPTLCK, &zero) < 0) {
    perror("open ptsfs ptmx");
    return 2;
  }
  snprintf(p, sizeof p, "%s/%u", pdir, hn);
  int hs = open(p, O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (hs < 0) {
    perror("open ptsfs slave for the FUSE page");
    return 2;
  }
  buf_fuse = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, hs, 0);
  if (buf_fuse == MAP_FAILED) {
    printf("note: mmap of a ptsfs slave failed (%s); the fuse pointer kind is an unmapped page\n", strerrorname_np(errno));
    buf_fuse = buf_unmapped;
  }
  if (!buf_valid || buf_valid == MAP_FAILED || buf_ro == MAP_FAILED || buf_edge == MAP_FAILED) return 2;

  struct side S[2] = {start("ptsfs", pdir), start("kernel", kdir)};
  struct result r0[2];
  for (int i = 0; i < 2; i++) {
    struct pollfd pf = {S[i].from, POLLIN, 0};
    if (poll(&pf, 1, STEP_TIMEOUT_MS) <= 0 || full_read(S[i].from, &r0[i], sizeof r0[i]) < 0) {
      printf("DEAD: %s child did not start\n", S[i].name);
      return 3;
    }
    if (r0[i].ret < 0) {
      printf("setup: %s pty: %s\n", S[i].name, strerrorname_np(r0[i].err));
      return 2;
    }
  }

  long ops = 0, compared = 0, mismatches = 0, tolerated_n = 0, random_n = 0, step;
  int dead = 0;
  for (step = 0; step < iters; step++) {
    struct op o;
    memset(&o, 0, sizeof o);
    unsigned w = below(100);
    o.side = (int)below(2);
    o.ptr = -1;
    if (w < 55) {
      o.kind = OP_KNOWN;
      do o.known = (int)below(NKNOWN);
      while (tolerated(KNOWN[o.known].name, "any-only"));
      const struct known *k = &KNOWN[o.known];
      o.cmd = k->cmd;
      if (k->arg == A_INT) {
        o.intarg = chance(85) ? k->ints[below((unsigned)k->nints)] : (long)rnd();
      } else if (k->arg == A_NONE) {
        o.intarg = chance(80) ? 0 : (long)rnd();
      } else {
        unsigned q = below(100);
        o.ptr = q < 45 ? P_VALID : (int)(1 + below(NPTR - 1));
        fill(&o, k, 0);
      }
    } else if (w < 68) {
      o.kind = OP_RANDOM;
      o.cmd = random_cmd();
      if (chance(30)) o.intarg = chance(50) ? (long)below(16) : (long)rnd();
      else o.ptr = (int)below(NPTR);
      o.inlen = 64;
      for (int i = 0; i < 64; i++) o.in[i] = chance(60) ? 0 : (unsigned char)rnd();
    } else if (w < 80) {
      o.kind = OP_WRITE;
      static const char alpha[] = "abcxyz0123 \n\n\r\t\003\004\021\023\032\034\025\027\177\377";
      o.inlen = 1 + (int)below(chance(10) ? 128 : 16);
      for (int i = 0; i < o.inlen; i++) o.in[i] = (unsigned char)alpha[below(sizeof alpha - 1)];
    } else if (w < 92) {
      o.kind = OP_READ;
      o.inlen = 1 + (int)below(64);
    } else if (w < 94) {
      o.kind = OP_CLOSE_SLAVE;
    } else if (w < 95) {
      o.kind = OP_CLOSE_MASTER;
    } else if (w < 97) {
      o.kind = OP_OPEN_SLAVE;
    } else {
      o.kind = OP_REOPEN;
    }

    struct result r[2];
    int bad = 0;
    for (int i = 0; i < 2; i++) {
      struct op oi = o;
      /* The F_PGRP token is the child's own process group; both children are session leaders, so it is its pid. */
      if (o.kind == OP_KNOWN && KNOWN[o.known].fill == F_PGRP) {
        int32_t v;
        memcpy(&v, oi.in, 4);
        if (v == 0x7e000003) {
          v = S[i].pid;
          memcpy(oi.in, &v, 4);
        }
      }
      if (ask(&S[i], &oi, &r[i]) < 0) {
        printf("DEAD: %s side %s at seed=%llu step=%ld op=%s cmd=0x%lx ptr=%s\n", S[i].name, hung ? "hung" : "died",
               (unsigned long long)seed, step, OPNAME[o.kind], o.cmd, o.ptr >= 0 ? PTRNAME[o.ptr] : "int");
        bad = 1;
        break;
      }
    }
    if (bad) {
      dead = 1;
      break;
    }
    ops++;
    if (o.kind == OP_RANDOM) random_n++;
    int cmp = o.kind == OP_KNOWN || o.kind == OP_OPEN_SLAVE || o.kind == OP_REOPEN;
    if (!cmp) continue;
    compared++;
    int same = (r[0].ret < 0) == (r[1].ret < 0) && (r[0].ret < 0 ? r[0].err == r[1].err : r[0].ret == r[1].ret);
    if (same && o.kind == OP_KNOWN && KNOWN[o.known].outlen && !KNOWN[o.known].timing && r[0].ret >= 0 && o.ptr != P_EDGE) {
      /* The edge kind compares errno only: how much of a straddling copy lands is not defined. */
      same = r[0].nbytes == r[1].nbytes && (r[0].nbytes <= 0 || memcmp(r[0].out, r[1].out, OUT_BYTES) == 0);
    }
    if (verbose) printf("step %ld %s side=%s cmd=0x%lx ptr=%s: ptsfs ret=%ld err=%d kernel ret=%ld err=%d\n", step, OPNAME[o.kind],
                        o.side ? "slave" : "master", o.cmd, o.ptr >= 0 ? PTRNAME[o.ptr] : "int", r[0].ret, r[0].err, r[1].ret, r[1].err);
    if (same) continue;
    const char *name = o.kind == OP_KNOWN ? KNOWN[o.known].name : OPNAME[o.kind];
    char ptr[32];
    if (o.ptr >= 0) snprintf(ptr, sizeof ptr, "%s", PTRNAME[o.ptr]);
    else snprintf(ptr, sizeof ptr, "int=%ld", o.intarg);
    char a[512], b[512];
    if (o.kind == OP_KNOWN) {
      fmt_result(a, sizeof a, &o, &r[0]);
      fmt_result(b, sizeof b, &o, &r[1]);
    } else {
      snprintf(a, sizeof a, "%s", r[0].ret < 0 ? strerrorname_np(r[0].err) : "ok");
      snprintf(b, sizeof b, "%s", r[1].ret < 0 ? strerrorname_np(r[1].err) : "ok");
    }
    int tol = tolerated(name, o.ptr >= 0 ? PTRNAME[o.ptr] : "int");
    if (tol) tolerated_n++;
    else mismatches++;
    printf("%s seed=%llu step=%ld ioctl=%s side=%s ptr=%s ptsfs=%s kernel=%s\n", tol ? "TOLERATED" : "MISMATCH", (unsigned long long)seed,
           step, name, o.side ? "slave" : "master", ptr, a, b);
  }

  for (int i = 0; i < 2; i++) {
    struct op end = {.kind = OP_END};
    if (write(S[i].to, &end, sizeof end) < 0) { /* gone already */
    }
    close(S[i].to);
  }
  for (int i = 0; i < 2; i++) {
    if (dead) kill(S[i].pid, SIGKILL);
  }
  for (int i = 0; i < 2 && !dead; i++) waitpid(S[i].pid, NULL, 0);

  int final_ok = 0;
  if (!dead) {
    signal(SIGALRM, on_alarm);
    alarm(15);
    final_ok = final_check(pdir) == 0;
    alarm(0);
  }
  printf("ops=%ld known_compared=%ld random=%ld mismatches=%ld tolerated=%ld final=%s\n", ops, compared, random_n, mismatches, tolerated_n,
         dead ? "skipped" : final_ok ? "ok" : "FAILED");
  if (dead) return 3;
  if (!final_ok) {
    printf("DEAD: a fresh ptsfs pty does not work after the run\n");
    return 3;
  }
  close(hs);
  close(hm);
  return mismatches ? 1 : 0;
}
