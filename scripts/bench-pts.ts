// `npm run bench`: a kernel devpts instance against a ptsfs mount, measured
// in the same run by the same C client (scripts/ptybench.c):
//   bulk throughput both ways (64 KiB writes, raw mode), 1-byte ping-pong
//   p50/p99 (write master, read slave, write slave, read master), ptmx
//   open+close rate, and the server's memory per open pty; plus the FUSE
//   null round trip (bench-fuse) as the floor.
// Needs root (it mounts) and cc.
import { execFile, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { mountNamespace, parseOptions } from '../src/pts';
import { measureNullRoundTrip } from './bench-fuse';

const run = promisify(execFile);

const THROUGHPUT_MB = Number(process.env.PTSFS_BENCH_MB ?? 200);
const PINGPONGS = Number(process.env.PTSFS_BENCH_PINGPONGS ?? 20000);
const OPEN_SECONDS = 2;
const HELD_PTYS = 500;

function compileClient(dir: string): string {
  const bin = path.join(dir, 'ptybench');
  execFileSync('cc', ['-O2', '-o', bin, path.join(__dirname, '..', '..', 'scripts', 'ptybench.c')]);
  return bin;
}

async function client(bin: string, args: string[], cpu?: number): Promise<number[]> {
  const cmd = cpu === undefined ? [bin, ...args] : ['taskset', '-c', String(cpu), bin, ...args];
  const { stdout } = await run(cmd[0]!, cmd.slice(1), { timeout: 300_000 });
  return stdout.trim().split(/\s+/).map(Number);
}

/** Pins this process (the ptsfs server) to one CPU, or unpins it. */
function pinSelf(cpus: string): void {
  execFileSync('taskset', ['-pc', cpus, String(process.pid)], { stdio: 'ignore' });
}

/**
 * Server memory per pty while a client holds `count` ptys open: the growth
 * of the JS heap and of Node's external memory (buffers, handles), after a
 * collection. RSS would also count pages the allocator keeps from earlier
 * benchmarks, so it is reported separately.
 */
async function memoryPerPty(bin: string, dir: string, count: number): Promise<{ heap: number; rss: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const sample = (): { heap: number; rss: number } => {
    gc();
    const m = process.memoryUsage();
    return { heap: m.heapUsed + m.external, rss: m.rss };
  };
  const before = sample();
  const holder = spawn(bin, [dir, 'hold', String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    holder.on('exit', (code) => reject(new Error(`hold exited ${code}`)));
  });
  const after = sample();
  holder.stdin.end();
  await new Promise((resolve) => holder.on('exit', resolve));
  return { heap: (after.heap - before.heap) / count, rss: (after.rss - before.rss) / count };
}

interface Row {
  readonly name: string;
  readonly native: number;
  readonly ptsfs: number;
  readonly unit: string;
  readonly target: string;
}

function table(rows: Row[]): string {
  const lines = ['| figure | native pty | ptsfs | ratio | target |', '|---|---|---|---|---|'];
  for (const r of rows) {
    const ratio = r.native > 0 ? (r.ptsfs / r.native).toFixed(2) : '-';
    lines.push(`| ${r.name} | ${r.native ? r.native.toFixed(1) : '-'} ${r.unit} | ${r.ptsfs.toFixed(1)} ${r.unit} | ${ratio} | ${r.target} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark mounts filesystems: run it as root');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ptsfs-bench-'));
  const nativeDir = path.join(base, 'devpts');
  const ptsfsDir = path.join(base, 'ptsfs');
  fs.mkdirSync(nativeDir);
  fs.mkdirSync(ptsfsDir);
  const bin = compileClient(base);
  execFileSync('mount', ['-t', 'devpts', '-o', 'newinstance,ptmxmode=666,mode=620', 'devpts', nativeDir]);
  const m = await mountNamespace(ptsfsDir, parseOptions('ptmxmode=666,mode=620'));
  try {
    const rows: Row[] = [];
    // Memory first, before the other runs have grown the heap and the allocator's pools.
    const mem = await memoryPerPty(bin, ptsfsDir, HELD_PTYS);
    rows.push({ name: `server JS heap + external per open pty (${HELD_PTYS} held)`, native: 0, ptsfs: mem.heap / 1024, unit: 'KiB', target: '<= 50 KB' });
    rows.push({ name: `server RSS growth per open pty (${HELD_PTYS} held)`, native: 0, ptsfs: mem.rss / 1024, unit: 'KiB', target: '<= 50 KB' });
    const both = async (args: string[], cpu?: number): Promise<[number[], number[]]> =>
      [await client(bin, [nativeDir, ...args], cpu), await client(bin, [ptsfsDir, ...args], cpu)];

    for (const dir of ['m2s', 's2m'] as const) {
      const [n, p] = await both(['throughput', String(THROUGHPUT_MB), dir]);
      rows.push({ name: `throughput ${dir === 'm2s' ? 'master to slave' : 'slave to master'}`, native: n[0]!, ptsfs: p[0]!, unit: 'MB/s', target: '>= 0.9x' });
    }
    {
      // raw but with ISIG: every master write is scanned for signal keys
      const [n, p] = await both(['throughput', String(THROUGHPUT_MB), 'm2s', 'isig']);
      rows.push({ name: 'throughput master to slave, ISIG on (key scan)', native: n[0]!, ptsfs: p[0]!, unit: 'MB/s', target: '>= 0.9x' });
    }
    const null1 = await measureNullRoundTrip({ pinned: false });
    const [n, p] = await both(['pingpong', String(PINGPONGS)]);
    rows.push({ name: 'ping-pong p50 (unpinned)', native: n[0]!, ptsfs: p[0]!, unit: 'us', target: `<= native + 5 x ${null1.p50.toFixed(1)} us` });
    rows.push({ name: 'ping-pong p99 (unpinned)', native: n[1]!, ptsfs: p[1]!, unit: 'us', target: '' });
    pinSelf('0');
    const null0 = await measureNullRoundTrip({ pinned: true });
    const [np, pp] = await both(['pingpong', String(PINGPONGS)], 0);
    pinSelf(`0-${os.cpus().length - 1}`);
    rows.push({ name: 'ping-pong p50 (one CPU)', native: np[0]!, ptsfs: pp[0]!, unit: 'us', target: `<= native + 5 x ${null0.p50.toFixed(1)} us` });
    rows.push({ name: 'ping-pong p99 (one CPU)', native: np[1]!, ptsfs: pp[1]!, unit: 'us', target: '' });
    const [no, po] = await both(['openclose', String(OPEN_SECONDS)]);
    rows.push({ name: 'ptmx open+close', native: no[0]!, ptsfs: po[0]!, unit: '/s', target: '>= 0.1x' });
    // Each a copy to or from the caller by the caller-memory helper process.
    const [nl, pl] = await both(['legacy', String(OPEN_SECONDS)]);
    rows.push({ name: 'legacy ioctls (TCGETS, TIOCSWINSZ)', native: nl[0]!, ptsfs: pl[0]!, unit: '/s', target: '' });

    console.log(table(rows));
    console.log(`\nFUSE null round trip: p50 ${null1.p50.toFixed(1)} us unpinned, ${null0.p50.toFixed(1)} us on one CPU`);
  } finally {
    await m.stop();
    execFileSync('umount', [nativeDir]);
    fs.rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
