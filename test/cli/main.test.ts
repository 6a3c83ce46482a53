// The ptsfs command as users run it: bin/ptsfs as a child process.
//
//   ptsfs mount -o OPTIONS --foreground DIR   serves until SIGTERM/SIGINT or
//                                             `ptsfs umount DIR`, then exits 0
//   ptsfs umount DIR
//
// The server is a separate process here, so this test process may look at
// the mount synchronously; clients still run as child processes.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { PYTHON } from '../pts/helpers';
import { cuseUnavailable } from '../../src/fuse';
import {
  describe, exec, inContainer, mountpoints, Proc, ptsfs, tempDir, type TestLike, userEnv,
} from '../pts/programs-helpers';
import { BIN, forceUnmount, needs, ptsfsArgv, ptsfsRun, why } from './helpers';

/** A literal string as a RegExp source. */
function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

if (why) t.comment(`skipping: ${why}`);

async function isMounted(dir: string): Promise<boolean> {
  return (await mountpoints()).includes(dir);
}

/**
 * Starts `ptsfs mount -o optionText --foreground DIR` on a fresh directory and
 * waits for "ptsfs: serving DIR". Teardown unmounts, kills and removes, also
 * when the test failed.
 */
async function serve(t: TestLike, optionText: string): Promise<{ dir: string; server: Proc }> {
  const dir = await tempDir(t, 'ptsfs-cli-');
  const server = new Proc(t, ...ptsfsArgv(['mount', '-o', optionText, '--foreground', dir]), { timeoutMs: 60_000, env: userEnv() });
  t.teardown(() => forceUnmount(dir));
  await server.waitFor(`ptsfs: serving ${dir}: `, 'stderr');
  return { dir, server };
}

// Opens a pty on the mount and reports what a user would check.
const OPEN_PTY = String.raw`
import os, sys, stat, fcntl, struct
d = sys.argv[1]
def show(p):
    st = os.stat(p)
    return '%o:%d:%d' % (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
m = os.open(d + '/ptmx', os.O_RDWR | os.O_NOCTTY)
n = struct.unpack('I', fcntl.ioctl(m, 0x80045430, b'\0' * 4))[0]
fcntl.ioctl(m, 0x40045431, struct.pack('i', 0))
s = os.open('%s/%d' % (d, n), os.O_RDWR | os.O_NOCTTY)
os.write(m, b'ping\n')
print('index=%d ptmx=%s entry=%s list=%s read=%r' % (n, show(d + '/ptmx'), show('%s/%d' % (d, n)), ' '.join(sorted(os.listdir(d))), os.read(s, 100)))
`;

t.test('mount -o ptmxmode=666,mode=620,gid=5 --foreground serves until SIGTERM, then unmounts and exits 0', needs, async (t) => {
  const { dir, server } = await serve(t, 'ptmxmode=666,mode=620,gid=5');
  const mounts = await fs.promises.readFile('/proc/self/mounts', 'utf8');
  t.match(mounts, new RegExp(`^ptsfs ${dir} fuse\\.ptsfs `, 'm'), 'listed in /proc/mounts as fuse.ptsfs');
  const r = await exec(t, PYTHON, ['-c', OPEN_PTY, dir]);
  t.equal(r.code, 0, describe(r));
  t.equal(r.stdout, "index=0 ptmx=666:0:0 entry=620:0:5 list=0 ptmx tty read=b'ping\\n'\n", 'the options took effect');

  t.ok(server.signal('SIGTERM'));
  const done = await server.exit(5000);
  t.equal(done.code, 0, `exit 0 on SIGTERM (${describe(done)})`);
  t.equal(done.signal, null);
  // The serving line says which entry mode auto chose, and why.
  const mode = cuseUnavailable() === undefined ? 'entries=chr \\(auto\\): CUSE devices, char major \\d+' : `entries=file \\(auto: ${escape(cuseUnavailable()!)}\\)`;
  t.match(done.stderr, new RegExp(`^ptsfs: serving ${escape(dir)}: ${mode}\n$`), 'nothing but the serving line on stderr, with the entry mode');
  t.notOk(await isMounted(dir), 'nothing left in /proc/mounts');
});

t.test('SIGINT (Ctrl-C) also unmounts and exits 0', needs, async (t) => {
  const { dir, server } = await serve(t, '');
  server.signal('SIGINT');
  const done = await server.exit(5000);
  t.equal(done.code, 0, describe(done));
  t.notOk(await isMounted(dir), 'nothing left in /proc/mounts');
});

