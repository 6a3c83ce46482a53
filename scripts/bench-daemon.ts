// `npm run bench` (after bench-pts): the host daemon and its CLI, on a
// private socket (never the host's /run/ptsfs):
//   - mount and umount rates of `bin/ptsfs mount|umount` from a shell loop,
//     one at a time and 8 at a time (xargs -P 8), against the start of a bare
//     `node -e 0` (the floor of any client), and where one command's time goes;
//   - the daemon's VmRSS with no mounts, per idle mount (200) and per open
//     pty (1000 ptmx fds held by a python process, spread over those mounts);
//   - its idle CPU (utime+stime over 5 s) with those mounts and ptys open;
//   - aggregate relay throughput of 50 mounts busy at once (one pty each, 50
//     scripts/ptybench.c streams master to slave) against 50 ptys of a kernel
//     devpts instance, in the same run.
// Needs root (it mounts), cc and python3.
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DaemonConnection } from '../src/daemon';
import { MNT_DETACH, umount2 } from '../src/sys/libc';
import { readMountinfo } from '../src/sys/mountinfo';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'ptsfs');
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const RATE_MOUNTS = Number(process.env.PTSFS_BENCH_RATE_N ?? 50);
const PARALLEL = 8;
const IDLE_MOUNTS = Number(process.env.PTSFS_BENCH_IDLE_MOUNTS ?? 200);
const HELD_PTYS = Number(process.env.PTSFS_BENCH_HELD_PTYS ?? 1000);
const STREAMS = Number(process.env.PTSFS_BENCH_STREAMS ?? 50);
const STREAM_MB = Number(process.env.PTSFS_BENCH_STREAM_MB ?? 4);
const IDLE_SECONDS = 5;
const STARTS = 10;
/** Host ptys left free beyond kernel.pty.reserve, for everyone else. */
const PTY_MARGIN = 64;

