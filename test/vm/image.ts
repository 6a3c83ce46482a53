// The pieces a harness VM boots from (see vm.ts): a Debian kernel package
// unpacked into a per-machine cache, and a small busybox initramfs that loads
// that kernel's modules and hands over to the host's own root filesystem.
//
// Why a Debian kernel: the host kernel here has no CONFIG_CUSE, Debian's
// builds have it as a module (shared/DESIGN.md, "CUSE under qemu").
// Why the cache lives outside the git tree: the package is ~70 MB and the
// same for every checkout on a machine; CI clones afresh each run.
import { execFile, spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import * as zlib from 'zlib';

const execFileP = promisify(execFile);

/** Where unpacked kernels and their initramfs images are kept between runs. */
export const CACHE_ROOT = process.env['PTSFS_VM_CACHE'] ?? '/var/cache/ptsfs-vm';

/** The metapackage whose dependency names the current kernel of the host's Debian release. */
const KERNEL_METAPACKAGE = 'linux-image-amd64';

/**
 * The modules the initramfs loads (with what they depend on), in this order:
 * virtio-pci and 9p over virtio to reach the host's root, overlay to make it
 * writable, fuse and cuse for the tests. Any of them may be built in.
 */
export const MODULES: readonly string[] = ['virtio_pci', '9pnet_virtio', '9p', 'overlay', 'fuse', 'cuse'];

/** The 9p mount tag the host's / is exported under (qemu -virtfs mount_tag). */
export const ROOT_TAG = 'hostroot';

/** An unpacked kernel package. */
export interface Kernel {
  /** The package, e.g. linux-image-6.1.0-57-amd64. */
  readonly pkg: string;
  /** `uname -r` of that kernel: the directory under lib/modules. */
  readonly release: string;
  /** The cache directory holding boot/ and lib/ of the package. */
  readonly dir: string;
  readonly vmlinuz: string;
}

/** Runs a program to completion; its stdout, or an Error naming it with its stderr. */
export async function run(cmd: string, args: readonly string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { cwd, maxBuffer: 64 << 20, encoding: 'utf8' });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

// ---- which kernel ----

/** The kernel package to use: $PTSFS_VM_KERNEL, else what linux-image-amd64 depends on. */
export async function kernelPackage(): Promise<string> {
  const forced = process.env['PTSFS_VM_KERNEL'];
  if (forced) return forced.startsWith('linux-image-') ? forced : `linux-image-${forced}`;
  const out = await run('apt-cache', ['depends', KERNEL_METAPACKAGE]).catch(() => '');
  const dep = /Depends: (linux-image-\d\S*)/.exec(out)?.[1];
  if (dep) return dep;
  // No apt lists (apt-get update never ran): a kernel unpacked earlier still serves.
  const cached = cachedPackages();
  if (cached.length) return cached[cached.length - 1]!;
  throw new Error(`apt-cache knows no ${KERNEL_METAPACKAGE} (run apt-get update) and ${CACHE_ROOT} holds no kernel`);
}

function cachedPackages(): string[] {
  const entries = fs.existsSync(CACHE_ROOT) ? fs.readdirSync(CACHE_ROOT) : [];
  return entries.filter((e) => e.startsWith('linux-image-') && fs.existsSync(path.join(CACHE_ROOT, e, 'ready'))).sort();
}

// ---- fetching and unpacking it ----

/** The unpacked kernel `pkg`, downloaded and unpacked into the cache on first use. */
export async function ensureKernel(pkg: string): Promise<Kernel> {
  const dir = path.join(CACHE_ROOT, pkg);
  if (!fs.existsSync(path.join(dir, 'ready'))) await unpackKernel(pkg, dir);
  return describeKernel(pkg, dir);
}

function describeKernel(pkg: string, dir: string): Kernel {
  const releases = fs.readdirSync(path.join(dir, 'lib/modules'));
  if (releases.length !== 1) throw new Error(`${dir}/lib/modules: expected one kernel, found ${releases.join(', ')}`);
  const release = releases[0]!;
  return { pkg, release, dir, vmlinuz: path.join(dir, 'boot', `vmlinuz-${release}`) };
}

/** apt-get download + dpkg -x into a temp dir beside `dir`, renamed into place when complete. */
async function unpackKernel(pkg: string, dir: string): Promise<void> {
  fs.mkdirSync(CACHE_ROOT, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(CACHE_ROOT, '.unpack-'));
  try {
    // The _apt sandbox user could not write into a root-owned temp dir; we are root anyway.
    await run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', pkg], tmp);
    const deb = fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
    await run('dpkg', ['-x', path.join(tmp, deb), tmp]);
    fs.rmSync(path.join(tmp, deb));
    await ensureModulesDep(describeKernel(pkg, tmp));
    fs.writeFileSync(path.join(tmp, 'ready'), `${pkg}\n`);
    publish(tmp, dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Renames a finished temp dir into place; another process may have won the race, which is fine. */
function publish(tmp: string, dir: string): void {
  try {
    fs.renameSync(tmp, dir);
  } catch (e) {
    if (!fs.existsSync(path.join(dir, 'ready'))) throw e;
  }
}

/** The package ships no modules.dep (its postinst runs depmod): make one with busybox depmod. */
async function ensureModulesDep(k: Kernel): Promise<void> {
  if (fs.existsSync(path.join(k.dir, 'lib/modules', k.release, 'modules.dep'))) return;
  await run(busybox(), ['depmod', '-b', k.dir, k.release]);
}

// ---- busybox ----

/** PT_INTERP, the program header naming a dynamic loader (<elf.h>). */
const PT_INTERP = 3;

/** The static busybox (Debian's busybox-static), or undefined: a dynamic one cannot run in the initramfs. */
export function findBusybox(): string | undefined {
  return ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p) && isStaticElf(p));
}

function busybox(): string {
  const b = findBusybox();
  if (!b) throw new Error('no static busybox (apt-get install busybox-static)');
  return b;
}

/** True when the ELF64 file has no PT_INTERP program header (field offsets from <elf.h> Elf64_Ehdr/Phdr). */
function isStaticElf(file: string): boolean {
  const elf = fs.readFileSync(file);
  const phoff = Number(elf.readBigUInt64LE(0x20)); // e_phoff
  const phentsize = elf.readUInt16LE(0x36); // e_phentsize
  const phnum = elf.readUInt16LE(0x38); // e_phnum
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === PT_INTERP) return false; // p_type
  }
  return true;
}

