// The host daemon through its CLI, as a shell script or a container runtime
// drives it: many mounts from a shell loop served by one process, `list`,
// `run`, `stop`, a SIGKILLed daemon's mounts cleaned by the next command,
// and bad input refused with one line. Each test has its own daemon socket.
import * as fs from 'fs';
import * as net from 'net';
import t from 'tap';
import { PYTHON } from '../pts/helpers';
import { describe, exec, Proc, userEnv } from '../pts/programs-helpers';
import { BIN, needs, privateDaemon, ptsfsMounts } from './helpers';
import { cuseUnavailable } from '../../src/fuse';

/** What entries=auto picks for a mount that is not nodev on this kernel. */
const ENTRIES_HERE = cuseUnavailable() ? 'file' : 'chr';

// Holds pty 0 of a mount as a session with a foreground job, as a shell in a
// container would: setsid, TIOCSCTTY, bytes both ways; then waits for stdin to close.
const HOLD = String.raw`
import os, sys, fcntl, termios, struct
d = sys.argv[1]
pid = os.fork()
if pid == 0:
    os.setsid()
    m = os.open(d + '/ptmx', os.O_RDWR | os.O_NOCTTY)
    fcntl.ioctl(m, 0x40045431, struct.pack('i', 0))  # TIOCSPTLCK
    n = struct.unpack('I', fcntl.ioctl(m, 0x80045430, b'\0' * 4))[0]
    s = os.open('%s/%d' % (d, n), os.O_RDWR)
    fcntl.ioctl(s, termios.TIOCSCTTY, 0)
    os.write(m, b'typed\n')
    os.read(s, 100)
    os.write(s, b'shown!!\n')
    os.read(m, 100)
    print('held %d %d' % (n, os.getpid()), flush=True)
    sys.stdin.read()
    os._exit(0)
sys.stdin.read()
os.waitpid(pid, 0)
`;

