/* Client side of `npm run bench`: the same code drives a kernel devpts
 * instance and a ptsfs mount, so the two are compared like for like.
 *
 *   ptybench DIR throughput MB m2s|s2m   -> prints MB/s
 *   ptybench DIR pingpong N              -> prints p50 and p99 in us
 *   ptybench DIR openclose SECONDS       -> prints opens per second
 *   ptybench DIR legacy SECONDS          -> prints TCGETS+TIOCSWINSZ calls per second
 *   ptybench DIR hold COUNT              -> opens COUNT ptys, reads each side once
 *                                           (EAGAIN), prints "ready", waits for stdin EOF
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static const char *dir;

static void die(const char *what) {
	perror(what);
	exit(1);
}

static double now_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Opens a pty in DIR: master from DIR/ptmx, slave DIR/N, slave in raw mode. */
static int keep_isig;

static void open_pair(int *m, int *s) {
	char path[4096];
	snprintf(path, sizeof path, "%s/ptmx", dir);
	*m = open(path, O_RDWR | O_NOCTTY);
	if (*m < 0) die("open ptmx");
	int n, unlock = 0;
	if (ioctl(*m, TIOCGPTN, &n) < 0) die("TIOCGPTN");
	if (ioctl(*m, TIOCSPTLCK, &unlock) < 0) die("TIOCSPTLCK");
	snprintf(path, sizeof path, "%s/%d", dir, n);
	*s = open(path, O_RDWR | O_NOCTTY);
	if (*s < 0) die("open slave");
	struct termios t;
	if (tcgetattr(*s, &t) < 0) die("tcgetattr");
	cfmakeraw(&t);
	if (keep_isig) t.c_lflag |= ISIG; /* raw, but ^C still signals: ptsfs scans every master write */
	if (tcsetattr(*s, TCSANOW, &t) < 0) die("tcsetattr");
}

static void write_all(int fd, const char *buf, size_t len) {
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR) continue;
			die("write");
		}
		buf += n;
		len -= n;
	}
}

static void throughput(long mb, int master_to_slave) {
	int m, s;
	open_pair(&m, &s);
	int w = master_to_slave ? m : s, r = master_to_slave ? s : m;
	long total = mb << 20;
	static char buf[65536];
	memset(buf, 'x', sizeof buf);
	double t0 = now_us();
	pid_t pid = fork();
	if (pid == 0) {
		for (long left = total; left > 0; left -= sizeof buf) write_all(w, buf, left < (long)sizeof buf ? left : sizeof buf);
		_exit(0);
	}
	long got = 0;
	while (got < total) {
		ssize_t n = read(r, buf, sizeof buf);
		if (n <= 0) die("read");
		got += n;
	}
	double dt = now_us() - t0;
	waitpid(pid, NULL, 0);
	printf("%.1f\n", total / dt); /* bytes per us = MB/s */
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void pingpong(int iterations) {
	int m, s;
	open_pair(&m, &s);
	double *lat = malloc(sizeof(double) * iterations);
	char c = 'p';
	for (int i = -iterations / 10; i < iterations; i++) { /* first tenth warms up */
		double t0 = now_us();
		if (write(m, &c, 1) != 1 || read(s, &c, 1) != 1) die("ping");
		if (write(s, &c, 1) != 1 || read(m, &c, 1) != 1) die("pong");
		if (i >= 0) lat[i] = now_us() - t0;
	}
	qsort(lat, iterations, sizeof(double), cmp);
	printf("%.1f %.1f\n", lat[iterations / 2], lat[iterations * 99 / 100]);
}

static void openclose(double seconds) {
	char path[4096];
	snprintf(path, sizeof path, "%s/ptmx", dir);
	long count = 0;
	double t0 = now_us(), end = t0 + seconds * 1e6;
	while (now_us() < end) {
		int m = open(path, O_RDWR | O_NOCTTY);
		if (m < 0) die("open ptmx");
		close(m);
		count++;
	}
	printf("%.0f\n", count / ((now_us() - t0) / 1e6));
}

/* Legacy ioctls carry a pointer into the caller, which ptsfs copies through
 * its caller-memory helper: tcgetattr (TCGETS) and TIOCSWINSZ round trips. */
static void legacy(double seconds) {
	int m, s;
	open_pair(&m, &s);
	struct termios tio;
	struct winsize ws = { 24, 80, 0, 0 };
	long count = 0;
	double t0 = now_us(), end = t0 + seconds * 1e6;
	while (now_us() < end) {
		if (tcgetattr(s, &tio) < 0) die("tcgetattr");
		if (ioctl(s, TIOCSWINSZ, &ws) < 0) die("TIOCSWINSZ");
		count += 2;
	}
	printf("%.0f\n", count / ((now_us() - t0) / 1e6));
}

static void hold(int count) {
	for (int i = 0; i < count; i++) {
		int m, s;
		char c;
		open_pair(&m, &s);
		/* A read on each side, as a terminal in use has had: the server then
		 * watches both ends of the backing pty. */
		fcntl(m, F_SETFL, O_NONBLOCK);
		fcntl(s, F_SETFL, O_NONBLOCK);
		if (read(m, &c, 1) >= 0 || read(s, &c, 1) >= 0) die("read on an idle pty");
	}
	printf("ready\n");
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0) {
	}
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: ptybench DIR throughput|pingpong|openclose|legacy|hold ARG [m2s|s2m] [isig]\n");
		return 2;
	}
	dir = argv[1];
	const char *mode = argv[2];
	keep_isig = argc > 5 && !strcmp(argv[5], "isig");
	if (!strcmp(mode, "throughput")) throughput(atol(argv[3]), argc > 4 && !strcmp(argv[4], "m2s"));
	else if (!strcmp(mode, "pingpong")) pingpong(atoi(argv[3]));
	else if (!strcmp(mode, "openclose")) openclose(atof(argv[3]));
	else if (!strcmp(mode, "hold")) hold(atoi(argv[3]));
	else if (!strcmp(mode, "legacy")) legacy(atof(argv[3]));
	else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
