/*
 * ptyprobe: what a C program sees of the pts namespace mounted on /dev/pts.
 *
 * Run inside a "container" (a private mount namespace with a pts instance on
 * /dev/pts and its ptmx on /dev/ptmx). It uses glibc's own calls, as real
 * programs do: posix_openpt, grantpt, unlockpt, ptsname, open, openpty,
 * isatty, tcgetattr, tcsetattr, and prints what it observed as key=value
 * lines, so that a test can run it against ptsfs and against a kernel devpts
 * instance and compare. A failed call prints ERR:<errno name> and the probe
 * goes on. Every wait is bounded (poll with a timeout, plus alarm()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static void out(const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%s=", key);
  vprintf(fmt, ap);
  putchar('\n');
  fflush(stdout);
  va_end(ap);
}

static void err(const char *key, int e) { out(key, "ERR:%s", strerrorname_np(e) ? strerrorname_np(e) : "?"); }

/* Prints a result: the number, or ERR:<errno name> when negative. */
static void res(const char *key, long r) {
  if (r < 0) err(key, errno);
  else out(key, "%ld", r);
}

/* Bytes as a C-escaped string, so that \r\n shows. */
static const char *esc(const char *buf, ssize_t n) {
  static char s[4096];
  size_t o = 0;
  for (ssize_t i = 0; i < n && o + 5 < sizeof s; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (c == '\n') o += sprintf(s + o, "\\n");
    else if (c == '\r') o += sprintf(s + o, "\\r");
    else if (c == '\\') o += sprintf(s + o, "\\\\");
    else if (c < 32 || c >= 127) o += sprintf(s + o, "\\x%02x", c);
    else s[o++] = (char)c;
  }
  s[o] = 0;
  return s;
}

/*
 * Reads until `want` bytes arrived, or nothing more came within ms. Prints
 * the bytes, "none" (timeout, nothing), "EOF" or ERR:<errno>.
 */
static void readprint(const char *key, int fd, size_t want, int ms) {
  char buf[1024];
  size_t got = 0;
  while (got < want) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    if (r < 0) { err(key, errno); return; }
    if (r == 0) break;
    ssize_t n = read(fd, buf + got, sizeof buf - got);
    if (n < 0) {
      if (got) break;
      err(key, errno);
      return;
    }
    if (n == 0) {
      if (!got) { out(key, "EOF"); return; }
      break;
    }
    got += (size_t)n;
  }
  if (!got) out(key, "none");
  else out(key, "%s", esc(buf, (ssize_t)got));
}

static void put(const char *key, int fd, const char *s) { res(key, write(fd, s, strlen(s))); }

static void termios_print(const char *side, int fd) {
  struct termios t;
  char k[64];
  snprintf(k, sizeof k, "%s.tcgetattr", side);
  if (tcgetattr(fd, &t) < 0) { err(k, errno); return; }
  snprintf(k, sizeof k, "%s.iflag", side); out(k, "0%o", t.c_iflag);
  snprintf(k, sizeof k, "%s.oflag", side); out(k, "0%o", t.c_oflag);
  snprintf(k, sizeof k, "%s.cflag", side); out(k, "0%o", t.c_cflag);
  snprintf(k, sizeof k, "%s.lflag", side); out(k, "0%o", t.c_lflag);
  snprintf(k, sizeof k, "%s.line", side); out(k, "%d", t.c_line);
  snprintf(k, sizeof k, "%s.ispeed", side); out(k, "%u", (unsigned)cfgetispeed(&t));
  snprintf(k, sizeof k, "%s.ospeed", side); out(k, "%u", (unsigned)cfgetospeed(&t));
  snprintf(k, sizeof k, "%s.cc", side);
  char cc[3 * NCCS + 1] = "";
  for (int i = 0; i < 17; i++) sprintf(cc + strlen(cc), "%s%02x", i ? "," : "", t.c_cc[i]);
  out(k, "%s", cc);
}

static void winsize_print(const char *key, int fd) {
  struct winsize w;
  if (ioctl(fd, TIOCGWINSZ, &w) < 0) err(key, errno);
  else out(key, "%ux%u", w.ws_row, w.ws_col);
}

