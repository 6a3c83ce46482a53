// Running a shell script under a Debian kernel in qemu, for the tests that
// need kernel features the host kernel lacks (CUSE: this host has no
// CONFIG_CUSE). The guest runs the HOST's userland: qemu exports the host's /
// read-only over virtio-9p, the guest puts a tmpfs overlay on it and chroots
// in, so node, python3, the built project, sshd, screen ... are all there
// without copying anything into an image. See image.ts for the kernel and
// the initramfs, VM-NOTES.md for the packages and timings.
//
// What the guest sees: the host's files as they were at boot (writes stay in
// the guest's tmpfs and vanish with it), its own fresh /proc, /sys, /dev
// (devtmpfs, devpts, shm) and /run, the modules of image.ts MODULES loaded.
import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CACHE_ROOT, ensureInitramfs, ensureKernel, findBusybox, kernelPackage, marker, ROOT_TAG, type Kernel,
} from './image';

export { CACHE_ROOT, type Kernel } from './image';

const QEMU = 'qemu-system-x86_64';

export interface VmOptions {
  /** SIGKILL qemu after this long, boot included (default 180 s: a TCG boot takes several seconds). */
  readonly timeoutMs?: number;
  /** Guest memory; the guest's writes live in it too (default 2048). */
  readonly memMb?: number;
}

export interface VmResult {
  /** The script's exit status in the guest. */
  readonly code: number;
  /** The script's stdout and stderr, interleaved as written, without kernel messages. */
  readonly output: string;
  /** The serial console: kernel messages and init's own complaints, for diagnosis. */
  readonly console: string;
  /** Host wall time from starting qemu to the script's start (boot-to-script), ms. */
  readonly bootMs: number;
  /** The guest kernel's uptime at the script's start, ms (excludes firmware and kernel decompression). */
  readonly guestUptimeMs: number;
  /** Host wall time of the whole run, qemu start to exit, ms. */
  readonly wallMs: number;
  readonly accel: Accel;
}

type Accel = 'kvm' | 'tcg';

// ---- can it run here ----

let unavailable: Promise<string | undefined> | undefined;

/** Why no VM can be run on this machine (tests print it and skip), or undefined when one can. */
export function vmUnavailable(): Promise<string | undefined> {
  unavailable ??= whyUnavailable();
  return unavailable;
}