t.test('SIGTERM while a program is blocked reading a pty: the program gets an error, the server exits 0', needs, async (t) => {
  const { dir, server } = await serve(t, 'ptmxmode=666');
  const reader = new Proc(t, PYTHON, ['-c', String.raw`
import os, sys, errno
m = os.open(sys.argv[1] + '/ptmx', os.O_RDWR | os.O_NOCTTY)
print('open', flush=True)
try:
    print('read %r' % os.read(m, 10))
except OSError as e:
    print('error ' + errno.errorcode[e.errno])
`, dir]);
  await reader.waitFor('open\n');
  await new Promise((r) => setTimeout(r, 100)); // let the read reach the server
  server.signal('SIGTERM');
  const done = await server.exit(5000);
  t.equal(done.code, 0, describe(done));
  const rd = await reader.exit(5000);
  t.equal(rd.code, 0, describe(rd));
  t.match(rd.stdout, /^open\nerror E[A-Z]+\n$/, 'the blocked read failed instead of hanging');
  t.notOk(await isMounted(dir), 'nothing left in /proc/mounts');
});

t.test('SIGTERM while still mounting (mount(2) done, not yet serving) leaves nothing mounted', needs, async (t) => {
  const dir = await tempDir(t, 'ptsfs-cli-');
  const server = new Proc(t, ...ptsfsArgv(['mount', '-o', 'ptmxmode=666', '--foreground', dir]), { env: userEnv() });
  t.teardown(() => forceUnmount(dir));
  // Signal the moment the mount shows in /proc/mounts, before INIT is done. A
  // busy synchronous poll is fine here: the server is another process.
  const escaped = ` ${dir} `;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !fs.readFileSync('/proc/self/mounts', 'utf8').includes(escaped)) {
    // spin
  }
  process.kill(server.pid, 'SIGTERM');
  const done = await server.exit(5000);
  t.equal(done.signal, null, 'not killed by the signal');
  t.equal(done.code, 0, describe(done));
  t.notOk(await isMounted(dir), 'nothing left in /proc/mounts');
});

t.test('ptsfs umount DIR from another process ends the foreground server with exit 0', needs, async (t) => {
  const { dir, server } = await serve(t, 'ptmxmode=666,mode=620,gid=5');
  const u = await ptsfsRun(t, ['umount', dir]);
  t.equal(u.code, 0, `umount exits 0 (${describe(u)})`);
  t.equal(u.stderr, '');
  t.notOk(await isMounted(dir), 'gone from /proc/mounts at once');
  const done = await server.exit(5000);
  t.equal(done.code, 0, `the server exits 0 (${describe(done)})`);
  t.notOk(await isMounted(dir), 'nothing left in /proc/mounts');
});

t.test('ptsfs umount while a pty is open detaches: the pty works on, the server exits 0 after its last close', needs, async (t) => {
  const { dir, server } = await serve(t, 'ptmxmode=666');
  const holder = new Proc(t, PYTHON, ['-c', String.raw`
import os, sys, fcntl, struct
m = os.open(sys.argv[1] + '/ptmx', os.O_RDWR | os.O_NOCTTY)
n = struct.unpack('I', fcntl.ioctl(m, 0x80045430, b'\0' * 4))[0]
print('index %d' % n, flush=True)
sys.stdin.readline()
n = struct.unpack('I', fcntl.ioctl(m, 0x80045430, b'\0' * 4))[0]
print('still index %d' % n, flush=True)
`, dir], { openStdin: true });
  await holder.waitFor('index 0\n');
  const u = await ptsfsRun(t, ['umount', dir]);
  t.equal(u.code, 0, `umount exits 0 (${describe(u)})`);
  t.notOk(await isMounted(dir), 'gone from /proc/mounts at once');
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(server.exited, 'the server still serves the open pty');
  holder.send('go\n');
  const h = await holder.exit(5000);
  t.equal(h.stdout, 'index 0\nstill index 0\n', 'the open pty kept working');
  const done = await server.exit(5000);
  t.equal(done.code, 0, `the server exits 0 once the pty is closed (${describe(done)})`);
});

