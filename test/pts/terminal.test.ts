// A terminal as a user sees it (issue 6): packet mode, flow control, the
// line discipline's signal keys, the controlling terminal and /dev/tty, the
// rest of the ioctl surface, and full-screen programs. Each is run in a
// container on a ptsfs mount and, in the same test, on a kernel devpts
// instance; the outputs must be the same.
//
// This process serves the mounts: every client is an async child process.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { mountPts, PYTHON } from './helpers';
import { describe, inContainer, kernel, kernelDevptsMissing, keyValues, missingPrograms, ptsfs, type Wiring } from './programs-helpers';

const why = process.getuid?.() !== 0 ? 'needs root (mount, unshare)' : !fs.existsSync('/dev/fuse') ? 'no /dev/fuse' : undefined;
if (why) t.comment(`skipping: ${why}`);
const needs = { skip: why ?? false };

const PROBE = fs.readFileSync(path.resolve(__dirname, '../../../test/pts/py/tty_probe.py'), 'utf8');
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/** The probe's sections as root in a container with its own pid namespace, then as nobody. */
async function probe(t: tap.Test, w: Wiring): Promise<Map<string, string>> {
  const root = await inContainer(t, w, [PYTHON, '-c', PROBE, 'packet', 'flow', 'keys', 'ctty', 'ioctls'], { pidns: true, timeoutMs: 60_000 });
  t.equal(root.code, 0, `the probe ran to its end (${describe(root)})`);
  const user = await inContainer(t, w, [...NOBODY, PYTHON, '-c', PROBE, 'unprivileged'], { timeoutMs: 30_000 });
  t.equal(user.code, 0, `the unprivileged probe ran to its end (${describe(user)})`);
  return keyValues(root.stdout + user.stdout);
}

t.test('packet mode, flow control, signal keys, ctty and ioctls: as on a kernel devpts', needs, async (t) => {
  const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5');
  const got = await probe(t, ptsfs(ns.dir));
  // What a user relies on, said outright; the comparison below covers every key.
  const must: Record<string, string> = {
    'pkt.stop': 'STOP', 'pkt.start': 'START', 'pkt.tciflush': 'FLUSHREAD', 'pkt.tcoflush': 'FLUSHWRITE',
    'pkt.ixon_off': 'NOSTOP', 'pkt.ixon_on': 'DOSTOP', 'pkt.data': 'data:x',
    'flow.stopped_readable': 'False', 'flow.start': "b'one'", 'flow.tcoon': "b'two'", 'flow.intr_restarts': "b'three'",
    'keys.intr.signals': 'SIGINT', 'keys.intr.read': "b'b\\n'", 'keys.intr.echo': "b'^Cb\\r\\n'",
    'keys.susp.signals': 'SIGTSTP', 'keys.quit.signals': 'SIGQUIT',
    'keys.noflsh.read': "b'ab\\n'", 'keys.noisig.signals': 'none', 'keys.lnext.signals': 'none',
    'keys.vintr_nul.signals': 'none',
    'ctty.gpgrp_master': 'True', 'ctty.winch_master': 'SIGWINCH', 'ctty.winch_slave': 'SIGWINCH',
    'ctty.notty_leader': 'SIGHUP+SIGCONT', 'ctty.dev_tty_without': 'ENXIO', 'ctty.dev_tty_with': 'True,True',
    'ctty.free_after_exit': 'True',
    'io.slave.mget': 'ERR:ENOTTY', 'io.slave.setd_bad': 'ERR:EINVAL', 'io.slave.gdev': '136:0',
    'io.vhangup.read': "b''", 'io.vhangup.write': 'ERR:EIO',
    'user.sti': 'ERR:EPERM', 'user.vhangup': 'ERR:EPERM', 'user.open_excl': 'ERR:EBUSY', 'user.steal': 'refused',
  };
  // entries=chr: TIOCGDEV reports the pty's CUSE device number, as st_rdev does.
  const chr = ns.mount.namespace.entries === 'chr';
  if (chr) {
    delete must['io.slave.gdev'];
    t.match(got.get('io.slave.gdev'), new RegExp(`^${ns.mount.namespace.major}:\\d+$`), 'entries=chr: TIOCGDEV is the device number');
    // The kernel answers for the slave on either side (tiocgdev() on tty->link).
    t.equal(got.get('io.master.gdev'), got.get('io.slave.gdev'), 'entries=chr: the master reports the slave device too');
  }
  for (const [k, v] of Object.entries(must)) t.equal(got.get(k), v, k);

  const missing = await kernelDevptsMissing(t);
  if (missing) {
    t.comment(`no kernel comparison: ${missing}`);
    return;
  }
  const want = await probe(t, kernel);
  if (chr) {
    for (const k of ['io.slave.gdev', 'io.master.gdev']) {
      got.delete(k);
      want.delete(k);
    }
  }
  t.same(Object.fromEntries(got), Object.fromEntries(want), 'every observation is the kernel devpts one');
});

