/*
 * A raw CUSE server for the VM harness test (test/vm/vm.test.ts): no libfuse,
 * only the FUSE wire protocol spoken on /dev/cuse, so the test shows the
 * guest kernel's CUSE as ptsfs will use it, with nothing in between.
 *
 * Usage: cuse-echo MAJOR MINOR NAME
 * Creates the character device /dev/NAME (MAJOR:MINOR) whose writes are kept
 * in one buffer and whose reads hand that buffer back (then EOF), and whose
 * FIONREAD ioctl says how many bytes wait, asked through the unrestricted
 * ioctl retry as the kernel's tty ioctls will be. Prints "ready" on stdout
 * once the kernel has taken the CUSE_INIT reply (the device exists then).
 *
 * Constants and structs come from <linux/fuse.h> (the host's uapi header;
 * the protocol is stable across 7.x) and <asm-generic/ioctls.h> via
 * <sys/ioctl.h>.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

/* The kernel refuses a read of /dev/cuse shorter than FUSE_MIN_READ_BUFFER
 * (8192, fs/fuse/fuse_i.h); this is room for max_write plus headers. */
#define MAX_WRITE 65536
#define REQ_BUF (MAX_WRITE + 4096)
/* cuse_process_init_reply() refuses a protocol minor below 11 (fs/fuse/cuse.c). */
#define CUSE_MIN_MINOR 11

static int dev_fd;
static char held[MAX_WRITE]; /* what was written and not yet read */
static size_t held_len;

/* One reply: header then up to two pieces, in a single write as FUSE wants. */
static void reply(uint64_t unique, int error, const void *a, size_t alen,
                  const void *b, size_t blen) {
  struct fuse_out_header h = {
      .len = (uint32_t)(sizeof h + alen + blen), .error = error, .unique = unique};
  struct iovec iov[3] = {{&h, sizeof h}, {(void *)a, alen}, {(void *)b, blen}};
  if (writev(dev_fd, iov, 3) < 0 && errno != ENOENT) /* ENOENT: interrupted */
    perror("cuse-echo: reply");
}

static void reply_err(uint64_t unique, int err) { reply(unique, -err, NULL, 0, NULL, 0); }

static void do_init(const struct fuse_in_header *h, const struct cuse_init_in *in,
                    unsigned major, unsigned minor, const char *name) {
  char info[256];
  int n = snprintf(info, sizeof info, "DEVNAME=%s", name) + 1; /* keep the NUL */
  struct cuse_init_out out = {
      .major = FUSE_KERNEL_VERSION,
      .minor = in->minor < FUSE_KERNEL_MINOR_VERSION ? in->minor : FUSE_KERNEL_MINOR_VERSION,
      .flags = CUSE_UNRESTRICTED_IOCTL,
      .max_read = MAX_WRITE,
      .max_write = MAX_WRITE,
      .dev_major = major,
      .dev_minor = minor};
  if (in->major != FUSE_KERNEL_VERSION || in->minor < CUSE_MIN_MINOR) {
    fprintf(stderr, "cuse-echo: kernel speaks FUSE %u.%u\n", in->major, in->minor);
    exit(1);
  }
  reply(h->unique, 0, &out, sizeof out, info, (size_t)n);
}

static void do_open(const struct fuse_in_header *h) {
  struct fuse_open_out out = {.fh = 0, .open_flags = 0};
  reply(h->unique, 0, &out, sizeof out, NULL, 0);
}

static void do_read(const struct fuse_in_header *h, const struct fuse_read_in *in) {
  size_t n = held_len < in->size ? held_len : in->size;
  reply(h->unique, 0, held, n, NULL, 0);
  memmove(held, held + n, held_len - n);
  held_len -= n;
}

static void do_write(const struct fuse_in_header *h, const struct fuse_write_in *in) {
  size_t room = sizeof held - held_len;
  size_t n = in->size < room ? in->size : room;
  struct fuse_write_out out = {.size = (uint32_t)n};
  if (n == 0 && in->size) return reply_err(h->unique, ENOSPC);
  memcpy(held + held_len, in + 1, n);
  held_len += n;
  reply(h->unique, 0, &out, sizeof out, NULL, 0);
}

/* FIONREAD: the first call comes with no room for the answer (out_size 0);
 * ask for sizeof(int) at the caller's arg, and the kernel calls again. */
static void do_ioctl(const struct fuse_in_header *h, const struct fuse_ioctl_in *in) {
  struct fuse_ioctl_out out = {0};
  int pending = (int)held_len;
  if (in->cmd != FIONREAD) return reply_err(h->unique, ENOTTY);
  if (in->out_size < sizeof pending) {
    struct fuse_ioctl_iovec want = {.base = in->arg, .len = sizeof pending};
    out.flags = FUSE_IOCTL_RETRY;
    out.out_iovs = 1;
    return reply(h->unique, 0, &out, sizeof out, &want, sizeof want);
  }
  reply(h->unique, 0, &out, sizeof out, &pending, sizeof pending);
}

static void dispatch(const struct fuse_in_header *h, const void *arg) {
  switch (h->opcode) {
  case FUSE_OPEN: return do_open(h);
  case FUSE_READ: return do_read(h, arg);
  case FUSE_WRITE: return do_write(h, arg);
  case FUSE_IOCTL: return do_ioctl(h, arg);
  case FUSE_RELEASE:
  case FUSE_FLUSH: return reply(h->unique, 0, NULL, 0, NULL, 0);
  case FUSE_INTERRUPT: return; /* never answered (fuse(4)) */
  default: return reply_err(h->unique, ENOSYS);
  }
}

int main(int argc, char **argv) {
  static char buf[REQ_BUF];
  if (argc != 4) {
    fprintf(stderr, "usage: cuse-echo MAJOR MINOR NAME\n");
    return 2;
  }
  dev_fd = open("/dev/cuse", O_RDWR);
  if (dev_fd < 0) {
    perror("cuse-echo: /dev/cuse");
    return 1;
  }
  for (;;) {
    ssize_t n = read(dev_fd, buf, sizeof buf);
    const struct fuse_in_header *h = (const void *)buf;
    if (n < 0 && (errno == EINTR || errno == ENOENT)) continue;
    if (n < 0) {
      perror("cuse-echo: read");
      return errno == ENODEV ? 0 : 1; /* ENODEV: the device was torn down */
    }
    if ((size_t)n < sizeof *h) continue;
    if (h->opcode == CUSE_INIT) {
      do_init(h, (const void *)(h + 1), (unsigned)atoi(argv[1]), (unsigned)atoi(argv[2]), argv[3]);
      printf("ready\n");
      fflush(stdout);
      continue;
    }
    dispatch(h, h + 1);
  }
}