async function whyUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs x86-64 Linux, this is ${process.platform}/${process.arch}`;
  if (!onPath(QEMU)) return `${QEMU} not installed (apt-get install qemu-system-x86)`;
  if (!findBusybox()) return 'no static busybox (apt-get install busybox-static)';
  try {
    await ensureInitramfs(await vmKernel());
    return undefined;
  } catch (e) {
    return `no Debian kernel for the VM: ${(e as Error).message}`;
  }
}

function onPath(prog: string): boolean {
  return (process.env['PATH'] ?? '/usr/bin:/bin').split(':').some((d) => {
    try {
      fs.accessSync(path.join(d, prog), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

let kernel: Promise<Kernel> | undefined;

/** The guest kernel (fetched and unpacked into CACHE_ROOT on first use). */
export function vmKernel(): Promise<Kernel> {
  kernel ??= kernelPackage().then(ensureKernel);
  return kernel;
}

// ---- running a script ----

/** Runs `script` with /bin/sh as root in a fresh guest; resolves with its exit code and output. */
export async function runInVm(script: string, opts: VmOptions = {}): Promise<VmResult> {
  const reason = await vmUnavailable();
  if (reason) throw new Error(`no VM: ${reason}`);
  return boot(await vmKernel(), script, await chooseAccel(), opts);
}

/** One qemu run: a temp dir holds the script and the two serial logs, and goes with the run. */
async function boot(k: Kernel, script: string, accel: Accel, opts: VmOptions): Promise<VmResult> {
  const dir = fs.mkdtempSync(path.join(scratchBase(), 'ptsfs-vm-'));
  try {
    const scriptFile = path.join(dir, 'script.sh');
    fs.writeFileSync(scriptFile, script, { mode: 0o755 });
    const token = randomBytes(8).toString('hex');
    const run = { dir, token, scriptFile, accel, initrd: await ensureInitramfs(k) };
    const times = await runQemu(qemuArgs(k, run, opts.memMb ?? 2048), opts.timeoutMs ?? 180_000, dir, token);
    return { ...parseOutput(dir, token), ...times, console: readLog(dir, 'console'), accel };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A host directory the guest sees at the same path. os.tmpdir() unless it is
 * under a tree the guest mounts afresh (/run, /dev, /proc, /sys: $TMPDIR in
 * /run/user), where the script would be hidden.
 */
function scratchBase(): string {
  const tmp = os.tmpdir();
  const hidden = ['/run', '/dev', '/proc', '/sys'].some((p) => tmp === p || tmp.startsWith(`${p}/`));
  return hidden ? '/tmp' : tmp;
}

interface Run {
  readonly dir: string;
  readonly token: string;
  readonly scriptFile: string;
  readonly accel: Accel;
  readonly initrd: string;
}

function qemuArgs(k: Kernel, r: Run, memMb: number): string[] {
  const append = ['console=ttyS0', 'rdinit=/init', 'quiet', 'panic=-1', `ptsfs.token=${r.token}`, `ptsfs.script=${r.scriptFile}`];
  return [
    '-accel', r.accel,
    // -cpu host under KVM; under TCG 'max' emulates every feature it can, so
    // host binaries built for newer CPUs than qemu64 still run.
    '-cpu', r.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(Math.min(2, os.cpus().length)), '-m', String(memMb),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-serial', `file:${path.join(r.dir, 'console')}`, // ttyS0: kernel and init
    '-serial', `file:${path.join(r.dir, 'output')}`, // ttyS1: the script
    '-kernel', k.vmlinuz, '-initrd', r.initrd, '-append', append.join(' '),
    // multidevs=remap: / spans several host filesystems, whose inode numbers would collide in one 9p export.
    '-virtfs', `local,path=/,mount_tag=${ROOT_TAG},security_model=none,readonly=on,multidevs=remap`,
  ];
}

// ---- the qemu process ----

/** qemu processes alive now, killed if this process exits first (a test timeout, an uncaught error). */
const live = new Set<number>();
process.on('exit', () => live.forEach((pid) => { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }));

interface QemuTimes {
  /** Start to exit. */
  readonly wallMs: number;
  /** Start to the BEGIN marker on ttyS1, or NaN if it never came. */
  readonly bootMs: number;
}

/** How often the script's serial log is looked at for the BEGIN marker (only to time the boot). */
const BOOT_POLL_MS = 25;

/**
 * Runs qemu to its exit, SIGKILLing it after `timeoutMs`. setpriv
 * --pdeathsig makes the kernel kill qemu if this process dies without
 * running its exit handlers (SIGKILL from tap's timeout).
 */
function runQemu(args: readonly string[], timeoutMs: number, dir: string, token: string): Promise<QemuTimes> {
  const [cmd, argv] = onPath('setpriv') ? ['setpriv', ['--pdeathsig', 'KILL', '--', QEMU, ...args]] : [QEMU, [...args]];
  const started = performance.now();
  const begun = watchForBegin(dir, token, started);
  return new Promise<QemuTimes>((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    if (p.pid !== undefined) live.add(p.pid);
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, timeoutMs);
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (p.pid !== undefined) live.delete(p.pid);
      if (timedOut) return reject(new Error(`VM timed out after ${timeoutMs} ms${consoleTail(dir)}`));
      if (code !== 0) return reject(new Error(`${QEMU} exited ${code ?? signal}: ${stderr.trim()}${consoleTail(dir)}`));
      resolve({ wallMs: performance.now() - started, bootMs: begun.ms() });
    });
  }).finally(() => begun.stop());
}

/** Notes when the BEGIN marker shows in the script's log, polling until it does or `stop()`. */
function watchForBegin(dir: string, token: string, started: number): { ms(): number; stop(): void } {
  let at = NaN;
  const look = (): void => {
    if (Number.isNaN(at) && readLog(dir, 'output').includes(marker(token, 'BEGIN'))) at = performance.now() - started;
  };
  const timer = setInterval(look, BOOT_POLL_MS);
  return { ms: () => (look(), at), stop: () => clearInterval(timer) };
}

function readLog(dir: string, name: 'console' | 'output'): string {
  try {
    return fs.readFileSync(path.join(dir, name), 'latin1').replace(/\r\n/g, '\n');
  } catch {
    return '';
  }
}

function consoleTail(dir: string): string {
  const lines = readLog(dir, 'console').trimEnd().split('\n').slice(-15).join('\n');
  return lines ? `; console:\n${lines}` : '';
}

/** The script's output between the markers init wrote on ttyS1, with its exit code and start time. */
function parseOutput(dir: string, token: string): { code: number; output: string; guestUptimeMs: number } {
  const text = fs.readFileSync(path.join(dir, 'output')).toString('utf8');
  const begin = new RegExp(`^${marker(token, 'BEGIN')} ([\\d.]+)\\n`, 'm').exec(text);
  // init writes "\n" before the exit marker so it starts a line; that "\n" is not the script's.
  const exit = new RegExp(`\\n${marker(token, 'EXIT')} (\\d+)\\n`).exec(text);
  if (!begin || !exit) throw new Error(`the guest did not finish the script${consoleTail(dir)}`);
  return {
    code: Number(exit[1]),
    output: text.slice(begin.index + begin[0].length, exit.index),
    guestUptimeMs: Math.round(Number(begin[1]) * 1000),
  };
}

// ---- KVM or TCG ----

let accel: Promise<Accel> | undefined;

/**
 * KVM when it really runs a guest, else TCG. /dev/kvm opening is not enough:
 * under nested virtualisation it can open and then abort (-cpu host) or hang
 * in the kernel's early boot, so the probe boots a guest running `true`.
 * The answer is kept in CACHE_ROOT per host kernel; $PTSFS_VM_ACCEL forces one.
 */
function chooseAccel(): Promise<Accel> {
  accel ??= probeAccel();
  return accel;
}

const KVM_PROBE_MS = 30_000;

async function probeAccel(): Promise<Accel> {
  const forced = process.env['PTSFS_VM_ACCEL'];
  if (forced === 'kvm' || forced === 'tcg') return forced;
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    return 'tcg';
  }
  const memo = path.join(CACHE_ROOT, `accel-${os.release()}`);
  const known = fs.existsSync(memo) ? fs.readFileSync(memo, 'utf8').trim() : '';
  if (known === 'kvm' || known === 'tcg') return known;
  const works = await boot(await vmKernel(), 'true\n', 'kvm', { timeoutMs: KVM_PROBE_MS, memMb: 256 }).then((r) => r.code === 0, () => false);
  const chosen: Accel = works ? 'kvm' : 'tcg';
  fs.writeFileSync(memo, `${chosen}\n`);
  return chosen;
}