t.test('a shell loop makes 50 mounts served by one daemon; list --json shows them and their ptys; umount in a loop', needs, async (t) => {
  const d = await privateDaemon(t);
  const loop = `for i in $(seq 50); do mkdir -p ${d.dir}/m/$i; ${BIN} --socket ${d.socket} mount -o ptmxmode=666,mode=620,gid=5 ${d.dir}/m/$i || exit 1; done`;
  const r = await exec(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', 'sh', '-c', loop], { timeoutMs: 60_000, env: userEnv() });
  t.equal(r.code, 0, describe(r));
  t.equal((await ptsfsMounts(d.dir)).length, 50, '50 fuse.ptsfs mounts');
  const pid = await d.pid();
  const fuseFds = fs.readdirSync(`/proc/${pid}/fd`).filter((fd) => { try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === '/dev/fuse'; } catch { return false; } });
  t.equal(fuseFds.length, 50, 'one process holds every mount\'s /dev/fuse connection');

  const holder = new Proc(t, 'unshare', ['-p', '-f', '--kill-child', PYTHON, '-c', HOLD, `${d.dir}/m/7`], { openStdin: true });
  await new Promise<void>((resolve) => { const poll = setInterval(() => { if (holder.stdout.includes('held') || holder.exited) { clearInterval(poll); resolve(); } }, 20); });
  t.match(holder.stdout, /held 0 \d+/, holder.stderr);
  const l = await d.cli(['list', '--json']);
  t.equal(l.code, 0, describe(l));
  const list = JSON.parse(l.stdout) as { daemon: { pid: number }; mounts: { mountpoint: string; options: string; ptys: { index: number; uid: number; bytesIn: number; bytesOut: number; session: { host: number; container: number } | null; foreground: { command: string | null } | null }[] }[] };
  t.equal(list.daemon.pid, pid);
  t.equal(list.mounts.length, 50);
  const m7 = list.mounts.find((m) => m.mountpoint === `${d.dir}/m/7`);
  t.equal(m7?.options, `gid=5,mode=620,ptmxmode=666,entries=${ENTRIES_HERE}`, 'options as /proc/mounts shows a devpts mount\'s, and the entry mode auto chose');
  const pty = m7?.ptys[0];
  t.match(pty, { index: 0, uid: 0, bytesIn: 6, session: { container: 2 }, foreground: { command: 'python3' } }, 'index, owner, bytes, session in the container\'s numbering, foreground command');
  t.ok(pty && pty.bytesOut >= 8, `bytes shown: ${pty?.bytesOut}`);
  t.ok(pty?.session && pty.session.host !== pty.session.container, 'the host\'s pid differs from the container\'s');
  const table = await d.cli(['list']);
  t.match(table.stdout, /PTY\s+UID\s+SESSION\s+FG\s+COMMAND/, 'a table without --json');
  holder.endInput();
  await holder.done;

  const u = await exec(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', 'sh', '-c', `for i in $(seq 50); do ${BIN} --socket ${d.socket} umount ${d.dir}/m/$i || exit 1; done`], { timeoutMs: 60_000, env: userEnv() });
  t.equal(u.code, 0, describe(u));
  t.same(await ptsfsMounts(d.dir), [], 'nothing left mounted');
});

t.test('ptsfs run: a fresh /dev/pts, exit codes and signals passed through, unmounted afterwards', needs, async (t) => {
  const d = await privateDaemon(t);
  const tiocgptn = "import os, fcntl, struct; m = os.open('/dev/ptmx', os.O_RDWR); print('/dev/pts/%d' % struct.unpack('I', fcntl.ioctl(m, 0x80045430, bytes(4)))[0])";
  const probe = `ls /dev/pts; python3 -c "${tiocgptn}"; exit 3`;
  const r = await d.cli(['run', '--', 'sh', '-c', probe]);
  t.equal(r.code, 3, describe(r));
  t.match(r.stdout, /^ptmx\ntty\n\/dev\/pts\/0\n$/, 'a fresh namespace: only ptmx and tty, and the first pty is 0');
  const k = await d.cli(['run', '--', 'sh', '-c', 'kill -TERM $$']);
  t.equal(k.signal, 'SIGTERM', 'CMD killed by SIGTERM: ptsfs run dies of it too');
  const p = new Proc(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', BIN, '--socket', d.socket, 'run', '--', 'sleep', '30'], { env: userEnv() });
  await new Promise((res) => setTimeout(res, 1500));
  process.kill(p.pid, 'SIGTERM');
  const pr = await p.done;
  t.equal(pr.signal, 'SIGTERM', 'SIGTERM to ptsfs run reaches CMD, and ptsfs run ends with it');
  const onTty = await exec(t, 'script', ['-qec', `env -u NODE_OPTIONS ${BIN} --socket ${d.socket} run -- sh -c 'readlink /proc/self/fd/0; echo via-dev-tty >/dev/tty; exit 5'`, '/dev/null'], { env: userEnv(), timeoutMs: 20_000 });
  t.equal(onTty.code, 5, describe(onTty));
  t.match(onTty.stdout, /\/dev\/pts\/0\r?\n[\s\S]*via-dev-tty/, 'on a terminal CMD runs on pty 0 of its namespace, and /dev/tty is it');
  const l = await d.cli(['list', '--json']);
  t.same((JSON.parse(l.stdout) as { mounts: unknown[] }).mounts, [], 'every run mount is gone');
  t.same(await ptsfsMounts('/'), (await ptsfsMounts('/')).filter((m) => !m.startsWith(d.dir)), 'nothing of ours left mounted');
});

t.test('SIGKILL of the daemon: mounts are dead; the next mount cleans them and says so; SIGTERM unmounts all', needs, async (t) => {
  const d = await privateDaemon(t);
  for (const i of [1, 2]) {
    fs.mkdirSync(`${d.dir}/k${i}`);
    t.equal((await d.cli(['mount', `${d.dir}/k${i}`])).code, 0);
  }
  process.kill(await d.pid(), 'SIGKILL');
  await new Promise((res) => setTimeout(res, 300));
  t.throws(() => fs.readdirSync(`${d.dir}/k1`), { code: 'ENOTCONN' }, 'a dead mount answers ENOTCONN');
  fs.mkdirSync(`${d.dir}/k3`);
  const m = await d.cli(['mount', `${d.dir}/k3`]);
  t.equal(m.code, 0, describe(m));
  t.match(m.stderr, new RegExp(`cleaned ${d.dir}/k1[^\\n]*\\n[^\\n]*cleaned ${d.dir}/k2`), 'says what it cleaned');
  t.same(await ptsfsMounts(d.dir), [`${d.dir}/k3`], 'the dead mounts are gone, the new one serves');
  const pid = await d.pid();
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((res) => setTimeout(res, 50));
  t.notOk(fs.existsSync(`/proc/${pid}/status`) && !fs.readFileSync(`/proc/${pid}/status`, 'utf8').includes('zombie'), 'SIGTERM ends the daemon');
  t.same(await ptsfsMounts(d.dir), [], 'and unmounts everything');
});

t.test('bad input: one clear line on stderr, exit 1, nothing mounted', needs, async (t) => {
  const d = await privateDaemon(t);
  const cases: [string[], RegExp][] = [
    [['list'], /^ptsfs: no daemon running/],
    [['stop'], /^ptsfs: no daemon running/],
    [['mount', `${d.dir}/missing`], /^ptsfs: mount .*missing: no such directory\n$/],
    [['mount', '/etc/hostname'], /^ptsfs: mount \/etc\/hostname: not a directory\n$/],
    [['mount', '-o', 'bogus', d.dir], /^ptsfs: mount: unknown option "bogus"\n$/],
    [['umount', '/proc'], /^ptsfs: umount \/proc: not a ptsfs mount \(proc\)\n$/],
    [['umount', d.dir], /^ptsfs: umount .*: not mounted\n$/],
    [['run'], /^ptsfs: run: name a command/],
  ];
  for (const [args, expected] of cases) {
    const r = await d.cli(args);
    t.equal(r.code, 1, `ptsfs ${args.join(' ')}: exit 1`);
    t.match(r.stderr, expected, `ptsfs ${args.join(' ')}: ${r.stderr.trim()}`);
  }
  fs.mkdirSync(`${d.dir}/a`);
  t.equal((await d.cli(['mount', `${d.dir}/a`])).code, 0);
  const again = await d.cli(['mount', `${d.dir}/a`]);
  t.equal(again.code, 1);
  t.match(again.stderr, /^ptsfs: mount: .*\/a: already a ptsfs mount\n$/);
  const nobody = await exec(t, 'setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', '/usr/bin/env', '-u', 'NODE_OPTIONS', BIN, '--socket', d.socket, 'list'], { env: userEnv() });
  t.equal(nobody.code, 1);
  t.match(nobody.stderr, /^ptsfs: .*permission denied/, `another user: ${nobody.stderr.trim()}`);
  t.same(await ptsfsMounts(d.dir), [`${d.dir}/a`]);
});

/** Sends raw bytes to the control socket; resolves with what came back before it closed. */
function rawClient(socket: string, data: string | Buffer, hold = false): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    let got = '';
    s.on('data', (b) => { got += b.toString(); });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    s.on('connect', () => {
      s.write(data);
      if (!hold) s.end();
    });
  });
}

