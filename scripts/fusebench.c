/*
 * Client side of `npm run bench:fuse` (scripts/bench-fuse.ts compiles this
 * with cc -O2 at run time). Each mode prints one line of numbers.
 *
 *   fusebench ioctl FILE CMD N    N x ioctl(fd, CMD, &u32)   -> p50 p99 mean min (us)
 *   fusebench fstat FILE N        N x fstat(fd)              -> p50 p99 mean min (us)
 *   fusebench read1 FILE N        N x pread(fd, 1 byte, 0)   -> p50 p99 mean min (us)
 *   fusebench stream FILE BLOCK MB  read MB MiB in BLOCK-byte reads -> MB/s
 *
 * Latency modes first run N/10 untimed warm-up calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what) {
	fprintf(stderr, "fusebench: %s: %s\n", what, strerror(errno));
	exit(1);
}

enum mode { IOCTL, FSTAT, READ1 };

static void one(enum mode m, int fd, unsigned long cmd) {
	uint32_t v;
	struct stat st;
	char c;
	switch (m) {
	case IOCTL:
		if (ioctl(fd, cmd, &v) < 0) die("ioctl");
		break;
	case FSTAT:
		if (fstat(fd, &st) < 0) die("fstat");
		break;
	case READ1:
		if (pread(fd, &c, 1, 0) != 1) die("pread");
		break;
	}
}

static void latency(enum mode m, const char *file, unsigned long cmd, long n) {
	int fd = open(file, O_RDONLY);
	if (fd < 0) die("open");
	double *t = malloc(n * sizeof *t);
	if (!t) die("malloc");
	for (long i = 0; i < n / 10; i++) one(m, fd, cmd);
	double sum = 0;
	for (long i = 0; i < n; i++) {
		double t0 = now_us();
		one(m, fd, cmd);
		t[i] = now_us() - t0;
		sum += t[i];
	}
	qsort(t, n, sizeof *t, cmp_double);
	printf("%.2f %.2f %.2f %.2f\n", t[n / 2], t[(long)(n * 0.99)], sum / n, t[0]);
	close(fd);
}

static void stream(const char *file, long block, long mb) {
	int fd = open(file, O_RDONLY);
	if (fd < 0) die("open");
	void *buf;
	/* page-aligned: direct I/O splits an unaligned buffer at max_pages */
	if (posix_memalign(&buf, 4096, block)) die("posix_memalign");
	long long want = (long long)mb << 20, got = 0;
	double t0 = now_us();
	while (got < want) {
		ssize_t r = read(fd, buf, block);
		if (r < 0) die("read");
		if (r == 0) break;
		got += r;
	}
	double s = (now_us() - t0) / 1e6;
	printf("%.1f\n", got / s / 1e6);
	close(fd);
}

int main(int argc, char **argv) {
	if (argc >= 5 && !strcmp(argv[1], "ioctl")) latency(IOCTL, argv[2], strtoul(argv[3], 0, 0), atol(argv[4]));
	else if (argc >= 4 && !strcmp(argv[1], "fstat")) latency(FSTAT, argv[2], 0, atol(argv[3]));
	else if (argc >= 4 && !strcmp(argv[1], "read1")) latency(READ1, argv[2], 0, atol(argv[3]));
	else if (argc >= 5 && !strcmp(argv[1], "stream")) stream(argv[2], atol(argv[3]), atol(argv[4]));
	else {
		fprintf(stderr, "usage: fusebench ioctl FILE CMD N | fstat FILE N | read1 FILE N | stream FILE BLOCK MB\n");
		return 2;
	}
	return 0;
}
