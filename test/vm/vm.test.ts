// The VM harness (vm.ts) boots a Debian kernel that has CUSE, runs scripts
// in the host's own userland, and hands back their output and exit code; a
// raw CUSE server (cuse-echo.c, compiled here with the host's gcc and run in
// the guest through the shared root) makes a character device there.
//
// Each boot takes several seconds under TCG, so the CUSE checks share one.
// Everything skips, saying why, where vmUnavailable() gives a reason.
import t, { type Test as Tap } from 'tap';
import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { runInVm, vmKernel, vmUnavailable } from './vm';

const execFileP = promisify(execFile);
const CUSE_ECHO_SRC = path.resolve(__dirname, '../../../test/vm/cuse-echo.c');

// The whole file: a kernel download on first use, then three boots.
t.setTimeout(600_000);

/** True when a VM can run; otherwise marks `t` skipped with the reason (printed). */
async function haveVm(t: Tap): Promise<boolean> {
  const why = await vmUnavailable();
  if (!why) return true;
  t.comment(`skipping: ${why}`);
  t.plan(0, why);
  return false;
}

t.test('the exit code and the output come back, kernel noise kept out', async (t) => {
  if (!(await haveVm(t))) return;
  const r = await runInVm('echo out\necho err >&2\nprintf "tail \\r"\nexit 7\n');
  t.equal(r.code, 7, 'exit 7 in the guest is code 7');
  t.equal(r.output, 'out\nerr\ntail \r', 'stdout and stderr as written, \\r kept, nothing added');
  t.comment(`${r.accel}: boot-to-script ${Math.round(r.bootMs)} ms (guest uptime ${r.guestUptimeMs} ms), whole run ${Math.round(r.wallMs)} ms`);
});

/** Compiles cuse-echo.c into a temp dir under / (the guest sees it at the same path). */
async function buildCuseEcho(t: Tap): Promise<string | undefined> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptsfs-cuse-echo-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'cuse-echo');
  try {
    await execFileP('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, CUSE_ECHO_SRC]);
    return bin;
  } catch (e) {
    const why = `cannot build cuse-echo with gcc: ${(e as Error).message}`;
    t.comment(`skipping: ${why}`);
    t.plan(0, why);
    return undefined;
  }
}

/** The guest's side: facts printed as "key value" lines for the host to check. */
const cuseScript = (bin: string): string => `set -eu
echo "release $(uname -r)"
echo "cuse-module $(grep -c '^cuse ' /proc/modules)"
echo "cuse-node $(stat -c '%F %t:%T' /dev/cuse)"
${bin} 240 7 ptsfs-echo >/tmp/srv.log 2>&1 &
i=0
until [ -c /dev/ptsfs-echo ]; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "no device"; cat /tmp/srv.log; exit 1; }; sleep 0.1
done
echo "dev $(stat -c '%F %t:%T' /dev/ptsfs-echo)"
echo "class $(ls /sys/class/cuse)"
printf 'hello through cuse' >/dev/ptsfs-echo
python3 -c 'import fcntl, os, struct, termios
fd = os.open("/dev/ptsfs-echo", os.O_RDONLY)
print("fionread", struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, bytes(4)))[0])'
echo "read $(cat /dev/ptsfs-echo)"
echo "again [$(cat /dev/ptsfs-echo)]"
kill $!
`;

function facts(output: string): Map<string, string> {
  return new Map(output.split('\n').filter(Boolean).map((l) => {
    const sp = l.indexOf(' ');
    return sp < 0 ? [l, ''] : [l.slice(0, sp), l.slice(sp + 1)];
  }));
}

t.test('Debian kernel with CUSE: a raw CUSE server makes a char device that round-trips data', async (t) => {
  if (!(await haveVm(t))) return;
  const bin = await buildCuseEcho(t);
  if (!bin) return;
  const r = await runInVm(cuseScript(bin));
  t.equal(r.code, 0, `the guest script succeeded\n${r.output}`);
  const f = facts(r.output);
  t.equal(f.get('release'), (await vmKernel()).release, 'uname -r is the Debian kernel');
  t.equal(f.get('cuse-module'), '1', 'cuse is a loaded module');
  // MISC_MAJOR 10 (include/uapi/linux/major.h), CUSE_MINOR 203 (include/linux/miscdevice.h); stat prints hex.
  t.equal(f.get('cuse-node'), 'character special file a:cb', '/dev/cuse is char 10:203');
  t.equal(f.get('dev'), 'character special file f0:7', '/dev/ptsfs-echo is char 240:7, as CUSE_INIT asked');
  t.equal(f.get('class'), 'ptsfs-echo', 'listed in /sys/class/cuse');
  t.equal(f.get('fionread'), '18', 'FIONREAD through the unrestricted-ioctl retry counts what waits');
  t.equal(f.get('read'), 'hello through cuse', 'a write then a read round-trips through the server');
  t.equal(f.get('again'), '[]', 'then EOF: the server handed it all back');
});

/** qemu processes on the machine: comm is "qemu-system-x86" (truncated to 15 bytes by the kernel). */
function qemuCount(): number {
  try {
    return Number(execFileSync('pgrep', ['-c', '-x', 'qemu-system-x86'], { encoding: 'utf8' }).trim());
  } catch {
    return 0; // pgrep exits 1 when none match
  }
}

const scratchDirs = (): string[] => fs.readdirSync(os.tmpdir()).filter((e) => e.startsWith('ptsfs-vm-'));

t.test('a timeout kills qemu and leaves no temp files', async (t) => {
  if (!(await haveVm(t))) return;
  const [qemus, dirs] = [qemuCount(), scratchDirs().length];
  await t.rejects(runInVm('sleep 600\n', { timeoutMs: 3000 }), /timed out after 3000 ms/);
  t.equal(qemuCount(), qemus, 'no qemu left running');
  t.equal(scratchDirs().length, dirs, 'its temp dir is gone');
});
