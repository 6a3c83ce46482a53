/*
 * A minimal FUSE server in C speaking /dev/fuse directly (no libfuse; one
 * thread, blocking read): the calibration floor for `npm run bench:fuse`.
 * It serves the two files the benchmark client uses, like test/fuse/testfs:
 *
 *   /ioctl   IOC_NULL (_IOR('E', 2, 4)) answered at once; attr_valid 0
 *   /big     64 GiB of zeros, direct I/O
 *
 *   fuseserver DIR     mounts on DIR, prints "ready", serves until
 *                      unmounted, then prints "requests N cpu_us U".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_WRITE (128 * 1024)
#define INO_IOCTL 2
#define INO_BIG 3
#define BIG_SIZE (64ULL << 30)

static int fd;
static char in[MAX_WRITE + 4096] __attribute__((aligned(4096)));
static char zeros[MAX_WRITE] __attribute__((aligned(4096)));

static void reply(uint64_t unique, int error, const void *body, size_t len, const void *tail, size_t tlen) {
	struct fuse_out_header h = { .len = sizeof h + len + tlen, .error = error, .unique = unique };
	struct iovec iov[3] = { { &h, sizeof h }, { (void *)body, len }, { (void *)tail, tlen } };
	if (writev(fd, iov, 3) < 0 && errno != ENOENT) perror("fuseserver: writev");
}

static void fill_attr(struct fuse_attr *a, uint64_t ino) {
	memset(a, 0, sizeof *a);
	a->ino = ino;
	a->nlink = 1;
	a->blksize = 4096;
	if (ino == FUSE_ROOT_ID) {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
	} else {
		a->mode = S_IFREG | 0666;
		a->size = ino == INO_BIG ? BIG_SIZE : 0;
	}
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: fuseserver DIR\n");
		return 2;
	}
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("fuseserver: /dev/fuse");
		return 1;
	}
	char opts[128];
	snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd);
	if (mount("fuseserver", argv[1], "fuse.fusebenchc", MS_NOSUID | MS_NODEV, opts) < 0) {
		perror("fuseserver: mount");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	unsigned long requests = 0;
	for (;;) {
		ssize_t n = read(fd, in, sizeof in);
		if (n < 0) {
			if (errno == EINTR || errno == ENOENT || errno == EAGAIN) continue;
			if (errno == ENODEV) break; /* unmounted */
			perror("fuseserver: read");
			return 1;
		}
		requests++;
		struct fuse_in_header *h = (void *)in;
		void *arg = in + sizeof *h;
		switch (h->opcode) {
		case FUSE_INIT: {
			struct fuse_init_in *i = arg;
			struct fuse_init_out o = {
				.major = FUSE_KERNEL_VERSION, .minor = 38, .max_readahead = i->max_readahead,
				.flags = i->flags & (FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES),
				.max_background = 64, .congestion_threshold = 48, .max_write = MAX_WRITE,
				.time_gran = 1, .max_pages = MAX_WRITE / 4096,
			};
			reply(h->unique, 0, &o, sizeof o, 0, 0);
			break;
		}
		case FUSE_LOOKUP: {
			const char *name = arg;
			uint64_t ino = !strcmp(name, "ioctl") ? INO_IOCTL : !strcmp(name, "big") ? INO_BIG : 0;
			if (h->nodeid != FUSE_ROOT_ID || !ino) {
				reply(h->unique, -ENOENT, 0, 0, 0, 0);
				break;
			}
			struct fuse_entry_out e = { .nodeid = ino, .entry_valid = 3600 };
			fill_attr(&e.attr, ino);
			reply(h->unique, 0, &e, sizeof e, 0, 0);
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out a = { 0 };
			fill_attr(&a.attr, h->nodeid);
			reply(h->unique, 0, &a, sizeof a, 0, 0);
			break;
		}
		case FUSE_OPEN:
		case FUSE_OPENDIR: {
			struct fuse_open_out o = { .fh = 1, .open_flags = h->opcode == FUSE_OPEN ? FOPEN_DIRECT_IO : 0 };
			reply(h->unique, 0, &o, sizeof o, 0, 0);
			break;
		}
		case FUSE_IOCTL: {
			struct fuse_ioctl_in *i = arg;
			struct fuse_ioctl_out o = { 0 };
			uint32_t v = (uint32_t)requests;
			reply(h->unique, 0, &o, sizeof o, &v, i->out_size < 4 ? i->out_size : 4);
			break;
		}
		case FUSE_READ: {
			struct fuse_read_in *r = arg;
			size_t len = r->size < MAX_WRITE ? r->size : MAX_WRITE;
			if (h->nodeid != INO_BIG || r->offset >= BIG_SIZE) len = 0;
			reply(h->unique, 0, zeros, len, 0, 0);
			break;
		}
		case FUSE_RELEASE:
		case FUSE_RELEASEDIR:
		case FUSE_FLUSH:
			reply(h->unique, 0, 0, 0, 0, 0);
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;
		default:
			reply(h->unique, -ENOSYS, 0, 0, 0, 0);
		}
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
	printf("requests %lu cpu_us %.0f\n", requests, cpu);
	return 0;
}