static void filetype_print(const char *key, int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) { err(key, errno); return; }
  out(key, "%s", S_ISCHR(st.st_mode) ? "chr" : S_ISREG(st.st_mode) ? "reg" : "other");
}

/* Permission bits and owner of a path, as ls -l would show them. */
static void perm_print(const char *key, const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) { err(key, errno); return; }
  out(key, "0%o:%u:%u", st.st_mode & 07777, (unsigned)st.st_uid, (unsigned)st.st_gid);
}

/* A pty the glibc way: posix_openpt, grantpt, unlockpt, ptsname, open. */
static int posix_pty(const char *p, int *slave) {
  char k[64];
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  snprintf(k, sizeof k, "%s.posix_openpt", p);
  out(k, m < 0 ? "ERR:%s" : "ok", m < 0 ? strerrorname_np(errno) : "");
  if (m < 0) return -1;
  char *name = ptsname(m);
  snprintf(k, sizeof k, "%s.ptsname", p);
  if (name) out(k, "%s", name); else err(k, errno);
  snprintf(k, sizeof k, "%s.grantpt", p); res(k, grantpt(m));
  *slave = -1;
  if (name) {
    /* Still locked: the kernel says EIO. */
    int early = open(name, O_RDWR | O_NOCTTY);
    snprintf(k, sizeof k, "%s.open_locked", p);
    if (early >= 0) { out(k, "opened"); close(early); } else err(k, errno);
  }
  snprintf(k, sizeof k, "%s.unlockpt", p); res(k, unlockpt(m));
  if (name) {
    *slave = open(name, O_RDWR | O_NOCTTY);
    snprintf(k, sizeof k, "%s.open_slave", p);
    if (*slave < 0) err(k, errno); else out(k, "ok");
  }
  return m;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "probe=TIMEOUT\n";
  (void)!write(1, msg, sizeof msg - 1);
  _exit(3);
}

