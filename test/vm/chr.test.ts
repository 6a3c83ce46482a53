// The entries=chr suite, run where the kernel has CUSE: one boot of the
// Debian kernel (vm.ts) runs, with PTSFS_TEST_ENTRIES=chr, the programs and
// job-control suites that run on the host with file entries, and
// guest/chr.guest.ts (sshd, screen, expect, who, sudo, cat, grep, sed, tty
// against a kernel devpts; host hygiene; nodev; the device cap; the CLI).
// Every guest failure comes back as a failure here, named.
//
// Skips, saying why, where vmUnavailable() gives a reason.
import t from 'tap';
import * as path from 'path';
import { runInVm, vmUnavailable } from './vm';
import { tapFailures } from './tap-failures';

const ROOT = path.resolve(__dirname, '../../..');
const GUEST_FILES = ['dist/test/pts/programs.test.js', 'dist/test/pts/terminal.test.js', 'dist/test/vm/guest/chr.guest.js'];
// Measured: about 5 minutes in the guest under TCG on 2 cores.
const GUEST_MS = 720_000;
t.setTimeout(GUEST_MS + 120_000);

// lo up: sshd listens on 127.0.0.1. HOME: ssh-keygen and screen want one.
const script = `cd ${ROOT}
ip link set lo up
export HOME=/root PTSFS_TEST_ENTRIES=chr
exec node_modules/.bin/tap --reporter=tap --disable-coverage --jobs=1 --timeout=600 ${GUEST_FILES.join(' ')}
`;

t.test('in a VM with CUSE: the programs and job-control suites and chr.guest on entries=chr mounts', async (t) => {
  const why = await vmUnavailable();
  if (why) {
    t.comment(`skipping: ${why}`);
    return t.plan(0, why);
  }
  const r = await runInVm(script, { timeoutMs: GUEST_MS });
  const lines = r.output.split('\n');
  // Top-level lines name each file: "ok 1 - dist/test/pts/programs.test.js # time=..."
  for (const f of GUEST_FILES) {
    const top = lines.find((l) => new RegExp(`^(not )?ok \\d+ - ${f.replace(/\./g, '\\.')}`).test(l));
    t.match(top, /^ok /, `${f} passes in the guest`);
  }
  // One host failure per guest one, named "file > subtest > not ok N - what", its diff and stderr below.
  for (const f of tapFailures(r.output)) t.fail(`guest: ${f.name}`, { diagnostic: true, guest: f.detail });
  const summary = lines.find((l) => l.startsWith('# { total: '));
  t.comment(`guest: ${summary ?? 'no summary'} in ${Math.round(r.wallMs / 1000)} s`);
  // Failures are named above; the tail is for what TAP cannot name (a crash, a hang).
  t.equal(r.code, 0, 'tap exited 0 in the guest', r.code === 0 ? {} : { tail: r.output.slice(-3000) });
});