t.test('a client sending garbage, too much, or half a request does not hurt the daemon or other clients', needs, async (t) => {
  const d = await privateDaemon(t);
  fs.mkdirSync(`${d.dir}/a`);
  t.equal((await d.cli(['mount', `${d.dir}/a`])).code, 0);
  t.match(await rawClient(d.socket, 'not json\n'), /"ok":false,"error":"request is not JSON"/);
  t.match(await rawClient(d.socket, '{"op":"mount","mountpoint":"relative"}\n'), /an absolute path is needed/);
  t.match(await rawClient(d.socket, '{"op":"format-disk"}\n'), /unknown op/);
  t.match(await rawClient(d.socket, Buffer.alloc(1 << 20, 'x')), /request too large/);
  const idle = net.connect(d.socket); // says nothing and stays
  idle.on('error', () => undefined);
  t.teardown(() => idle.destroy());
  await rawClient(d.socket, '{"op":"mou'); // hangs up mid-request
  fs.mkdirSync(`${d.dir}/b`);
  const b = await d.cli(['mount', `${d.dir}/b`]);
  t.equal(b.code, 0, `still serving: ${describe(b)}`);
  t.equal((await d.cli(['list', '--json'])).code, 0);
  t.same((await ptsfsMounts(d.dir)).sort(), [`${d.dir}/a`, `${d.dir}/b`]);
});

t.test('mount -t fuse.ptsfs and umount DIR through the installed mount(8) helpers, fstab lines too', needs, async (t) => {
  const d = await privateDaemon(t);
  const sbin = fs.existsSync('/sbin/mount.fuse.ptsfs') ? undefined : '/sbin';
  if (!sbin) {
    t.plan(0, 'skipped: /sbin/mount.fuse.ptsfs exists already: not replacing it');
    return;
  }
  const inst = await d.cli(['install', '--dir', sbin]);
  t.equal(inst.code, 0, describe(inst));
  t.teardown(() => d.cli(['install', '--dir', sbin, '--remove']));
  fs.mkdirSync(`${d.dir}/h`);
  const env = { ...userEnv(), PTSFS_SOCKET: d.socket };
  const m = await exec(t, 'mount', ['-t', 'fuse.ptsfs', '-o', 'ptmxmode=666,mode=620,gid=5', 'ptsfs', `${d.dir}/h`], { env });
  t.equal(m.code, 0, describe(m));
  const l = JSON.parse((await d.cli(['list', '--json'])).stdout) as { mounts: { mountpoint: string; options: string }[] };
  t.same(l.mounts.map((x) => [x.mountpoint, x.options]), [[`${d.dir}/h`, `gid=5,mode=620,ptmxmode=666,entries=${ENTRIES_HERE}`]], 'served by the daemon');
  const u = await exec(t, 'umount', [`${d.dir}/h`], { env });
  t.equal(u.code, 0, describe(u));
  t.same(await ptsfsMounts(d.dir), []);
  fs.writeFileSync(`${d.dir}/fstab`, `ptsfs ${d.dir}/h fuse.ptsfs noauto,nofail,ptmxmode=666,mode=620,gid=5 0 0\n`);
  const f = await exec(t, 'mount', ['-T', `${d.dir}/fstab`, `${d.dir}/h`], { env });
  t.equal(f.code, 0, `an fstab line: ${describe(f)}`);
  t.same(await ptsfsMounts(d.dir), [`${d.dir}/h`]);
  t.equal((await exec(t, 'umount', [`${d.dir}/h`], { env })).code, 0);
});
