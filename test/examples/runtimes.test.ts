// Real container runtimes on a ptsfs mount, wired as examples/ shows: runc
// and crun (OCI bundle with examples/oci/config-fragment.json merged and
// examples/oci/ptsfs-hook making and removing the mount), podman --rootfs and
// systemd-nspawn -D with a bind over /dev/pts.
//
// The mounts come from the ptsfs command (`ptsfs mount`, `ptsfs umount`), as
// a user's scripts make them; PTSFS_BIN names another binary (a development
// shim). That command serves the mounts in another process, so nothing here
// needs to stay asynchronous for the server's sake; clients still are child
// processes.
//
// The runc terminal scenario also runs on runc's own kernel devpts
// (`runc spec` unchanged) and the two are compared.
import t, { type Test as Tap } from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { PYTHON } from '../pts/helpers';
import {
  describe, exec, mountpoints, Proc, tempDir, type Ran, type TestLike, userEnv,
} from '../pts/programs-helpers';
import { forceUnmount } from '../cli/helpers';

const BIN = process.env['PTSFS_BIN'] ?? path.resolve(__dirname, '../../../bin/ptsfs');
const EXAMPLES = path.resolve(__dirname, '../../../examples');
const HOOK = path.join(EXAMPLES, 'oci/ptsfs-hook');
const FRAGMENT = path.join(EXAMPLES, 'oci/config-fragment.json');
const LXC_HOOK = path.join(EXAMPLES, 'lxc-mount-hook');
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const why = process.getuid?.() !== 0 ? 'needs root (mount, runtimes)' : !fs.existsSync('/dev/fuse') ? 'no /dev/fuse' : undefined;
if (why) t.comment(`skipping: ${why}`);

