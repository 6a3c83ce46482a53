// `npm run bench`: a kernel devpts instance against ptsfs mounts, measured
// in the same run by the same C client (scripts/ptybench.c):
//   bulk throughput both ways (64 KiB writes, raw mode), 1-byte ping-pong
//   p50/p99 (write master, read slave, write slave, read master), ptmx
//   open+close rate, and the server's memory per open pty; plus the FUSE
//   null round trip (bench-fuse) as the floor.
// One ptsfs column per entry mode this kernel can have: entries=file
// always, entries=chr (CUSE devices) where the kernel has CUSE; elsewhere
// scripts/bench-vm.ts runs this same benchmark under a kernel that has it.
// Needs root (it mounts) and cc.
import { execFile, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { cuseUnavailable } from '../src/fuse';
import { mountNamespace, parseOptions, type PtsMount } from '../src/pts';
import { measureNullRoundTrip } from './bench-fuse';

const run = promisify(execFile);

const THROUGHPUT_MB = Number(process.env.PTSFS_BENCH_MB ?? 200);
const PINGPONGS = Number(process.env.PTSFS_BENCH_PINGPONGS ?? 20000);
const OPEN_SECONDS = Number(process.env.PTSFS_BENCH_SECONDS ?? 2);
const HELD_PTYS = Number(process.env.PTSFS_BENCH_HELD ?? 500);

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

/** A directory the client measures: the kernel's devpts or a ptsfs mount. */
interface Subject {
  readonly name: 'native pty' | 'entries=file' | 'entries=chr';
  readonly dir: string;
}

interface Row {
  readonly name: string;
  /** One value per subject, in the subjects' order; undefined: not measured there. */
  readonly values: readonly (number | undefined)[];
  readonly unit: string;
  readonly target: string;
}

/** A markdown table: each ptsfs column followed by its ratio to the native one. */
function table(subjects: readonly Subject[], rows: readonly Row[]): string {
  const head = ['figure', ...subjects.flatMap((s, i) => (i === 0 ? [s.name] : [s.name, 'ratio'])), 'target'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const native = r.values[0];
    const cells = subjects.flatMap((_, i) => {
      const v = r.values[i];
      const shown = v === undefined ? '-' : `${v.toFixed(1)} ${r.unit}`;
      if (i === 0) return [shown];
      return [shown, v !== undefined && native ? (v / native).toFixed(2) : '-'];
    });
    lines.push(`| ${[r.name, ...cells, r.target].join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark mounts filesystems: run it as root');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ptsfs-bench-'));
  const bin = compileClient(base);
  const noChr = cuseUnavailable();
  const subjects: Subject[] = [{ name: 'native pty', dir: path.join(base, 'devpts') }, { name: 'entries=file', dir: path.join(base, 'file') }];
  if (!noChr) subjects.push({ name: 'entries=chr', dir: path.join(base, 'chr') });
  for (const s of subjects) fs.mkdirSync(s.dir);
  const mounts: PtsMount[] = [];
  let devpts = false;
  try {
    execFileSync('mount', ['-t', 'devpts', '-o', 'newinstance,ptmxmode=666,mode=620', 'devpts', subjects[0]!.dir]);
    devpts = true;
    for (const s of subjects.slice(1)) {
      const entries = s.name === 'entries=chr' ? 'chr' : 'file';
      mounts.push(await mountNamespace(s.dir, parseOptions(`ptmxmode=666,mode=620,entries=${entries}`)));
    }
    const rows: Row[] = [];
    // Memory first, before the other runs have grown the heap and the allocator's pools.
    const mem: ({ heap: number; rss: number } | undefined)[] = [undefined];
    for (const s of subjects.slice(1)) mem.push(await memoryPerPty(bin, s.dir, HELD_PTYS));
    rows.push({ name: `server JS heap + external per open pty (${HELD_PTYS} held)`, values: mem.map((m) => m && m.heap / 1024), unit: 'KiB', target: '<= 50 KB' });
    rows.push({ name: `server RSS growth per open pty (${HELD_PTYS} held)`, values: mem.map((m) => m && m.rss / 1024), unit: 'KiB', target: '<= 50 KB' });
    // The same client run on every subject in turn, so they share the machine's state.
    const each = async (args: string[], cpu?: number): Promise<number[][]> => {
      const out: number[][] = [];
      for (const s of subjects) out.push(await client(bin, [s.dir, ...args], cpu));
      return out;
    };
    const column = (results: number[][], i: number): number[] => results.map((r) => r[i]!);

    for (const dir of ['m2s', 's2m'] as const) {
      const r = await each(['throughput', String(THROUGHPUT_MB), dir]);
      rows.push({ name: `throughput ${dir === 'm2s' ? 'master to slave' : 'slave to master'}`, values: column(r, 0), unit: 'MB/s', target: '>= 0.9x' });
    }
    {
      // raw but with ISIG: every master write is scanned for signal keys
      const r = await each(['throughput', String(THROUGHPUT_MB), 'm2s', 'isig']);
      rows.push({ name: 'throughput master to slave, ISIG on (key scan)', values: column(r, 0), unit: 'MB/s', target: '>= 0.9x' });
    }
    const null1 = await measureNullRoundTrip({ pinned: false });
    const pp = await each(['pingpong', String(PINGPONGS)]);
    rows.push({ name: 'ping-pong p50 (unpinned)', values: column(pp, 0), unit: 'us', target: `<= native + 5 x ${null1.p50.toFixed(1)} us` });
    rows.push({ name: 'ping-pong p99 (unpinned)', values: column(pp, 1), unit: 'us', target: '' });
    pinSelf('0');
    const null0 = await measureNullRoundTrip({ pinned: true });
    const pp0 = await each(['pingpong', String(PINGPONGS)], 0);
    pinSelf(`0-${os.cpus().length - 1}`);
    rows.push({ name: 'ping-pong p50 (one CPU)', values: column(pp0, 0), unit: 'us', target: `<= native + 5 x ${null0.p50.toFixed(1)} us` });
    rows.push({ name: 'ping-pong p99 (one CPU)', values: column(pp0, 1), unit: 'us', target: '' });
    const oc = await each(['openclose', String(OPEN_SECONDS)]);
    rows.push({ name: 'ptmx open+close', values: column(oc, 0), unit: '/s', target: '>= 0.1x' });
    // entries=file: each a copy to or from the caller by the caller-memory
    // helper process; entries=chr: the kernel copies (CUSE ioctl retry).
    const legacy = await each(['legacy', String(OPEN_SECONDS)]);
    rows.push({ name: 'legacy ioctls (TCGETS, TIOCSWINSZ)', values: column(legacy, 0), unit: '/s', target: '' });

    console.log(table(subjects, rows));
    console.log(`\nFUSE null round trip: p50 ${null1.p50.toFixed(1)} us unpinned, ${null0.p50.toFixed(1)} us on one CPU`);
    if (noChr) console.log(`entries=chr not measured: ${noChr} (npm run bench:vm measures it under a kernel that has CUSE)`);
  } finally {
    for (const m of mounts) await m.stop();
    if (devpts) execFileSync('umount', [subjects[0]!.dir]);
    fs.rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