int main(void) {
  signal(SIGALRM, on_alarm);
  alarm(20);

  /* --- pty a: posix_openpt & co --- */
  int as = -1;
  int am = posix_pty("a", &as);
  if (am < 0 || as < 0) { out("probe", "incomplete"); return 2; }
  unsigned ptn = 99;
  if (ioctl(am, TIOCGPTN, &ptn) < 0) err("a.tiocgptn", errno); else out("a.tiocgptn", "%u", ptn);
  out("a.isatty_master", "%d", isatty(am));
  out("a.isatty_slave", "%d", isatty(as));
  {
    char *tn = ttyname(as);
    if (tn) out("a.ttyname", "%s", tn); else err("a.ttyname", errno);
  }
  filetype_print("a.slave_type", as);
  perm_print("a.slave_perm", "/dev/pts/0");
  perm_print("ptmx_perm", "/dev/ptmx");
  termios_print("a.slave", as);
  termios_print("a.master", am);
  winsize_print("a.winsize_initial", as);

  /* canonical mode, echo, ONLCR */
  put("a.write_master", am, "hello\n");
  readprint("a.slave_read", as, 6, 2000);
  readprint("a.master_echo", am, 7, 2000);
  put("a.write_slave", as, "out\n");
  readprint("a.master_read", am, 5, 2000);
  /* a line without its newline stays in the line discipline */
  put("a.write_partial", am, "ab");
  readprint("a.slave_read_partial", as, 1, 200);
  readprint("a.master_echo_partial", am, 2, 2000);
  put("a.write_newline", am, "\n");
  readprint("a.slave_read_line", as, 3, 2000);
  readprint("a.master_echo_newline", am, 2, 2000);

  /* tcsetattr: raw mode really reaches the line discipline */
  {
    struct termios t;
    if (tcgetattr(as, &t) == 0) {
      cfmakeraw(&t);
      t.c_cc[VMIN] = 1;
      t.c_cc[VTIME] = 0;
      res("a.tcsetattr_raw", tcsetattr(as, TCSANOW, &t));
    } else err("a.tcsetattr_raw", errno);
  }
  termios_print("a.raw", as);
  put("a.raw_write_master", am, "xy\r");
  readprint("a.raw_slave_read", as, 3, 2000);
  readprint("a.raw_master_echo", am, 1, 200);
  put("a.raw_write_slave", as, "z\n");
  readprint("a.raw_master_read", am, 2, 2000);
  /* back to sane with TCSAFLUSH, from the master side this time */
  {
    struct termios t;
    if (tcgetattr(am, &t) == 0) {
      t.c_lflag |= ICANON | ECHO | ISIG | IEXTEN | ECHOE | ECHOK | ECHOCTL | ECHOKE;
      t.c_iflag |= ICRNL | IXON;
      t.c_oflag |= OPOST | ONLCR;
      res("a.tcsetattr_sane", tcsetattr(am, TCSAFLUSH, &t));
    } else err("a.tcsetattr_sane", errno);
  }
  out("a.slave_lflag_after_sane", "0%o", ({ struct termios t; tcgetattr(as, &t) == 0 ? t.c_lflag : 0u; }));

  /* window size: set on the master, seen on the slave */
  {
    struct winsize w = {.ws_row = 33, .ws_col = 111};
    res("a.tiocswinsz", ioctl(am, TIOCSWINSZ, &w));
  }
  winsize_print("a.winsize_slave", as);

  /* TIOCGPTPEER: the kernel gives a new slave fd; ptsfs can never. */
  {
    int peer = ioctl(am, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (peer >= 0) { out("a.tiocgptpeer", "fd"); close(peer); } else err("a.tiocgptpeer", errno);
  }

  /* --- pty b: the next index --- */
  int bs = -1;
  int bm = posix_pty("b", &bs);

  /* closing a frees index 0 for the next pty */
  close(as);
  close(am);
  /* close() returns before a FUSE RELEASE is handled: wait (at most 2 s) for entry 0 to go */
  {
    struct stat st;
    int i = 0;
    while (stat("/dev/pts/0", &st) == 0 && i++ < 200) usleep(10000);
    out("a.entry_after_close", stat("/dev/pts/0", &st) == 0 ? "present" : "gone");
  }

  /* --- pty c: openpty(), which tries TIOCGPTPEER first --- */
  {
    int cm, cs;
    char name[64] = "";
    struct winsize w = {.ws_row = 30, .ws_col = 100};
    if (openpty(&cm, &cs, name, NULL, &w) < 0) err("c.openpty", errno);
    else {
      out("c.openpty", "ok");
      out("c.name", "%s", name);
      out("c.isatty_slave", "%d", isatty(cs));
      winsize_print("c.winsize_slave", cs);
      winsize_print("c.winsize_master", cm);
      put("c.write_master", cm, "ping\n");
      readprint("c.slave_read", cs, 5, 2000);
      readprint("c.master_echo", cm, 6, 2000);
      put("c.write_slave", cs, "pong\n");
      readprint("c.master_read", cm, 6, 2000);
      /* the slave closes: the master reads EIO */
      close(cs);
      readprint("c.master_read_after_slave_close", cm, 1, 2000);
      close(cm);
    }
  }

  /* hangup: b's master closes while its slave is open */
  if (bm >= 0 && bs >= 0) {
    put("b.write_slave_before_hangup", bs, "q\n");
    close(bm);
    usleep(50000);
    readprint("b.slave_read_after_hangup", bs, 1, 2000);
    put("b.slave_write_after_hangup", bs, "x");
    {
      struct pollfd p = {.fd = bs, .events = POLLIN | POLLOUT};
      int r = poll(&p, 1, 1000);
      if (r < 0) err("b.slave_poll_after_hangup", errno);
      else out("b.slave_poll_after_hangup", "%s%s%s%s", p.revents & POLLIN ? "IN|" : "", p.revents & POLLOUT ? "OUT|" : "",
               p.revents & POLLERR ? "ERR|" : "", p.revents & POLLHUP ? "HUP|" : "");
    }
    {
      struct termios t;
      res("b.slave_tcgetattr_after_hangup", tcgetattr(bs, &t));
    }
    close(bs);
  }
  out("probe", "done");
  return 0;
}