t.test('a container wired to a ptsfs mount served by the CLI', needs, async (t) => {
  const { dir, server } = await serve(t, 'ptmxmode=666,mode=620,gid=5');
  const r = await inContainer(t, ptsfs(dir), ['script', '-qec', 'stty size; ls -l /dev/pts | cut -c1-10 | LC_ALL=C sort', '/dev/null'], { input: '' });
  t.equal(r.code, 0, describe(r));
  t.same(r.stdout.split('\r\n').filter(Boolean), ['0 0', '-rw--w----', '-rw-rw-rw-', '-rw-rw-rw-', 'total 0'],
    'script ran on pts 0 (entries are regular files: -rw--w----)');
  server.signal('SIGTERM');
  t.equal((await server.exit(5000)).code, 0);
  t.notOk(await isMounted(dir));
});

// Each: the -o text, and what the message must name.
const BAD_OPTIONS = [
  ['bogus', 'bogus'],
  ['mode=9z', 'mode=9z'],
  ['max=99999999', 'max=99999999'],
  ['max=1048577', 'max=1048577'],
  ['uid=abc', 'uid=abc'],
  ['gid=-1', 'gid=-1'],
  ['ptmxmode=', 'ptmxmode='],
  ['ptmxmode=666,mode=620,nonsense=1', 'nonsense=1'],
] as const;

t.test('unknown or malformed options are refused, naming them, and nothing is mounted', needs, async (t) => {
  // All at once: each is a process start, nothing more.
  const runs = await Promise.all(BAD_OPTIONS.map(async ([option]) => {
    const dir = await tempDir(t, 'ptsfs-cli-');
    t.teardown(() => forceUnmount(dir));
    return { dir, r: await ptsfsRun(t, ['mount', '-o', option, '--foreground', dir]) };
  }));
  for (const [i, [option, named]] of BAD_OPTIONS.entries()) {
    const { dir, r } = runs[i]!;
    t.not(r.code, 0, `-o ${option}: non-zero exit`);
    t.equal(r.signal, null, `-o ${option}: it exited by itself`);
    t.ok(r.stderr.includes(named), `-o ${option}: the message names ${named}: ${r.stderr.trim()}`);
    t.match(r.stderr, /^ptsfs: mount: [^\n]+\n$/, `-o ${option}: one line of message, no stack trace`);
    t.notOk(await isMounted(dir), `-o ${option}: nothing mounted`);
  }
});

t.test('accepted options: newinstance, max=, uid=, nosuid/noexec/nodev', needs, async (t) => {
  const { dir, server } = await serve(t, 'newinstance,max=2,uid=1234,ptmxmode=0666,nosuid,noexec,nodev');
  const mounts = await fs.promises.readFile('/proc/self/mounts', 'utf8');
  const line = mounts.split('\n').find((l) => l.split(' ')[1] === dir) ?? '';
  t.match(line.split(' ')[3], /(^|,)nosuid(,|$)/, 'nosuid');
  t.match(line.split(' ')[3], /(^|,)nodev(,|$)/, 'nodev');
  t.match(line.split(' ')[3], /(^|,)noexec(,|$)/, 'noexec');
  const r = await exec(t, PYTHON, ['-c', String.raw`
import os, sys, errno
d = sys.argv[1]
fds = []
for i in range(3):
    try:
        fds.append(os.open(d + '/ptmx', os.O_RDWR | os.O_NOCTTY))
        print('open ok')
    except OSError as e:
        print('open ' + errno.errorcode[e.errno])
print('owner %d' % os.stat(d + '/0').st_uid)
`, dir]);
  t.equal(r.stdout, 'open ok\nopen ok\nopen ENOSPC\nowner 1234\n', 'max=2 gives two ptys, uid= owns the entries');
  server.signal('SIGTERM');
  t.equal((await server.exit(5000)).code, 0);
});

t.test('a missing mountpoint: a clear message, non-zero exit', needs, async (t) => {
  const dir = await tempDir(t, 'ptsfs-cli-');
  const missing = path.join(dir, 'nope');
  const r = await ptsfsRun(t, ['mount', '-o', 'ptmxmode=666', '--foreground', missing]);
  t.not(r.code, 0);
  t.equal(r.stderr, `ptsfs: mount ${missing}: no such directory\n`);
  t.notOk(await isMounted(missing));

  const file = path.join(dir, 'file');
  await fs.promises.writeFile(file, '');
  const f = await ptsfsRun(t, ['mount', '--foreground', file]);
  t.not(f.code, 0);
  t.equal(f.stderr, `ptsfs: mount ${file}: not a directory\n`);
  t.notOk(await isMounted(file));
});

