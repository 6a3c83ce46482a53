/*
 * ptsfs-client: `ptsfs mount` and `ptsfs umount` without starting Node.
 *
 * A shell loop making one mount per container pays Node's start (about
 * 200 ms with our modules) for a request the daemon answers in 2 ms. This
 * client sends that one request line itself when a daemon is running and
 * the request succeeds; everything else (another command, --help, an
 * option it does not know, no daemon yet, any refusal) it hands, argv
 * unchanged, to the full client bin/ptsfs.js, which starts the daemon or
 * says what is wrong. A refused request changed nothing, so asking again
 * there is safe; messages are written in one place only.
 *
 * The wire format is src/daemon/protocol.ts: one JSON object per line,
 * and a success answer begins with {"ok":true.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* As protocol.ts MAX_REQUEST_BYTES: the daemon cuts off anything longer. */
#define MAX_REQUEST 16384
#define HOST_SOCKET "/run/ptsfs/ptsfs.sock"

static char **saved_argv;

/* Everything this client does not do itself: the full client, same argv. */
static void __attribute__((noreturn)) hand_over(void)
{
	char self[PATH_MAX], script[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int argc = 0;

	if (n < 0) {
		perror("ptsfs: /proc/self/exe");
		exit(1);
	}
	self[n] = '\0';
	/* We are ROOT/dist/bin/ptsfs-client; the full client is ROOT/bin/ptsfs.js. */
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(script, sizeof(script), "%s/bin/ptsfs.js", self);
	while (saved_argv[argc])
		argc++;
	char **args = calloc(argc + 2, sizeof(char *));
	if (!args)
		exit(1);
	args[0] = "node";
	args[1] = script;
	for (int i = 1; i < argc; i++)
		args[i + 1] = saved_argv[i];
	execvp("node", args);
	perror("ptsfs: node");
	exit(1);
}

/* path.resolve(): absolute, without ".", ".." or repeated and trailing slashes. */
static int resolve(const char *p, char *out, size_t size)
{
	char joined[2 * PATH_MAX];
	size_t len = 0;

	if (p[0] == '/') {
		snprintf(joined, sizeof(joined), "%s", p);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return -1;
		snprintf(joined, sizeof(joined), "%s/%s", cwd, p);
	}
	for (char *part = strtok(joined, "/"); part; part = strtok(NULL, "/")) {
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0) {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			continue;
		}
		size_t n = strlen(part);
		if (len + 1 + n + 1 > size)
			return -1;
		out[len++] = '/';
		memcpy(out + len, part, n);
		len += n;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}

/* Appends s as a JSON string; -1 when it does not fit. */
static int json_string(char *buf, size_t *len, size_t size, const char *s)
{
	size_t n = *len;

	if (n + 1 >= size)
		return -1;
	buf[n++] = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (n + 7 >= size)
			return -1;
		if (*c == '"' || *c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)*c;
		} else if (*c < 0x20) {
			n += (size_t)snprintf(buf + n, size - n, "\\u%04x", *c);
		} else {
			buf[n++] = (char)*c;
		}
	}
	buf[n++] = '"';
	*len = n;
	return 0;
}

/* daemonPaths() in src/daemon/paths.ts, for the default socket. */
static const char *default_socket(char *buf, size_t size)
{
	const char *env = getenv("PTSFS_SOCKET");
	if (env && *env)
		return env;
	if (getuid() == 0) {
		char map[128];
		FILE *f = fopen("/proc/self/uid_map", "r");
		unsigned long inside, outside, count;
		int initial = 1;
		if (f) {
			initial = fgets(map, sizeof(map), f) &&
				  sscanf(map, "%lu %lu %lu", &inside, &outside, &count) == 3 &&
				  inside == 0 && outside == 0 && count == 4294967295UL;
			fclose(f);
		}
		if (initial)
			return HOST_SOCKET;
	}
	env = getenv("XDG_RUNTIME_DIR");
	if (!env || !*env)
		return NULL;
	snprintf(buf, size, "%s/ptsfs/ptsfs.sock", env);
	return buf;
}

/* Sends one request line; 0 when the daemon answered {"ok":true...}. */
static int ask(const char *socket_path, const char *request, size_t len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char answer[4096];
	size_t got = 0;
	int fd;

	if (strlen(socket_path) >= sizeof(addr.sun_path))
		return -1;
	strcpy(addr.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -1;
	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, request + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	/* Only the start of the answer matters; a long one (never a mount's) is read no further. */
	while (got < sizeof(answer) && !memchr(answer, '\n', got)) {
		ssize_t n = read(fd, answer + got, sizeof(answer) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	static const char ok[] = "{\"ok\":true";
	return got >= sizeof(ok) - 1 && memcmp(answer, ok, sizeof(ok) - 1) == 0 ? 0 : -1;
}

static int mounting(const char *command)
{
	return command && strcmp(command, "mount") == 0;
}

int main(int argc, char **argv)
{
	const char *socket_path = NULL, *command = NULL, *dir = NULL, *options = "";
	char socket_buf[PATH_MAX], socket_abs[PATH_MAX], dir_abs[PATH_MAX];
	char request[MAX_REQUEST];
	size_t len = 0;

	saved_argv = argv;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!a[0])
			hand_over(); /* "" is no directory: the full client says so */
		if (strcmp(a, "--socket") == 0 && i + 1 < argc)
			socket_path = argv[++i];
		else if (strncmp(a, "--socket=", 9) == 0)
			socket_path = a + 9;
		/* -o X and -o=X, as yargs reads them (-oX is -o -X to yargs: handed over) */
		else if (mounting(command) && strcmp(a, "-o") == 0 && i + 1 < argc && argv[i + 1][0] != '-')
			options = argv[++i];
		else if (mounting(command) && strncmp(a, "-o=", 3) == 0 && a[3])
			options = a + 3;
		else if (a[0] == '-' || (command && dir))
			hand_over(); /* --help, --foreground, --json, a second positional ... */
		else if (!command)
			command = a;
		else
			dir = a;
	}
	if (!command || !dir || (strcmp(command, "mount") != 0 && strcmp(command, "umount") != 0))
		hand_over();
	if (!socket_path)
		socket_path = default_socket(socket_buf, sizeof(socket_buf));
	if (!socket_path || resolve(socket_path, socket_abs, sizeof(socket_abs)) < 0 ||
	    resolve(dir, dir_abs, sizeof(dir_abs)) < 0)
		hand_over();

	len = (size_t)snprintf(request, sizeof(request), "{\"op\":\"%s\",\"mountpoint\":", command);
	if (json_string(request, &len, sizeof(request), dir_abs) < 0)
		hand_over();
	if (strcmp(command, "mount") == 0) {
		static const char opts[] = ",\"options\":";
		if (len + sizeof(opts) >= sizeof(request))
			hand_over();
		memcpy(request + len, opts, sizeof(opts) - 1);
		len += sizeof(opts) - 1;
		if (json_string(request, &len, sizeof(request), options) < 0)
			hand_over();
	}
	if (len + 3 > sizeof(request))
		hand_over();
	request[len++] = '}';
	request[len++] = '\n';
	if (ask(socket_abs, request, len) == 0)
		return 0;
	hand_over();
}
