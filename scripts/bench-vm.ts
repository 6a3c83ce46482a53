// `npm run bench:vm`: scripts/bench-pts.ts under a Debian kernel in qemu
// (test/vm/vm.ts), where the kernel has CUSE, so that one run measures a
// native pty, entries=file and entries=chr side by side. Under TCG
// (software emulation) only the ratios mean something; the sizes are cut
// so the run stays within a few minutes. Skips, saying why, where no VM
// can run.
import * as path from 'path';
import { runInVm, vmUnavailable } from '../test/vm/vm';

const ROOT = path.resolve(__dirname, '../..');
const GUEST_MS = 900_000;

// Emulated, a 64 KiB write costs what a megabyte does natively. Numbers
// only: the host's environment becomes guest shell text.
const size = (name: string, fallback: number): number => Math.floor(Number(process.env[name] ?? fallback)) || fallback;
const script = `cd ${ROOT}
export HOME=/root PTSFS_BENCH_MB=${size('PTSFS_BENCH_MB', 20)} \\
  PTSFS_BENCH_PINGPONGS=${size('PTSFS_BENCH_PINGPONGS', 2000)} PTSFS_BENCH_HELD=${size('PTSFS_BENCH_HELD', 200)}
exec node --expose-gc dist/scripts/bench-pts.js
`;

async function main(): Promise<void> {
  const why = await vmUnavailable();
  if (why) {
    console.log(`bench:vm skipped: ${why}`);
    return;
  }
  const r = await runInVm(script, { timeoutMs: GUEST_MS });
  console.log(`In a VM (${r.accel}, kernel with CUSE; ${Math.round(r.wallMs / 1000)} s):\n`);
  console.log(r.output.trimEnd());
  if (r.code !== 0) throw new Error(`the benchmark exited ${r.code} in the guest`);
}

main().catch((err: unknown) => {
  console.error(`bench:vm failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