t.test('umount of something not mounted: a clear error, non-zero exit', needs, async (t) => {
  const dir = await tempDir(t, 'ptsfs-cli-');
  const r = await ptsfsRun(t, ['umount', dir]);
  t.not(r.code, 0);
  t.equal(r.stderr, `ptsfs: umount ${dir}: not mounted\n`);

  const gone = path.join(dir, 'nope');
  const g = await ptsfsRun(t, ['umount', gone]);
  t.not(g.code, 0);
  t.match(g.stderr, new RegExp(`^ptsfs: umount ${gone}: (not mounted|no such)`), 'no stack trace');
  t.notMatch(g.stderr, /\n\s+at /);
});

t.test('--help, and usage errors', async (t) => {
  const h = await ptsfsRun(t, ['--help']);
  t.equal(h.code, 0, describe(h));
  t.match(h.stdout, /ptsfs mount <mountpoint>/);
  t.match(h.stdout, /ptsfs umount <mountpoint>/);

  const m = await ptsfsRun(t, ['mount', '--help']);
  t.equal(m.code, 0, describe(m));
  t.match(m.stdout, /-o\b/);
  t.match(m.stdout, /--foreground/);
  t.match(m.stdout, /ptmxmode/);

  const none = await ptsfsRun(t, []);
  t.not(none.code, 0, 'no command: non-zero');
  t.match(none.stderr, /name a command: mount, umount, list, run, stop/);
  for (const cmd of ['umount', 'list', 'run', 'stop', 'daemon', 'install']) {
    const c = await ptsfsRun(t, [cmd, '--help']);
    t.equal(c.code, 0, `${cmd} --help`);
    t.match(c.stdout, new RegExp(`ptsfs ${cmd}`));
  }

  const unknown = await ptsfsRun(t, ['frobnicate']);
  t.not(unknown.code, 0, 'unknown command: non-zero');
  t.match(unknown.stderr, /^ptsfs: .*frobnicate/, 'names the unknown command');

  const noDir = await ptsfsRun(t, ['mount', '--foreground']);
  t.not(noDir.code, 0, 'mount without a mountpoint: non-zero');
  t.match(noDir.stderr, /^ptsfs: .*argument/, 'a usage message');
  t.notMatch(noDir.stderr, /\n\s+at /, 'no stack trace');
});

t.test('root of a user namespace (unshare -Urm) can mount and use a ptsfs namespace', needs, async (t) => {
  const dir = await tempDir(t, 'ptsfs-userns-');
  // Everything runs inside the new user and mount namespaces: the mount is
  // private to them and vanishes with them, whatever happens.
  const script = `
    set -e
    /usr/bin/env -u NODE_OPTIONS "$1" mount -o ptmxmode=666 --foreground "$2" 2>"$2.err" &
    for i in $(seq 100); do grep -q " $2 fuse.ptsfs " /proc/self/mounts && break; sleep 0.05; done
    echo "uid $(id -u) in $(readlink /proc/self/ns/user)"
    ${PYTHON} -c '
import fcntl, os, struct, sys
d = sys.argv[1]
m = os.open(d + "/ptmx", os.O_RDWR | os.O_NOCTTY)
n = struct.unpack("i", fcntl.ioctl(m, 0x80045430, bytes(4)))[0]
fcntl.ioctl(m, 0x40045431, struct.pack("i", 0))
s = os.open("%s/%d" % (d, n), os.O_RDWR | os.O_NOCTTY)
os.write(m, b"through a userns mount\\n")
print("index", n, "read", os.read(s, 100))
' "$2"
    "$1" umount "$2"
    wait
    echo "server exit $?"
  `;
  const r = await exec(t, 'unshare', ['-Urm', 'sh', '-c', script, 'sh', BIN, dir], { timeoutMs: 20_000, env: userEnv() });
  t.equal(r.code, 0, describe(r));
  t.match(r.stdout, /^uid 0 in user:/m, 'root inside its own user namespace');
  t.match(r.stdout, /index 0 read b'through a userns mount\\n'/, 'a pty allocated and used');
  t.match(r.stdout, /server exit 0/, 'the server unmounted and exited 0');
  t.notOk(await isMounted(dir), 'nothing mounted outside');
  fs.rmSync(`${dir}.err`, { force: true });
});