// ---- modules ----

/** Module name as the kernel compares them: '-' and '_' are the same. */
const modName = (file: string): string => path.basename(file).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_');

/** The .ko paths (relative to lib/modules/RELEASE) to insmod for `wanted`, dependencies first. */
export function moduleLoadOrder(k: Kernel, wanted: readonly string[]): string[] {
  const base = path.join(k.dir, 'lib/modules', k.release);
  const deps = parseModulesDep(fs.readFileSync(path.join(base, 'modules.dep'), 'utf8'));
  const builtin = new Set(fs.readFileSync(path.join(base, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map(modName));
  const order: string[] = [];
  const visit = (name: string): void => {
    const entry = deps.get(name);
    if (!entry) {
      if (builtin.has(name)) return;
      throw new Error(`kernel ${k.release} has no module ${name}`);
    }
    if (order.includes(entry.file)) return;
    entry.deps.forEach((d) => visit(modName(d)));
    order.push(entry.file);
  };
  wanted.forEach((w) => visit(w.replace(/-/g, '_')));
  return order;
}

function parseModulesDep(text: string): Map<string, { file: string; deps: string[] }> {
  const map = new Map<string, { file: string; deps: string[] }>();
  for (const line of text.split('\n')) {
    const [file, rest] = line.split(':');
    if (file && rest !== undefined) map.set(modName(file), { file, deps: rest.split(' ').filter(Boolean) });
  }
  return map;
}

/** A module's plain ELF bytes: busybox insmod takes no compressed modules, so .xz/.zst/.gz are undone here. */
async function moduleBytes(file: string): Promise<Buffer> {
  if (file.endsWith('.ko')) return fs.readFileSync(file);
  if (file.endsWith('.ko.gz')) return zlib.gunzipSync(fs.readFileSync(file));
  const tool = file.endsWith('.ko.xz') ? 'xz' : file.endsWith('.ko.zst') ? 'zstd' : undefined;
  if (!tool) throw new Error(`${file}: unknown module compression`);
  return decompressWith(tool, file);
}

function decompressWith(tool: string, file: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn(tool, ['-dc', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.on('error', (e) => reject(new Error(`${tool} (needed for ${file}): ${e.message}`)));
    p.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${tool} -dc ${file} exited ${code}`))));
  });
}

// ---- the initramfs ----

/** The markers init writes on the script's serial line, around the script's output. */
export const marker = (token: string, what: 'BEGIN' | 'EXIT'): string => `@@ptsfs-vm ${token} ${what}`;

/**
 * PID 1 of the initramfs. The kernel command line carries ptsfs.script= (the
 * host path of the script, seen through the shared root) and ptsfs.token=
 * (a per-run word in the markers, so a script cannot fake them). Kernel
 * noise goes to ttyS0; the script's stdout and stderr alone to ttyS1.
 */
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
fail() { echo "ptsfs-vm init: $*"; poweroff -f; }
arg() { tr ' ' '\\n' </proc/cmdline | sed -n "s/^ptsfs\\.$1=//p"; }
while read -r m; do insmod "/lib/modules/$m" || fail "insmod $m"; done </modules
# The host's / read-only (cache=loose: it does not change under a test), a
# tmpfs on top so that the guest can write anywhere and the host sees nothing.
mkdir -p /mnt/host /mnt/rw /newroot
mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose ${ROOT_TAG} /mnt/host || fail "9p mount"
mount -t tmpfs -o mode=0755 rw /mnt/rw && mkdir /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /newroot || fail "overlay mount"
# A booted system's own /proc, /sys, /dev, /run, not the host's.
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
mount -t tmpfs -o mode=0755 run /newroot/run
token=$(arg token)
script=$(arg script)
# Held open for the whole run: raw (no \\n to \\r\\n) stays set, and the last
# close below waits for the UART to drain before the power goes.
exec 3<>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo
echo "${marker('$token', 'BEGIN')} $(cut -d' ' -f1 /proc/uptime)" >&3
chroot /newroot /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
  HOME=/root TERM=dumb LANG=C.UTF-8 /bin/sh "$script" </dev/null >&3 2>&3 3>&-
rc=$?
kill -9 -1 2>/dev/null
printf '\\n%s %s\\n' "${marker('$token', 'EXIT')}" "$rc" >&3
exec 3>&-
poweroff -f
`;

/** The initramfs for `k`, built once per kernel and init text and kept in the kernel's cache dir. */
export async function ensureInitramfs(k: Kernel): Promise<string> {
  const bb = busybox();
  const modules = moduleLoadOrder(k, MODULES);
  const key = createHash('sha256').update(INIT).update(modules.join('\n')).update(String(fs.statSync(bb).size)).digest('hex');
  const file = path.join(k.dir, `initrd-${key.slice(0, 16)}.gz`);
  if (fs.existsSync(file)) return file;
  const stage = fs.mkdtempSync(path.join(k.dir, '.initrd-'));
  try {
    await stageInitramfs(stage, k, bb, modules);
    const tmp = `${stage}.gz`;
    fs.writeFileSync(tmp, zlib.gzipSync(await cpioNewc(stage, bb)));
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
  return file;
}

async function stageInitramfs(stage: string, k: Kernel, bb: string, modules: readonly string[]): Promise<void> {
  for (const d of ['bin', 'dev', 'proc', 'sys', 'lib/modules']) fs.mkdirSync(path.join(stage, d), { recursive: true });
  fs.copyFileSync(bb, path.join(stage, 'bin/busybox'));
  fs.chmodSync(path.join(stage, 'bin/busybox'), 0o755);
  const names: string[] = [];
  for (const m of modules) {
    const name = `${modName(m)}.ko`;
    fs.writeFileSync(path.join(stage, 'lib/modules', name), await moduleBytes(path.join(k.dir, 'lib/modules', k.release, m)));
    names.push(name);
  }
  fs.writeFileSync(path.join(stage, 'modules'), names.map((n) => `${n}\n`).join(''));
  fs.writeFileSync(path.join(stage, 'init'), INIT, { mode: 0o755 });
}

/** The staged tree as a newc cpio archive (what the kernel unpacks as initramfs), by busybox cpio. */
function cpioNewc(stage: string, bb: string): Promise<Buffer> {
  const files = listTree(stage, '.');
  return new Promise((resolve, reject) => {
    const p = spawn(bb, ['cpio', '-o', '-H', 'newc'], { cwd: stage, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`busybox cpio: ${stderr}`))));
    p.stdin.end(files.join('\n') + '\n');
  });
}

function listTree(root: string, rel: string): string[] {
  const out = [rel];
  const abs = path.join(root, rel);
  if (fs.lstatSync(abs).isDirectory()) {
    for (const e of fs.readdirSync(abs).sort()) out.push(...listTree(root, path.join(rel, e)));
  }
  return out;
}