// argv: count, then mount directories. Opens count ptmx fds round robin
// over the directories, prints {"ready": n}, waits for stdin to close.
const HOLDER = String.raw`
import os, sys, json, resource
n, dirs = int(sys.argv[1]), sys.argv[2:]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
fds = []
err = None
for i in range(n):
    try:
        fds.append(os.open(dirs[i % len(dirs)] + '/ptmx', os.O_RDWR | os.O_NOCTTY))
    except OSError as e:
        err = '%s after %d' % (os.strerror(e.errno), i)
        break
sys.stdout.write(json.dumps({'ready': len(fds), 'stopped': err}) + '\n'); sys.stdout.flush()
sys.stdin.read()
os._exit(0)
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

const children = new Set<ChildProcess>();

function startChild(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

function exited(c: ChildProcess): Promise<number> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.exitCode ?? -1);
  return new Promise((resolve) => c.on('exit', (code) => resolve(code ?? -1)));
}

/** Exit code once the child has ended and its stdout is drained ('exit' may come before the last data). */
function closed(c: ChildProcess): Promise<number> {
  return new Promise((resolve) => c.on('close', (code) => resolve(code ?? -1)));
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = exited(c);
  c.kill('SIGKILL');
  await gone;
}

/** Runs a shell script with S (socket), D (directory), B (bin/ptsfs), N set; ms of wall time. */
function shell(script: string, env: Record<string, string>): number {
  const t0 = now();
  execFileSync('bash', ['-c', script], { env: { ...process.env, ...env, NODE_OPTIONS: '' }, stdio: ['ignore', 'ignore', 'inherit'] });
  return now() - t0;
}

function ptsfs(socket: string, ...args: string[]): string {
  return execFileSync(BIN, ['--socket', socket, ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
}

function daemonPid(socket: string): number {
  const v = JSON.parse(ptsfs(socket, 'list', '--json')) as { daemon: { pid: number } };
  return v.daemon.pid;
}

function rssKiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
}

/** utime + stime of pid, all threads, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14 and 15 of proc(5); f[0] is field 3
  return Number(f[11]) + Number(f[12]);
}

/** The aggregate cpu line of /proc/stat: user nice system idle iowait irq softirq steal ... */
function cpuStat(): number[] {
  return fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
}

function readPtySys(name: string): number {
  return Number(fs.readFileSync(`/proc/sys/kernel/pty/${name}`, 'utf8').trim());
}

/** ms per run of argv, best of `runs` sequential runs' mean (one warm-up). */
function timeStart(argv: string[], runs: number, cwd = ROOT): number {
  execFileSync(argv[0]!, argv.slice(1), { cwd, stdio: 'ignore' });
  const t0 = now();
  for (let i = 0; i < runs; i++) execFileSync(argv[0]!, argv.slice(1), { cwd, stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } });
  return (now() - t0) / runs;
}

interface Row {
  readonly name: string;
  readonly native?: number;
  readonly ptsfs: number;
  readonly unit: string;
  readonly note: string;
}

function table(rows: Row[]): string {
  const lines = ['| figure | native pty | ptsfs | ratio | note |', '|---|---|---|---|---|'];
  const num = (n: number): string => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1));
  for (const r of rows) {
    const ratio = r.native ? (r.ptsfs / r.native).toFixed(2) : '-';
    lines.push(`| ${r.name} | ${r.native !== undefined ? `${num(r.native)} ${r.unit}` : '-'} | ${num(r.ptsfs)} ${r.unit} | ${ratio} | ${r.note} |`);
  }
  return lines.join('\n');
}

/** Runs `streams` ptybench throughput clients at once, one per directory; aggregate MB/s by wall time. */
async function relay(bench: string, dirs: string[], mb: number): Promise<{ aggregate: number; min: number; max: number }> {
  const t0 = now();
  const runs = dirs.map(async (dir) => {
    const c = startChild(bench, [dir, 'throughput', String(mb), 'm2s']);
    let out = '';
    c.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; });
    const code = await closed(c);
    if (code !== 0) throw new Error(`ptybench on ${dir} exited ${code}`);
    return Number(out.trim());
  });
  const each = await Promise.all(runs);
  const seconds = (now() - t0) / 1000;
  return { aggregate: (dirs.length * mb * 1048576) / 1e6 / seconds, min: Math.min(...each), max: Math.max(...each) };
}

/** Mounts under base still in the mount table, deepest first. */
function mountsUnder(base: string): string[] {
  return readMountinfo().map((m) => m.mountpoint).filter((p) => p.startsWith(`${base}/`)).reverse();
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark mounts filesystems: run it as root');
  const stat0 = cpuStat();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ptsfs-bench-'));
  const socket = path.join(base, 'ptsfs.sock');
  state.base = base;
  state.socket = socket;
  const rateDir = path.join(base, 'rate');
  const idleDir = path.join(base, 'idle');
  const nativeDir = path.join(base, 'devpts');
  for (const d of [rateDir, idleDir, nativeDir]) fs.mkdirSync(d);
  for (let i = 1; i <= RATE_MOUNTS; i++) fs.mkdirSync(path.join(rateDir, String(i)));
  for (let i = 1; i <= IDLE_MOUNTS; i++) fs.mkdirSync(path.join(idleDir, String(i)));
  const idleDirs = Array.from({ length: IDLE_MOUNTS }, (_, i) => path.join(idleDir, String(i + 1)));
  const bench = path.join(base, 'ptybench');
  execFileSync('cc', ['-O2', '-o', bench, path.join(ROOT, 'scripts', 'ptybench.c')]);

  const ptyMax = readPtySys('max');
  state.ptyMax = ptyMax;
  state.nativeDir = nativeDir;
  const rows: Row[] = [];
  const notes: string[] = [];
  const env = { S: socket, B: BIN, N: String(RATE_MOUNTS), P: String(PARALLEL), D: rateDir };
  try {
    // ---- 1. mount and umount rates through the CLI
    const floor = timeStart(['node', '-e', '0'], STARTS);
    const withYargs = timeStart(['node', '-e', "require('yargs')"], STARTS);
    const withCli = timeStart(['node', '-e', "require('./dist/src/cli/main.js')"], STARTS);
    // The first mount starts the daemon; a mount kept for the whole phase keeps it running.
    fs.mkdirSync(path.join(base, 'first'));
    const first = shell('"$B" --socket "$S" mount -o ptmxmode=666 "$D/../first"', env);
    const list = timeStart([BIN, '--socket', socket, 'list', '--json'], STARTS);
    const seqMount = shell('for i in $(seq "$N"); do "$B" --socket "$S" mount -o ptmxmode=666 "$D/$i"; done', env);
    const seqUmount = shell('for i in $(seq "$N"); do "$B" --socket "$S" umount "$D/$i"; done', env);
    const parMount = shell('seq "$N" | xargs -P "$P" -I{} "$B" --socket "$S" mount -o ptmxmode=666 "$D/{}"', env);
    const parUmount = shell('seq "$N" | xargs -P "$P" -I{} "$B" --socket "$S" umount "$D/{}"', env);
    // The daemon's own share: the same requests over one connection from this process.
    const c = await DaemonConnection.connect(socket);
    if (!c) throw new Error('the daemon does not answer');
    let inMount = 0;
    let inUmount = 0;
    try {
      for (let i = 1; i <= RATE_MOUNTS; i++) {
        const t0 = now();
        await c.request({ op: 'mount', mountpoint: path.join(rateDir, String(i)), options: 'ptmxmode=666', lease: false });
        inMount += now() - t0;
      }
      for (let i = 1; i <= RATE_MOUNTS; i++) {
        const t0 = now();
        await c.request({ op: 'umount', mountpoint: path.join(rateDir, String(i)) });
        inUmount += now() - t0;
      }
    } finally {
      c.close();
    }
    const t0 = now();
    ptsfs(socket, 'stop');
    const stop = now() - t0;
    const rate = (ms: number): number => RATE_MOUNTS / (ms / 1000);
    rows.push({ name: `ptsfs mount, shell loop, one at a time (${RATE_MOUNTS})`, ptsfs: rate(seqMount), unit: '/s', note: `${(seqMount / RATE_MOUNTS).toFixed(0)} ms each` });
    rows.push({ name: `ptsfs umount, shell loop, one at a time (${RATE_MOUNTS})`, ptsfs: rate(seqUmount), unit: '/s', note: `${(seqUmount / RATE_MOUNTS).toFixed(0)} ms each` });
    rows.push({ name: `ptsfs mount, ${PARALLEL} at a time (xargs -P ${PARALLEL})`, ptsfs: rate(parMount), unit: '/s', note: `${os.cpus().length} CPUs` });
    rows.push({ name: `ptsfs umount, ${PARALLEL} at a time (xargs -P ${PARALLEL})`, ptsfs: rate(parUmount), unit: '/s', note: '' });
    rows.push({ name: 'mount request alone (one connection, in-process client)', ptsfs: inMount / RATE_MOUNTS, unit: 'ms', note: 'the daemon\'s share of a mount' });
    rows.push({ name: 'umount request alone (one connection, in-process client)', ptsfs: inUmount / RATE_MOUNTS, unit: 'ms', note: 'the daemon\'s share of an umount' });
    rows.push({ name: 'bare `node -e 0` start (client floor)', ptsfs: floor, unit: 'ms', note: `${(1000 / floor).toFixed(1)} starts/s` });
    rows.push({ name: '`node -e "require(\'yargs\')"`', ptsfs: withYargs, unit: 'ms', note: `yargs load ${(withYargs - floor).toFixed(0)} ms` });
    rows.push({ name: '`node -e "require(cli/main.js)"` (all CLI modules, no command)', ptsfs: withCli, unit: 'ms', note: `module load ${(withCli - floor).toFixed(0)} ms over the floor` });
    rows.push({ name: '`ptsfs list --json`', ptsfs: list, unit: 'ms', note: '' });
    rows.push({ name: 'first `ptsfs mount` (starts the daemon)', ptsfs: first, unit: 'ms', note: '' });
    rows.push({ name: '`ptsfs stop` (1 mount)', ptsfs: stop, unit: 'ms', note: '' });

    // ---- 2. memory and idle CPU of a fresh daemon
    const room = ptyMax - readPtySys('reserve') - readPtySys('nr') - PTY_MARGIN;
    const needed = HELD_PTYS + 2 * STREAMS;
    if (room < needed) {
      fs.writeFileSync('/proc/sys/kernel/pty/max', String(ptyMax + needed - room));
      state.ptyMaxRaised = true;
      notes.push(`kernel.pty.max raised from ${ptyMax} to ${ptyMax + needed - room} for the run (restored)`);
    }
    // A daemon with no mounts: start it through a mount, then unmount that.
    shell('"$B" --socket "$S" mount -o ptmxmode=666 "$D/../first" && "$B" --socket "$S" umount "$D/../first"', env);
    const pid = daemonPid(socket);
    await sleep(1000);
    const rss0 = rssKiB(pid);
    const conn = await DaemonConnection.connect(socket);
    if (!conn) throw new Error('the daemon does not answer');
    try {
      for (const dir of idleDirs) await conn.request({ op: 'mount', mountpoint: dir, options: 'ptmxmode=666', lease: false });
    } finally {
      conn.close();
    }
    await sleep(1000);
    const rssMounts = rssKiB(pid);
    const holder = startChild(PYTHON, ['-c', HOLDER, String(HELD_PTYS), ...idleDirs]);
    const ready = await new Promise<{ ready: number; stopped: string | null }>((resolve, reject) => {
      let text = '';
      holder.stdout!.setEncoding('utf8').on('data', (s: string) => {
        text += s;
        if (text.includes('\n')) resolve(JSON.parse(text) as { ready: number; stopped: string | null });
      });
      holder.on('exit', (code) => reject(new Error(`holder exited ${code}: ${text}`)));
    });
    if (ready.stopped) notes.push(`the pty holder stopped at ${ready.ready}: ${ready.stopped}`);
    await sleep(1000);
    const rssPtys = rssKiB(pid);
    const open = (JSON.parse(ptsfs(socket, 'list', '--json')) as { mounts: { ptys: unknown[] }[] }).mounts.reduce((n, m) => n + m.ptys.length, 0);
    const ticks0 = cpuTicks(pid);
    await sleep(IDLE_SECONDS * 1000);
    const ticks = cpuTicks(pid) - ticks0;
    holder.stdin!.end();
    await exited(holder);
    rows.push({ name: 'daemon VmRSS, no mounts', ptsfs: rss0 / 1024, unit: 'MB', note: '' });
    rows.push({ name: `daemon VmRSS, ${IDLE_MOUNTS} idle mounts`, ptsfs: rssMounts / 1024, unit: 'MB', note: '' });
    rows.push({ name: 'daemon RSS per idle mount', ptsfs: (rssMounts - rss0) / IDLE_MOUNTS, unit: 'KiB', note: `(delta)/${IDLE_MOUNTS}` });
    rows.push({ name: `daemon VmRSS, ${ready.ready} open ptys over the ${IDLE_MOUNTS} mounts`, ptsfs: rssPtys / 1024, unit: 'MB', note: `list --json shows ${open} ptys` });
    rows.push({ name: 'daemon RSS per open pty', ptsfs: (rssPtys - rssMounts) / Math.max(1, ready.ready), unit: 'KiB', note: `(delta)/${ready.ready}; ptmx fds only, never unlocked` });
    rows.push({ name: `daemon idle CPU, ${IDLE_MOUNTS} mounts + ${ready.ready} ptys, ${IDLE_SECONDS} s`, ptsfs: ticks, unit: 'ticks', note: `utime+stime, ${(ticks * 10 / IDLE_SECONDS).toFixed(1)} ms/s at 100 Hz` });

    // ---- 3. relay: 50 mounts busy at once, against 50 native ptys
    execFileSync('mount', ['-t', 'devpts', '-o', 'newinstance,ptmxmode=666,mode=620', 'devpts', nativeDir]);
    state.nativeMounted = true;
    const streams = Math.min(STREAMS, IDLE_MOUNTS);
    const singleMb = 5 * STREAM_MB;
    const single = { native: (await relay(bench, [nativeDir], singleMb)).aggregate, ptsfs: (await relay(bench, idleDirs.slice(0, 1), singleMb)).aggregate };
    const native = await relay(bench, Array.from({ length: streams }, () => nativeDir), STREAM_MB);
    const cpu0 = cpuTicks(pid);
    const onPtsfs = await relay(bench, idleDirs.slice(0, streams), STREAM_MB);
    const relayTicks = cpuTicks(pid) - cpu0;
    rows.push({ name: 'relay, one stream alone, master to slave', native: single.native, ptsfs: single.ptsfs, unit: 'MB/s', note: `${singleMb} MiB; for scale` });
    rows.push({ name: `relay, ${streams} streams at once, master to slave, aggregate`, native: native.aggregate, ptsfs: onPtsfs.aggregate, unit: 'MB/s',
      note: `${STREAM_MB} MiB each; ptsfs: one pty on each of ${streams} mounts (${IDLE_MOUNTS - streams} more idle), native: ${streams} ptys of one devpts instance` });
    rows.push({ name: 'relay, slowest stream', native: native.min, ptsfs: onPtsfs.min, unit: 'MB/s', note: `fastest: native ${native.max.toFixed(1)}, ptsfs ${onPtsfs.max.toFixed(1)}` });
    rows.push({ name: 'daemon CPU during the ptsfs relay', ptsfs: relayTicks, unit: 'ticks', note: `${(relayTicks / 100 / ((streams * STREAM_MB * 1048576) / 1e6 / onPtsfs.aggregate)).toFixed(2)} CPUs busy` });

    const stat = cpuStat().map((v, i) => v - stat0[i]!);
    notes.push(`CPU steal during the run: ${((100 * (stat[7] ?? 0)) / stat.reduce((a, b) => a + b, 0)).toFixed(1)}% of all CPU time (on a shared VM every figure here is noisy)`);
    console.log(table(rows));
    for (const n of notes) console.log(`\n${n}`);
  } finally {
    for (const ch of [...children]) await stopChild(ch);
    cleanup();
  }
}

interface Cleanup {
  base?: string;
  socket?: string;
  nativeDir?: string;
  nativeMounted?: boolean;
  ptyMax?: number;
  ptyMaxRaised?: boolean;
}
/** What the run has set up, for cleanup() to undo: also from a signal handler, so all synchronous. */
const state: Cleanup = {};

function cleanup(): void {
  for (const ch of [...children]) ch.kill('SIGKILL');
  const { base, socket } = state;
  // Any daemon on the private socket is ours (the first mount started it).
  if (socket && fs.existsSync(socket)) {
    let pid: number | undefined;
    try {
      pid = daemonPid(socket);
    } catch {
      // no daemon answers there (any more)
    }
    if (pid !== undefined) {
      try {
        ptsfs(socket, 'stop');
      } catch (err) {
        console.error(`ptsfs stop failed (${String(err)}); killing the daemon ${pid}`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }
  if (state.nativeMounted && state.nativeDir) {
    execFileSync('umount', [state.nativeDir]);
    state.nativeMounted = false;
  }
  if (base) {
    for (const dir of mountsUnder(base)) {
      console.error(`left mounted, detaching: ${dir}`);
      try {
        umount2(dir, MNT_DETACH);
      } catch {
        // gone meanwhile
      }
    }
  }
  if (state.ptyMaxRaised && state.ptyMax !== undefined) {
    fs.writeFileSync('/proc/sys/kernel/pty/max', String(state.ptyMax));
    state.ptyMaxRaised = false;
  }
  // A mount still there must not be emptied: remove only with nothing mounted below.
  if (base && fs.existsSync(base)) {
    if (mountsUnder(base).length === 0) fs.rmSync(base, { recursive: true, force: true });
    else console.error(`${base} kept: mounts remain below it`);
  }
}

/** Ctrl-C or a timeout(1): undo everything before going. */
function onSignal(): void {
  cleanup();
  process.exit(130);
}
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