// Drives a full-screen program through the master, as a terminal emulator would.
const FULL_SCREEN = String.raw`
import os, pty, select, time, sys, fcntl, struct, termios
prog = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
    env = dict(os.environ, TERM='xterm')
    if prog == 'vim':
        os.execvpe('vim', ['vim', '-u', 'NONE', '-i', 'NONE', '-N', '-n'], env)
    # less reads a pipe, as in 'seq 1 200 | less', but is this pid itself
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(r)
        os.write(w, ''.join('%d\n' % i for i in range(1, 201)).encode())
        os._exit(0)
    os.close(w)
    os.dup2(r, 0)
    os.execvpe('less', ['less'], env)
buf = b''
# Resize only once the program waits for input: less notices SIGWINCH at once
# only when it arrives inside read(); one that lands while it is still writing
# its prompt waits for the next key (less's own race, kernel devpts too).
# Waits end as soon as what they wait for comes; generous for emulated CI.
SLOW = 20.0
def wait_until_reading():
    end = time.time() + SLOW
    seen = 0
    while time.time() < end and seen < 2:
        try:
            nr = open('/proc/%d/syscall' % pid).read().split()[0]
        except (OSError, IndexError):
            nr = ''
        seen = seen + 1 if nr in ('0', '7', '23', '270', '271') else 0
        time.sleep(0.05)
def expect(s, t=SLOW):
    global buf
    end = time.time() + t
    while s not in buf and time.time() < end:
        if select.select([fd], [], [], 0.05)[0]:
            try:
                d = os.read(fd, 4096)
            except OSError:
                break
            if not d:
                break
            buf += d
    i = buf.find(s)
    if i < 0:
        sys.stderr.write('timeout waiting for %r in %r\n' % (s, buf[-300:]))
        return 'timeout'
    buf = buf[i + len(s):]
    return 'ok'
if prog == 'vim':
    print('started=' + expect(b'VIM - Vi IMproved'), flush=True)
    os.write(fd, b'ihello-from-the-master\x1b')
    print('typed=' + expect(b'hello-from-the-master'), flush=True)
    wait_until_reading()
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))
    # the redraw fills the new rows: row 29 exists only after the resize
    print('redrawn=' + expect(b'\x1b[29;1H'), flush=True)
    os.write(fd, b':q!\r')
else:
    print('started=' + expect(b'23\r\n:'), flush=True)
    os.write(fd, b' ')
    print('paged=' + expect(b'46\r\n:'), flush=True)
    wait_until_reading()
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))
    print('redrawn=' + expect(b'\r\n52\r\n:'), flush=True)
    os.write(fd, b'q')
_, st = os.waitpid(pid, 0)
print('exit=%d' % os.waitstatus_to_exitcode(st), flush=True)
`;

for (const prog of ['vim', 'less']) {
  t.test(`${prog} (TERM=xterm) starts, redraws on resize and quits on its keys`, needs, async (t) => {
    const missing = await missingPrograms(prog);
    if (missing.length) {
      t.plan(0, `skipped: not installed: ${missing.join(', ')}`);
      return;
    }
    const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5');
    const r = await inContainer(t, ptsfs(ns.dir), [PYTHON, '-c', FULL_SCREEN, prog], { timeoutMs: 120_000 });
    const got = Object.fromEntries(keyValues(r.stdout));
    const steps = prog === 'vim' ? { started: 'ok', typed: 'ok', redrawn: 'ok', exit: '0' } : { started: 'ok', paged: 'ok', redrawn: 'ok', exit: '0' };
    t.same(got, steps, `${prog} on ptsfs`, { stderr: r.stderr });
    const why = await kernelDevptsMissing(t);
    if (why) {
      t.comment(`no kernel comparison: ${why}`);
      return;
    }
    const k = await inContainer(t, kernel, [PYTHON, '-c', FULL_SCREEN, prog], { timeoutMs: 120_000 });
    t.same(got, Object.fromEntries(keyValues(k.stdout)), 'as on a kernel devpts instance', { stderr: k.stderr });
  });
}