/** Which of `programs` are not in PATH (synchronous: decides skips before the tests start). */
function notInstalled(programs: readonly string[]): string[] {
  const dirs = (process.env['PATH'] ?? '/usr/bin:/bin').split(':').filter(Boolean);
  return programs.filter((p) => !dirs.some((d) => {
    try {
      fs.accessSync(path.join(d, p), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }));
}

/** tap options skipping a test that needs `programs` (and root, /dev/fuse), with the reason printed. */
function needs(...programs: string[]): { skip: string | false } {
  if (why) return { skip: why };
  const missing = notInstalled(programs);
  if (!missing.length) return { skip: false };
  const reason = `${missing.join(', ')} not installed`;
  t.comment(`skipping: ${reason}`);
  return { skip: reason };
}

// ---- the OCI config, as much of it as is edited here ----
interface OciMount { destination: string; type?: string; source?: string; options?: string[] }
interface OciHook { path: string; args?: string[]; env?: string[]; timeout?: number }
interface OciConfig {
  process: { terminal?: boolean; args: string[]; env?: string[] };
  root: { path: string; readonly?: boolean };
  mounts: OciMount[];
  hooks?: Record<string, OciHook[]>;
}
interface Fragment { mounts: OciMount[]; hooks: Record<string, OciHook[]> }

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** The environment the hook gets from the runtime (an OCI hook's env replaces, not extends). */
function hookEnv(base: string): string[] {
  return [PATH_ENV, `PTSFS=${BIN}`, `PTSFS_OCI_DIR=${base}`];
}

/**
 * config-fragment.json merged into a config as its comment says: the devpts
 * entry (and any /dev/tty, /dev/ptmx entry) replaced, hooks added, <id>
 * written; the mount base and the hook's path are this test's.
 */
function mergeFragment(c: OciConfig, id: string, base: string): void {
  const text = fs.readFileSync(FRAGMENT, 'utf8').replaceAll('/run/ptsfs/oci/<id>', path.join(base, id));
  const f = JSON.parse(text) as Fragment;
  const replaced = new Set(f.mounts.map((m) => m.destination).concat('/dev/ptmx'));
  c.mounts = c.mounts.filter((m) => !replaced.has(m.destination)).concat(f.mounts);
  c.hooks ??= {};
  for (const [stage, hooks] of Object.entries(f.hooks)) {
    c.hooks[stage] = (c.hooks[stage] ?? []).concat(hooks.map((h) => ({ ...h, path: HOOK, env: hookEnv(base) })));
  }
}

// ---- a tiny rootfs: static busybox and a static pty opener ----
const OPENPTY_C = String.raw`
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
/* openpty [EXIT]: opens /dev/ptmx, unlocks and opens its slave, says which pty it got, exits EXIT. */
int main(int argc, char **argv) {
  int m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
  if (m < 0) { perror("open /dev/ptmx"); return 100; }
  unsigned n;
  if (ioctl(m, TIOCGPTN, &n) < 0) { perror("TIOCGPTN"); return 101; }
  int unlock = 0;
  if (ioctl(m, TIOCSPTLCK, &unlock) < 0) { perror("TIOCSPTLCK"); return 102; }
  char name[64];
  snprintf(name, sizeof name, "/dev/pts/%u", n);
  int s = open(name, O_RDWR | O_NOCTTY);
  if (s < 0) { perror(name); return 103; }
  if (write(m, "hi\n", 3) != 3) { perror("write master"); return 104; }
  char buf[16] = {0};
  ssize_t r = read(s, buf, sizeof buf - 1);
  printf("pty %u %s read=%zd isatty=%d\n", n, name, r, isatty(s));
  return argc > 1 ? atoi(argv[1]) : 0;
}
`;

let rootfsMade: Promise<string> | undefined;

/** A rootfs shared by the tests of this file (removed at the end). */
function rootfs(): Promise<string> {
  rootfsMade ??= (async () => {
    const dir = await tempDir(t, 'ptsfs-rootfs-');
    for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'etc', 'run', 'var/tmp', 'usr/lib']) await fs.promises.mkdir(path.join(dir, d), { recursive: true });
    await fs.promises.copyFile('/bin/busybox', path.join(dir, 'bin/busybox'));
    await fs.promises.chmod(path.join(dir, 'bin/busybox'), 0o755);
    // mount .. touch: for lxc-mount-hook's start stage, which runs inside the container.
    for (const a of ['sh', 'ls', 'cat', 'stty', 'echo', 'sleep', 'test', 'true', 'mount', 'umount', 'rmdir', 'rm', 'ln', 'touch', 'mkdir', 'awk']) await fs.promises.symlink('busybox', path.join(dir, 'bin', a));
    // systemd-nspawn refuses a tree without /usr and wants an os-release; podman likes an /etc/passwd.
    await fs.promises.writeFile(path.join(dir, 'usr/lib/os-release'), 'ID=busybox\nNAME=busybox\n');
    await fs.promises.writeFile(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
    await fs.promises.writeFile(path.join(dir, 'etc/group'), 'root:x:0:\ntty:x:5:\n');
    const src = path.join(dir, 'tmp/openpty.c');
    await fs.promises.writeFile(src, OPENPTY_C);
    const cc = await exec(t, 'cc', ['-static', '-O1', '-Wall', '-Werror', '-o', path.join(dir, 'bin/openpty'), src], { timeoutMs: 60_000 });
    if (cc.code !== 0) throw new Error(`cc -static openpty.c: ${describe(cc)}`);
    await fs.promises.rm(src);
    await fs.promises.copyFile(LXC_HOOK, path.join(dir, 'bin/lxc-mount-hook'));
    await fs.promises.chmod(path.join(dir, 'bin/lxc-mount-hook'), 0o755);
    return dir;
  })();
  return rootfsMade;
}

// ---- mounts via the ptsfs command ----
function isPtsfsMount(dir: string): boolean {
  // field 5 is the mount point; the type follows " - "
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .some((l) => l.split(' ')[4] === dir && / - fuse\.ptsfs /.test(l));
}

function ptsfsRun(t: TestLike, args: string[]): Promise<Ran> {
  return exec(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', BIN, ...args], { env: userEnv(), timeoutMs: 15_000 });
}

/** Unmounts dir at teardown if something is still mounted there (ptsfs umount, then a detach). */
function unmountAtTeardown(t: TestLike, dir: string): void {
  t.teardown(async () => {
    if (isPtsfsMount(dir)) await ptsfsRun({ teardown: () => undefined }, ['umount', dir]).catch(() => undefined);
    forceUnmount(dir);
  });
}

/** `ptsfs mount -o OPTIONS DIR` on a fresh directory. */
async function ptsfsMount(t: TestLike, options: string): Promise<string> {
  const dir = await tempDir(t, 'ptsfs-rt-');
  unmountAtTeardown(t, dir);
  const r = await ptsfsRun(t, ['mount', '-o', options, dir]);
  if (r.code !== 0 || !isPtsfsMount(dir)) throw new Error(`ptsfs mount ${dir}: ${describe(r)}`);
  return dir;
}

let daemonProbe: Promise<string | undefined> | undefined;

/**
 * Why `ptsfs mount` (no --foreground: handed to the host daemon) cannot be
 * used here, or undefined. Checked once, with a mount that is taken away
 * again at once.
 */
function daemonMissing(): Promise<string | undefined> {
  daemonProbe ??= (async () => {
    const dir = await tempDir(t, 'ptsfs-rt-probe-');
    unmountAtTeardown(t, dir);
    const r = await ptsfsRun(t, ['mount', '-o', 'ptmxmode=666', dir]);
    if (r.code === 0 && isPtsfsMount(dir)) {
      await ptsfsRun(t, ['umount', dir]);
      return undefined;
    }
    return `\`${BIN} mount DIR\` does not work here (${r.stderr.trim() || `exit ${r.code}`}); set PTSFS_BIN to a ptsfs whose mount returns once the mount is live`;
  })();
  return daemonProbe;
}

/** Fails the rest of test `t` if `ptsfs mount` cannot be used: the recipes need it. */
async function skippedForDaemon(t: Tap): Promise<boolean> {
  const reason = await daemonMissing();
  if (reason === undefined) return false;
  t.fail(reason);
  return true;
}

// ---- OCI runtimes ----
type Runtime = 'runc' | 'crun';

/**
 * crun 1.8 refuses to make a container on a hybrid cgroup host whose cgroup2
 * hierarchy has any controller ("cgroups in hybrid mode not supported"), even
 * with --cgroup-manager=disabled. There it runs in a private mount namespace
 * without /sys/fs/cgroup/unified, which it then takes for cgroup v1 only.
 */
function crunHybrid(): boolean {
  try {
    return !fs.existsSync('/sys/fs/cgroup/cgroup.controllers')
      && fs.readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

function runtimeArgv(rt: Runtime, args: string[]): [string, string[]] {
  if (rt === 'crun' && crunHybrid()) return ['unshare', ['-m', 'sh', '-c', 'umount /sys/fs/cgroup/unified && exec "$@"', 'crun-hybrid', 'crun', ...args]];
  return [rt, args];
}

interface Bundle { dir: string; id: string; base: string; ptsDir: string | undefined }

/**
 * A bundle for `rt`: `runc spec` (or `crun spec`), the shared rootfs, args and
 * terminal set; with `ptsfs`, the fragment merged and the mount made by
 * `ptsfs-hook prepare` (under a temporary base instead of /run/ptsfs/oci).
 * Teardown deletes the container and unmounts.
 */
async function bundle(t: TestLike, rt: Runtime, name: string, opts: { terminal: boolean; args: string[]; ptsfs: boolean }): Promise<Bundle> {
  const dir = await tempDir(t, `ptsfs-bundle-${rt}-`);
  const base = await tempDir(t, 'ptsfs-oci-');
  const id = `ptsfs-${rt}-${name}-${process.pid}`;
  const spec = await exec(t, notInstalled(['runc']).length ? rt : 'runc', ['spec'], { cwd: dir });
  if (spec.code !== 0) throw new Error(`spec: ${describe(spec)}`);
  const c = readJson<OciConfig>(path.join(dir, 'config.json'));
  c.root = { path: await rootfs(), readonly: true };
  c.process.terminal = opts.terminal;
  c.process.args = opts.args;
  c.process.env = [PATH_ENV, 'TERM=xterm', 'PS1=[ctr]# ', 'HOME=/'];
  let ptsDir: string | undefined;
  if (opts.ptsfs) {
    mergeFragment(c, id, base);
    ptsDir = path.join(base, id);
    unmountAtTeardown(t, ptsDir);
    const r = await exec(t, HOOK, ['prepare', id], { env: { ...userEnv(), PTSFS: BIN, PTSFS_OCI_DIR: base }, timeoutMs: 15_000 });
    if (r.code !== 0 || !isPtsfsMount(ptsDir)) throw new Error(`ptsfs-hook prepare ${id}: ${describe(r)}`);
  }
  await fs.promises.writeFile(path.join(dir, 'config.json'), JSON.stringify(c, null, 2));
  // Registered last, so it runs first (teardowns run in reverse): the container goes before its mount.
  t.teardown(async () => {
    await exec({ teardown: () => undefined }, ...runtimeArgv(rt, ['delete', '-f', id]), { timeoutMs: 10_000 }).catch(() => undefined);
  });
  return { dir, id, base, ptsDir };
}

// The console-socket side of a terminal container: runs the runtime, gets
// the pty master from it on SOCK (SCM_RIGHTS) and relays it: master output to
// stdout; stdin lines "w BASE64" write to the master, "resize ROWS COLS" is
// TIOCSWINSZ on the master. Status lines on stderr, the last "exit N".
//
//   console.py SOCK PIDFILE RUN...            RUN's exit status is the container's (crun run)
//   console.py SOCK PIDFILE CREATE... -- START...
//       runc 1.1 refuses `run --console-socket` unless it detaches ("cannot use
//       console socket if runc will not detach or allocate tty"), so: create,
//       start, and, being a child subreaper, reap the container's init (whose
//       pid `create --pid-file` wrote) for its exit status.
const CONSOLE = String.raw`
import os, sys, socket, select, fcntl, struct, termios, base64, ctypes, subprocess
sock, pidfile, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
create, start = (rest[:rest.index('--')], rest[rest.index('--') + 1:]) if '--' in rest else (rest, None)
if start is not None:
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock)
srv.listen(1)
srv.settimeout(20)
rt = subprocess.Popen(create, stdin=subprocess.DEVNULL)
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
conn.close()
srv.close()
m = fds[0]
print('master', file=sys.stderr, flush=True)
if start is not None:
    if rt.wait() != 0:
        sys.exit('create failed')
    if subprocess.call(start, stdin=subprocess.DEVNULL) != 0:
        sys.exit('start failed')
buf = b''
while True:
    r, _, _ = select.select([m, 0], [], [])
    if m in r:
        try:
            d = os.read(m, 4096)
        except OSError:
            d = b''
        if not d:
            print('master closed', file=sys.stderr, flush=True)
            break
        sys.stdout.buffer.write(d)
        sys.stdout.buffer.flush()
    if 0 in r:
        d = os.read(0, 4096)
        if not d:
            break
        buf += d
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            op, _, arg = line.decode().partition(' ')
            if op == 'w':
                os.write(m, base64.b64decode(arg))
            elif op == 'resize':
                rows, cols = map(int, arg.split())
                fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
                print('resized', file=sys.stderr, flush=True)
if start is None:
    code = rt.wait()
else:
    _, status = os.waitpid(int(open(pidfile).read()), 0)
    code = os.waitstatus_to_exitcode(status)
    rt.wait()
print('exit %d' % code, file=sys.stderr, flush=True)
`;

/** What one interactive shell session showed. */
interface Session {
  /** The shell's first output was its banner and prompt. */
  prompt: boolean;
  /** All it wrote before the first command. */
  firstOutput: string;
  echo: string;
  lsPts: string[];
  hostEntries: string[] | undefined;
  mountType: string;
  sizeBefore: string;
  sizeAfter: string;
  testT: string;
  /** `ls -ln /dev/pts/0` as "TYPE PERMS UID GID". */
  entry0: string;
  code: number | null;
}

/** Runs `cmd` in the shell through the master and returns what it printed between markers. */
async function shell(con: Proc, n: number, cmd: string): Promise<string> {
  // The markers as typed ($((..))) differ from the markers as printed, so the echo of the line does not match.
  con.send(`w ${Buffer.from(`echo B$((${n}+0))B; ${cmd}; echo E$((${n}+0))E\n`).toString('base64')}\n`);
  const done = new RegExp(`B${n}B\\r\\n([^]*?)E${n}E\\r\\n`);
  await con.waitFor(done, 'stdout', 10_000);
  return done.exec(con.stdout)?.[1] ?? '';
}

/**
 * A "terminal": true container (crun: `run --console-socket`; runc:
 * `create --console-socket` + `start`, see CONSOLE) running an interactive sh
 * driven through the master: prompt, commands, `stty size` before and after
 * TIOCSWINSZ, then `exit 7`.
 */
async function interactive(t: TestLike, rt: Runtime, useFragment: boolean): Promise<Session> {
  const b = await bundle(t, rt, useFragment ? 'tty' : 'kernel', { terminal: true, args: ['sh'], ptsfs: useFragment });
  const sock = path.join(b.dir, 'console.sock');
  const pidFile = path.join(b.dir, 'init.pid');
  const argv = rt === 'runc'
    ? [...runtimeArgv(rt, ['create', '--bundle', b.dir, '--console-socket', sock, '--pid-file', pidFile, b.id]).flat(), '--', ...runtimeArgv(rt, ['start', b.id]).flat()]
    : runtimeArgv(rt, ['run', '--bundle', b.dir, '--console-socket', sock, b.id]).flat();
  const con = new Proc(t, PYTHON, ['-c', CONSOLE, sock, pidFile, ...argv], { openStdin: true, timeoutMs: 40_000, env: userEnv() });
  await con.waitFor('master', 'stderr');
  await con.waitFor('[ctr]# ');
  // busybox ash's banner, then the prompt, then a cursor position query (ESC [6n) that no one answers here.
  const firstOutput = con.stdout;
  const prompt = /BusyBox v[^]*built-in shell \(ash\)[^]*\[ctr\]# (\x1b\[6n)?$/.test(con.stdout);
  const echo = await shell(con, 1, 'echo hello-$((6*7))');
  const lsPts = (await shell(con, 2, 'ls /dev/pts')).split(/\s+/).filter(Boolean).sort();
  const hostEntries = b.ptsDir === undefined ? undefined : (await fs.promises.readdir(b.ptsDir)).sort();
  // Parsed here, not by the container's busybox sh: the fstype of the mount on /dev/pts.
  const mountinfo = await shell(con, 3, 'cat /proc/self/mountinfo');
  const ptsLine = mountinfo.split(/\r?\n/).filter((l) => l.split(' ')[4] === '/dev/pts').pop() ?? '';
  const mountType = ptsLine.split(' - ')[1]?.split(' ')[0] ?? `no /dev/pts line in: ${mountinfo.slice(0, 200)}`;
  const sizeBefore = (await shell(con, 4, 'stty size 2>&1')).trim();
  con.send('resize 40 100\n');
  await con.waitFor('resized', 'stderr');
  const sizeAfter = (await shell(con, 5, 'stty size 2>&1')).trim();
  const testT = (await shell(con, 6, 'test -t 0 && echo stdin-is-a-tty')).trim();
  const [mode = '', , uid = '', gid = ''] = (await shell(con, 7, 'ls -ln /dev/pts/0')).trim().split(/\s+/);
  const entry0 = `${mode.slice(0, 1)} ${mode.slice(1)} ${uid} ${gid}`;
  con.send(`w ${Buffer.from('exit 7\n').toString('base64')}\n`);
  await con.waitFor(/exit -?\d+\n/, 'stderr', 15_000);
  con.endInput();
  await con.exit(5_000);
  const code = Number(/exit (-?\d+)\n/.exec(con.stderr)?.[1]);
  if (rt === 'runc') {
    // create/start leave the stopped container for `runc delete`, which runs the poststop hook.
    const d = await exec(t, ...runtimeArgv(rt, ['delete', b.id]), { env: userEnv(), timeoutMs: 15_000 });
    if (d.code !== 0) throw new Error(`runc delete: ${describe(d)}`);
  }
  return { prompt, firstOutput, echo: echo.trim(), lsPts, hostEntries, mountType, sizeBefore, sizeAfter, testT, entry0, code };
}

for (const rt of ['runc', 'crun'] as const) {
  t.test(`${rt}: "terminal": true on a ptsfs mount (config-fragment.json, ptsfs-hook)`, needs(rt, 'unshare'), async (t) => {
    if (await skippedForDaemon(t)) return;
    const s = await interactive(t, rt, true);
    t.ok(s.prompt, `the shell's banner and prompt came through the master (${JSON.stringify(s.firstOutput)})`);
    t.equal(s.echo, 'hello-42', 'a command and its output');
    t.same(s.lsPts, ['0', 'ptmx', 'tty'], "the container's /dev/pts is the ptsfs mount, its console pty 0");
    t.same(s.hostEntries, ['0', 'ptmx', 'tty'], 'on the host the mount dir shows entry 0 while the container runs');
    t.equal(s.mountType, 'fuse.ptsfs', '/dev/pts is fuse.ptsfs in the container');
    // A new pty is 0x0, and busybox stty size then fails with "stty: standard input" (the kernel run below shows the same).
    t.equal(s.sizeBefore, 'stty: standard input', 'stty size before any TIOCSWINSZ: 0x0, which busybox stty refuses');
    t.equal(s.sizeAfter, '40 100', 'TIOCSWINSZ on the master is seen by stty size in the container');
    t.equal(s.testT, 'stdin-is-a-tty', 'test -t 0 (isatty: TCGETS) holds');
    t.equal(s.entry0, '- rw--w---- 0 5', 'the console pty: a regular file, mode=620,gid=5, owned by the container root');
    t.equal(s.code, 7, `${rt} exits with the shell's status 7`);

    if (rt === 'crun' && crunHybrid()) {
      // crun ran in its own mount namespace here: its poststop hook unmounted that namespace's copy only.
      t.comment('hybrid cgroups: crun ran in a private mount namespace; the host mount is removed by teardown');
    } else {
      const dirs = (await mountpoints()).filter((m) => m.includes(`ptsfs-${rt}-tty-${process.pid}`));
      t.same(dirs, [], 'the poststop hook unmounted the container\'s ptsfs mount');
    }

    // The same session on the runtime's own kernel devpts (`runc spec` as it is).
    const k = await interactive(t, rt, false);
    t.equal(k.code, s.code, 'kernel devpts: same exit status');
    t.equal(k.firstOutput, s.firstOutput, 'kernel devpts: the same banner and prompt, byte for byte');
    t.equal(k.echo, s.echo, 'kernel devpts: same command output');
    t.equal(k.sizeBefore, s.sizeBefore, 'kernel devpts: same initial size');
    t.equal(k.sizeAfter, s.sizeAfter, 'kernel devpts: same size after TIOCSWINSZ');
    t.equal(k.testT, s.testT, 'kernel devpts: same test -t');
    t.equal(k.mountType, 'devpts', 'the reference really was a kernel devpts');
    t.same(k.lsPts, ['0', 'ptmx'], 'kernel devpts lists 0 and ptmx');
    t.equal(k.entry0.slice(2), s.entry0.slice(2), 'kernel devpts: same permissions and owner of pty 0');
    t.equal(k.entry0.slice(0, 1), 'c', 'kernel devpts: pty 0 is a character device (ptsfs: a regular file, by design)');
    t.same(s.lsPts.filter((e) => e !== 'tty'), k.lsPts, 'ptsfs lists the same, plus its tty entry');
  });

  t.test(`${rt}: "terminal": false, stdio pipes, exit status passes through`, needs(rt, 'unshare'), async (t) => {
    if (await skippedForDaemon(t)) return;
    const b = await bundle(t, rt, 'pipe', { terminal: false, args: ['sh', '-c', 'ls /dev/pts; test -t 0 || echo no-tty; exit 3'], ptsfs: true });
    const r = await exec(t, ...runtimeArgv(rt, ['run', '--bundle', b.dir, b.id]), { env: userEnv(), timeoutMs: 30_000 });
    t.equal(r.code, 3, `exit status 3 (${describe(r)})`);
    t.equal(r.stdout, 'ptmx\ntty\nno-tty\n', 'the ptsfs mount, with no pty open, and stdin is not a tty');
  });
}

/** A pty for podman -t: util-linux script(1) runs the command on a host pty. */
function underScript(cmd: string[]): [string, string[]] {
  const quoted = cmd.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return ['script', ['-q', '-e', '-c', quoted, '/dev/null']];
}

t.test('podman run --rootfs -t with a ptsfs mount bound over /dev/pts', needs('podman', 'script', 'runc'), async (t) => {
  if (await skippedForDaemon(t)) return;
  const root = await rootfs();
  const dir = await ptsfsMount(t, 'ptmxmode=666,mode=620,gid=5');
  const name = `ptsfs-podman-${process.pid}`;
  t.teardown(() => exec({ teardown: () => undefined }, 'podman', ['rm', '-f', name], { timeoutMs: 20_000 }).catch(() => undefined));
  // --runtime runc: crun refuses hybrid cgroup hosts (see crunHybrid). cgroupfs manager and file events: no
  // systemd. --ulimit: podman raises RLIMIT_NOFILE/NPROC past this machine's hard limits, which runc may not.
  // See examples/podman.sh.
  const argv = ['podman', '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file',
    'run', '--rm', '--name', name, '-t', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
    '--mount', `type=bind,src=${dir},dst=/dev/pts`, '--mount', `type=bind,src=${dir}/tty,dst=/dev/tty`,
    '--rootfs', root, 'sh', '-c', 'ls /dev/pts; test -t 0 && echo stdin-is-a-tty; openpty 5'];
  const r = await exec(t, ...underScript(argv), { env: userEnv(), timeoutMs: 40_000 });
  t.equal(r.code, 5, `exit status 5 passes through podman (${describe(r)}; stdout: ${r.stdout})`);
  const lines = r.stdout.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  t.same(lines[0]?.split(/\s+/).sort(), ['0', 'ptmx', 'tty'], "the container's console is pty 0 of the ptsfs mount");
  t.equal(lines[1], 'stdin-is-a-tty');
  t.equal(lines[2], 'pty 1 /dev/pts/1 read=3 isatty=1', '/dev/ptmx in the container gives the next pty of the mount');
});

t.test('systemd-nspawn -D --bind=DIR:/dev/pts --pipe', needs('systemd-nspawn'), async (t) => {
  if (await skippedForDaemon(t)) return;
  const root = await rootfs();
  const dir = await ptsfsMount(t, 'ptmxmode=666,mode=620,gid=5');
  const r = await exec(t, 'systemd-nspawn', ['-q', '--register=no', '--keep-unit', '--pipe', '-D', root,
    `--bind=${dir}:/dev/pts`, `--bind=${dir}/tty:/dev/tty`, '--', '/bin/sh', '-c', 'ls -1 /dev/pts; openpty 4'], { env: userEnv(), timeoutMs: 30_000 });
  t.equal(r.code, 4, `exit status 4 passes through nspawn (${describe(r)})`);
  t.equal(r.stdout, 'ptmx\ntty\npty 0 /dev/pts/0 read=3 isatty=1\n', '/dev/ptmx in the container gives pty 0 of the ptsfs mount');
});

t.test('lxc-execute with examples/lxc-mount-hook', needs('lxc-execute'), async (t) => {
  if (await skippedForDaemon(t)) return;
  const root = await rootfs();
  const lxcpath = await tempDir(t, 'ptsfs-lxc-');
  const base = await tempDir(t, 'ptsfs-oci-lxc-');
  const name = `ptsfs-lxc-${process.pid}`;
  unmountAtTeardown(t, path.join(base, name));
  // The config lines lxc-mount-hook's comment gives; its start stage runs the copy in the rootfs.
  const config = path.join(lxcpath, 'config');
  await fs.promises.writeFile(config, [
    `lxc.uts.name = ${name}`,
    `lxc.rootfs.path = dir:${root}`,
    'lxc.net.0.type = empty',
    'lxc.mount.auto = proc:rw sys:ro',
    'lxc.autodev = 1',
    'lxc.pty.max = 0',
    'lxc.tty.max = 0',
    'lxc.console.path = none',
    'lxc.hook.version = 1',
    `lxc.hook.pre-start = ${LXC_HOOK}`,
    `lxc.hook.autodev = ${LXC_HOOK}`,
    'lxc.hook.start = /bin/lxc-mount-hook',
    `lxc.hook.post-stop = ${LXC_HOOK}`,
    '',
  ].join('\n'));
  const env = { ...userEnv(), PTSFS: BIN, PTSFS_LXC_DIR: base };
  const r = await exec(t, 'lxc-execute', ['-P', lxcpath, '-n', name, '-f', config, '--',
    '/bin/sh', '-c', 'ls -1 /dev/pts; ls -l /dev/ptmx; openpty 6'], { env, timeoutMs: 30_000 });
  t.equal(r.code, 6, `exit status 6 passes through lxc-execute (${describe(r)})`);
  t.match(r.stdout, /^ptmx\ntty\nl\S+ .* \/dev\/ptmx -> pts\/ptmx\npty 0 \/dev\/pts\/0 read=3 isatty=1\n$/,
    "/dev/pts is the ptsfs mount, /dev/ptmx points into it, and opening it gives pty 0");
  t.notOk(isPtsfsMount(path.join(base, name)), 'the post-stop hook unmounted it');
});

// The recipes use the host's daemon (/run/ptsfs), as a runtime would; one this file started is stopped at the end.
const daemonBefore = fs.existsSync('/run/ptsfs/ptsfs.sock');

t.test('nothing of ours is left mounted', { skip: why ?? false }, async (t) => {
  if (!daemonBefore) await ptsfsRun(t, ['stop']);
  // Runs last: the teardowns of the tests above have run by now.
  const left = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .filter((l) => / - fuse\.ptsfs /.test(l) && /\/ptsfs-(rt|oci)-/.test(l));
  t.same(left, [], 'no fuse.ptsfs mount of this file in /proc/self/mountinfo');
});
