// Real programs in a container (issue 3): glibc's pty calls, python3's
// os.openpty / pty.fork / pty.spawn, util-linux script, tmux, run in a
// private mount namespace whose /dev/pts is a ptsfs mount served by this
// process. Each observation is compared with the same program on a kernel
// devpts instance, leaving out only what a FUSE file can never be (DESIGN.md):
// ttyname()/tty(1) (entries are regular files, not character devices) and
// TIOCGPTPEER (no fd can be returned into the caller).
//
// This process serves the mounts: every client is an async child process.
import t from 'tap';
import * as fs from 'fs';
import { mountPts, PYTHON } from './helpers';
import {
  compileC, describe, exec, inContainer, kernel, kernelDevptsMissing, keyValues, missingPrograms, ptsfs,
  startInContainer, tempDir, ttyLines,
} from './programs-helpers';

// A driver's own waits end it when a step never comes (one SLOW wait, then
// short ones); this kill timer only catches a hang, and the file's timeout
// leaves room for a failing run on each side under emulation.
const DRIVER_MS = 120_000;
t.setTimeout(600_000);

const why = process.getuid?.() !== 0 ? 'needs root (mount, unshare)' : !fs.existsSync('/dev/fuse') ? 'no /dev/fuse' : undefined;
if (why) t.comment(`skipping: ${why}`);
const needs = { skip: why ?? false };

/** Runs `body` on the kernel reference unless the machine has none (then says why and returns undefined). */
async function onKernel<T>(t: tap.Test, body: () => Promise<T>): Promise<T | undefined> {
  const missing = await kernelDevptsMissing(t);
  if (missing) {
    t.comment(`no kernel comparison: ${missing}`);
    return undefined;
  }
  return body();
}

// What a FUSE file can never be: these keys differ from the kernel by design.
const NOT_COMPARABLE = new Set(['a.ttyname', 'a.slave_type', 'a.tiocgptpeer']);

t.test('glibc posix_openpt/grantpt/unlockpt/ptsname/open and openpty in a container', needs, async (t) => {
  const probe = await compileC(t, 'ptyprobe');
  const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5');
  const r = await inContainer(t, ptsfs(ns.dir), [probe]);
  t.equal(r.code, 0, `probe exits 0 (${describe(r)})`);
  const got = keyValues(r.stdout);
  const expect: Record<string, string> = {
    // posix_openpt & co; ptsname gives the namespace-local index
    'a.posix_openpt': 'ok',
    'a.ptsname': '/dev/pts/0',
    'a.grantpt': '0',
    'a.open_locked': 'ERR:EIO',
    'a.unlockpt': '0',
    'a.open_slave': 'ok',
    'a.tiocgptn': '0',
    'a.isatty_master': '1',
    'a.isatty_slave': '1',
    // entry 0 as mode=620,gid=5 says, owned by the opener (root); ptmx by ptmxmode
    'a.slave_perm': '0620:0:5',
    'ptmx_perm': '0666:0:0',
    // initial termios of a pty slave (drivers/tty/pty.c): ICRNL|IXON, OPOST|ONLCR,
    // B38400|CS8|CREAD, ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN
    'a.slave.iflag': '02400',
    'a.slave.oflag': '05',
    'a.slave.cflag': '0277',
    'a.slave.lflag': '0105073',
    'a.slave.line': '0',
    'a.slave.ispeed': '15',
    'a.slave.ospeed': '15',
    'a.slave.cc': '03,1c,7f,15,04,00,01,00,11,13,1a,00,12,0f,17,16,00',
    'a.master.lflag': '0105073',
    'a.winsize_initial': '0x0',
    // canonical mode with echo and ONLCR, both ways
    'a.write_master': '6',
    'a.slave_read': 'hello\\n',
    'a.master_echo': 'hello\\r\\n',
    'a.write_slave': '4',
    'a.master_read': 'out\\r\\n',
    'a.slave_read_partial': 'none',
    'a.master_echo_partial': 'ab',
    'a.slave_read_line': 'ab\\n',
    'a.master_echo_newline': '\\r\\n',
    // tcsetattr(cfmakeraw) on the slave really changes the line discipline
    'a.tcsetattr_raw': '0',
    'a.raw.iflag': '00',
    'a.raw.oflag': '04',
    'a.raw.lflag': '05060',
    'a.raw_slave_read': 'xy\\r',
    'a.raw_master_echo': 'none',
    'a.raw_master_read': 'z\\n',
    'a.tcsetattr_sane': '0',
    'a.slave_lflag_after_sane': '0105073',
    // a window size set on the master is seen on the slave
    'a.tiocswinsz': '0',
    'a.winsize_slave': '33x111',
    // the next pty is 1; after 0 is closed, openpty() gets 0 again
    'b.ptsname': '/dev/pts/1',
    'b.open_locked': 'ERR:EIO',
    'b.open_slave': 'ok',
    'a.entry_after_close': 'gone',
    'c.openpty': 'ok',
    'c.name': '/dev/pts/0',
    'c.isatty_slave': '1',
    'c.winsize_slave': '30x100',
    'c.winsize_master': '30x100',
    'c.slave_read': 'ping\\n',
    'c.master_echo': 'ping\\r\\n',
    'c.master_read': 'pong\\r\\n',
    'c.master_read_after_slave_close': 'ERR:EIO',
    // hangup: b's master closed while its slave is open
    'b.slave_read_after_hangup': 'EOF',
    'b.slave_write_after_hangup': 'ERR:EIO',
    'b.slave_poll_after_hangup': 'IN|OUT|ERR|HUP|',
    'b.slave_tcgetattr_after_hangup': 'ERR:EIO',
    probe: 'done',
  };
  for (const [k, v] of Object.entries(expect)) t.equal(got.get(k), v, k);

  // What a FUSE file can never be, as documented; a CUSE device (entries=chr) can.
  if (ns.mount.namespace.entries === 'chr') {
    t.equal(got.get('a.ttyname'), '/dev/pts/0', 'entries=chr: ttyname() names the pty');
    t.equal(got.get('a.slave_type'), 'chr', 'entries=chr: the slave is a character device');
  } else {
    t.equal(got.get('a.ttyname'), 'ERR:ENOTTY', 'ttyname() says "not a tty": entries are regular files');
    t.equal(got.get('a.slave_type'), 'reg', 'the slave is a regular file');
  }
  t.match(got.get('a.tiocgptpeer'), /^ERR:E[A-Z]+$/, 'TIOCGPTPEER fails with an errno (openpty then falls back)');

  const ref = await onKernel(t, () => inContainer(t, kernel, [probe]));
  if (!ref) return;
  t.equal(ref.code, 0, `probe exits 0 on a kernel devpts (${describe(ref)})`);
  const want = keyValues(ref.stdout);
  t.equal(want.get('a.ttyname'), '/dev/pts/0', 'kernel: ttyname works (so the probe can tell)');
  t.equal(want.get('a.tiocgptpeer'), 'fd', 'kernel: TIOCGPTPEER gives an fd');
  const strip = (m: Map<string, string>): Record<string, string> =>
    Object.fromEntries([...m].filter(([k]) => !NOT_COMPARABLE.has(k)));
  t.same(strip(got), strip(want), 'everything else is what a kernel devpts gives');
});

const PY_PROBE = String.raw`
import os, sys, pty, termios, errno, select
def e(f):
    try:
        return f()
    except OSError as x:
        return 'ERR:' + errno.errorcode[x.errno]
m, s = os.openpty()
print('openpty.name=' + os.readlink('/proc/self/fd/%d' % s))
print('openpty.isatty=%s' % os.isatty(s))
print('openpty.ttyname=%s' % e(lambda: os.ttyname(s)))
a = termios.tcgetattr(s)
print('tcgetattr=%o,%o,%o,%o,%d,%d' % tuple(a[:6]))
os.write(m, b'hi\n')
print('slave_read=%r' % os.read(s, 100))
print('master_echo=%r' % os.read(m, 100))
a[3] &= ~termios.ECHO
termios.tcsetattr(s, termios.TCSANOW, a)
print('echo_off.lflag=%o' % termios.tcgetattr(s)[3])
os.write(m, b'secret\n')
print('echo_off.slave_read=%r' % os.read(s, 100))
print('echo_off.master_readable=%s' % bool(select.select([m], [], [], 0.3)[0]))
os.close(s)
os.close(m)
# pty.fork: openpty, fork, login_tty (setsid + TIOCSCTTY + dup2)
pid, fd = pty.fork()
if pid == 0:
    print('child.isatty=%s' % os.isatty(0))
    print('child.session_leader=%s' % (os.getsid(0) == os.getpid()))
    print('child.foreground=%s' % (os.tcgetpgrp(0) == os.getpid()))
    print('child.ttyname=%s' % e(lambda: os.ttyname(0)))
    print('child.got=%s' % sys.stdin.readline().strip())
    sys.stdout.flush()
    os._exit(7)
os.write(fd, b'to-child\n')
buf = b''
while True:
    try:
        d = os.read(fd, 1024)
    except OSError as x:
        print('fork.read_end=' + errno.errorcode[x.errno])
        break
    if not d:
        print('fork.read_end=EOF')
        break
    buf += d
_, st = os.waitpid(pid, 0)
for line in sorted(l for l in buf.decode().split('\r\n') if l):
    print('fork.' + line)
print('fork.exit=%d' % os.waitstatus_to_exitcode(st))
`;

t.test('python3 os.openpty, termios and pty.fork in a container with its own pid namespace', needs, async (t) => {
  const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5');
  const r = await inContainer(t, ptsfs(ns.dir), [PYTHON, '-c', PY_PROBE], { pidns: true });
  t.equal(r.code, 0, `python exits 0 (${describe(r)})`);
  const got = keyValues(r.stdout);
  const expect: Record<string, string> = {
    'openpty.name': '/dev/pts/0',
    'openpty.isatty': 'True',
    'tcgetattr': '2400,5,277,105073,15,15',
    'slave_read': "b'hi\\n'",
    'master_echo': "b'hi\\r\\n'",
    'echo_off.lflag': '105063',
    'echo_off.slave_read': "b'secret\\n'",
    'echo_off.master_readable': 'False',
    // login_tty made the pty the child's controlling terminal (TIOCSCTTY), with
    // the child's own (namespace-local) pid as foreground process group
    'fork.child.isatty': 'True',
    'fork.child.session_leader': 'True',
    'fork.child.foreground': 'True',
    'fork.child.got': 'to-child',
    'fork.exit': '7',
    'fork.read_end': 'EIO',
  };
  for (const [k, v] of Object.entries(expect)) t.equal(got.get(k), v, k);
  t.match(r.stdout, /^fork\.to-child$/m, 'the input was echoed to the master');
  const ttyname = ns.mount.namespace.entries === 'chr' ? '/dev/pts/0' : 'ERR:ENOTTY';
  t.equal(got.get('openpty.ttyname'), ttyname, `os.ttyname: ${ttyname} (entries=${ns.mount.namespace.entries})`);
  t.equal(got.get('fork.child.ttyname'), ttyname, `os.ttyname in the child: ${ttyname}`);

  const ref = await onKernel(t, () => inContainer(t, kernel, [PYTHON, '-c', PY_PROBE], { pidns: true }));
  if (!ref) return;
  t.equal(ref.code, 0, `python exits 0 on a kernel devpts (${describe(ref)})`);
  const want = keyValues(ref.stdout);
  t.equal(want.get('openpty.ttyname'), '/dev/pts/0');
  for (const k of ['openpty.ttyname', 'fork.child.ttyname']) {
    got.delete(k);
    want.delete(k);
  }
  t.same(Object.fromEntries(got), Object.fromEntries(want), 'the same as on a kernel devpts');
});

// Run by a shell on the pty: real programs (stty, tty, read) on the slave.
const SHELL_SCRIPT = [
  'echo "shell: hi"',
  'stty -a',
  'test -t 0 && echo "stdin is a tty"',
  'stty rows 40 cols 120',
  'echo "size: $(stty size)"',
  'read line',
  'echo "got: $line"',
  'tty; echo "tty exit: $?"',
  'exit 5',
].join('\n');

/** Output lines less the echo of the input (whose place among them depends on timing) and tty(1)'s. */
function shellLines(out: string): { lines: string[]; tty: string[] } {
  const all = ttyLines(out).filter((l) => l !== 'input');
  const isTty = (l: string): boolean => l === 'not a tty' || l.startsWith('/dev/') || l.startsWith('tty exit:');
  return { lines: all.filter((l) => !isTty(l)), tty: all.filter(isTty) };
}

function checkShell(t: tap.Test, out: string, entries: 'chr' | 'file'): void {
  const { lines, tty } = shellLines(out);
  t.equal(lines[0], 'shell: hi');
  t.match(lines[1], /^speed 38400 baud; rows 0; columns 0; line = 0;$/, 'stty -a on the fresh pty');
  t.match(out, /-parenb -parodd -cmspar cs8 -hupcl -cstopb cread/, 'stty -a: cflags');
  t.match(out, /-ignbrk -brkint -ignpar -parmrk -inpck -istrip -inlcr -igncr icrnl ixon -ixoff\r\n-iuclc -ixany -imaxbel -iutf8\r\n/, 'stty -a: iflags');
  t.match(out, /\r\nopost -olcuc -ocrnl onlcr /, 'stty -a: oflags');
  t.match(out, /isig icanon iexten echo echoe echok -echonl -noflsh -xcase -tostop -echoprt\r\nechoctl echoke -flusho -extproc/, 'stty -a: lflags');
  t.ok(lines.includes('stdin is a tty'), 'test -t 0');
  t.ok(lines.includes('size: 40 120'), 'stty rows/cols then stty size');
  t.ok(lines.includes('got: input'), 'the input reached the program');
  if (entries === 'chr') t.same(tty, ['/dev/pts/0', 'tty exit: 0'], 'entries=chr: tty(1) names the pty');
  else t.same(tty, ['not a tty', 'tty exit: 1'], 'tty(1) says "not a tty" (documented: entries are regular files)');
  t.ok(ttyLines(out).includes('input'), 'the input was echoed by the line discipline');
}

async function compareShell(t: tap.Test, argv: string[], out: string, code: number | null): Promise<void> {
  const ref = await onKernel(t, () => inContainer(t, kernel, argv, { input: 'input\n' }));
  if (!ref) return;
  t.equal(ref.code, code, `same exit on a kernel devpts (${describe(ref)})`);
  const k = shellLines(ref.stdout);
  t.same(k.tty, ['/dev/pts/0', 'tty exit: 0'], 'kernel: tty(1) names the pty');
  t.same(shellLines(out).lines, k.lines, 'the same output as on a kernel devpts');
}

t.test('python3 pty.spawn runs a shell on a ptsfs pty', needs, async (t) => {
  const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5');
  const argv = [PYTHON, '-c', 'import pty, sys; sys.exit(pty.spawn(["sh", "-c", sys.argv[1]]) >> 8)', SHELL_SCRIPT];
  const r = await inContainer(t, ptsfs(ns.dir), argv, { input: 'input\n' });
  t.equal(r.code, 5, `pty.spawn returns the shell's exit status (${describe(r)})`);
  checkShell(t, r.stdout, ns.mount.namespace.entries);
  await compareShell(t, argv, r.stdout, r.code);
});

t.test('util-linux script -qec runs a command on a ptsfs pty', needs, async (t) => {
  const missing = await missingPrograms('script');
  if (missing.length) {
    t.plan(0, `skipped: not installed: ${missing.join(', ')}`);
    return;
  }
  const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5');
  const argv = ['script', '-qec', SHELL_SCRIPT, '/dev/null'];
  const r = await inContainer(t, ptsfs(ns.dir), argv, { input: 'input\n' });
  t.equal(r.code, 5, `script -e returns the command's exit status (${describe(r)})`);
  checkShell(t, r.stdout, ns.mount.namespace.entries);
  await compareShell(t, argv, r.stdout, r.code);
});

// Opens a pty, says which, and holds it until stdin closes.
const HOLD_PTY = String.raw`
import os, sys
m, s = os.openpty()
print(os.readlink('/proc/self/fd/%d' % s) + ' ' + ' '.join(sorted(os.listdir('/dev/pts'))), flush=True)
sys.stdin.read()
`;

t.test('two containers, each wired to its own mount, both get index 0', needs, async (t) => {
  const a = await mountPts(t, 'ptmxmode=666,mode=620,gid=5');
  const b = await mountPts(t, 'ptmxmode=666,mode=620,gid=5');
  const ca = startInContainer(t, ptsfs(a.dir), [PYTHON, '-c', HOLD_PTY], { openStdin: true });
  const cb = startInContainer(t, ptsfs(b.dir), [PYTHON, '-c', HOLD_PTY], { openStdin: true });
  await Promise.all([ca.waitFor('\n'), cb.waitFor('\n')]);
  t.equal(ca.stdout, '/dev/pts/0 0 ptmx tty\n', 'container A: pts 0, alone in its /dev/pts');
  t.equal(cb.stdout, '/dev/pts/0 0 ptmx tty\n', 'container B: pts 0 as well, alone in its /dev/pts');

  // Seen from the host, while both are held: each mount has its own 0.
  const lsA = await exec(t, 'ls', [a.dir]);
  const lsB = await exec(t, 'ls', [b.dir]);
  t.same(lsA.stdout.split('\n').filter(Boolean), ['0', 'ptmx', 'tty']);
  t.same(lsB.stdout.split('\n').filter(Boolean), ['0', 'ptmx', 'tty']);

  // A second pty in A is A's 1; B is unaffected.
  const second = await inContainer(t, ptsfs(a.dir), [PYTHON, '-c', HOLD_PTY]);
  t.equal(second.stdout, '/dev/pts/1 0 1 ptmx tty\n', 'the next pty in A is 1');
  const lsB2 = await exec(t, 'ls', [b.dir]);
  t.same(lsB2.stdout.split('\n').filter(Boolean), ['0', 'ptmx', 'tty'], 'B did not see it');

  ca.endInput();
  cb.endInput();
  const [ra, rb] = await Promise.all([ca.exit(), cb.exit()]);
  t.equal(ra.code, 0, describe(ra));
  t.equal(rb.code, 0, describe(rb));
  const lsA2 = await exec(t, 'ls', [a.dir]);
  t.same(lsA2.stdout.split('\n').filter(Boolean), ['ptmx', 'tty'], 'entries gone once the containers closed them');
});

t.test('tmux runs a pane on a ptsfs pty', needs, async (t) => {
  const missing = await missingPrograms('tmux');
  if (missing.length) {
    t.plan(0, `skipped: not installed: ${missing.join(', ')}`);
    return;
  }
  const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5');
  const sock = `${await tempDir(t, 'ptsfs-tmux-')}/sock`;
  const script = [
    `tmux -S ${sock} -f /dev/null new-session -d -x 90 -y 20 'stty size; echo $(ls /dev/pts); echo pane-ok; read x'`,
    // wait for the pane's last line (at most 5 s): tmux may render the lines one by one
    `for i in $(seq 50); do tmux -S ${sock} capture-pane -p | grep -q pane-ok && break; sleep 0.1; done`,
    `tmux -S ${sock} capture-pane -p`,
    `tmux -S ${sock} kill-server`,
  ].join('\n');
  const r = await inContainer(t, ptsfs(ns.dir), ['sh', '-c', script]);
  t.equal(r.code, 0, describe(r));
  const lines = r.stdout.split('\n').filter(Boolean);
  t.same(lines.slice(0, 3), ['20 90', '0 ptmx tty', 'pane-ok'], 'the pane runs on pts 0 with the size tmux set');
});

// Drives an interactive bash through the master, as a terminal emulator would.
const BASH_DRIVER = String.raw`
import os, pty, select, time, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvpe('bash', ['bash', '--norc', '--noprofile', '-i'], dict(os.environ, PS1='PROMPT$ ', TERM='dumb'))
buf = b''
# Waits are generous (SLOW s): under emulation in CI a step can take seconds; they end as soon as the text comes.
SLOW = 20.0
LATE = 2.0  # once one step timed out, the rest only report: short waits
late = False
def deadline():
    return time.time() + (LATE if late else SLOW)
def expect(s):
    global buf, late
    end = deadline()
    while s.encode() not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                d = os.read(fd, 1024)
            except OSError:
                break
            if not d:
                break
            buf += d
    i = buf.find(s.encode())
    if i < 0:
        sys.stderr.write('timeout waiting for %r in %r\n' % (s, buf[-300:]))
        late = True
        return 'timeout'
    buf = buf[i + len(s):]
    return 'ok'
# a shell loop that lists job %NAME once it has stopped (at most 20 s)
UNTIL_STOPPED = b'for i in $(seq 200); do [[ $(jobs %%%s) == *Stopped* ]] && break; sleep 0.1; done; jobs %%%s'
def proc_state(pg):
    # (comm, state) of process pg, from /proc/PID/stat
    try:
        head, tail = open('/proc/%d/stat' % pg).read().rsplit(')', 1)
        return head.split('(', 1)[1], tail.split()[0]
    except (OSError, IndexError, ValueError):
        return '', ''
def wait_job():
    global late
    # Until the shell gave the terminal to the job (tcgetpgrp on the master),
    # the job's process runs sleep, and, after fg, its SIGCONT is in. bash's
    # child takes the terminal before it execs, and bash's fg gives it before
    # SIGCONT: a ^Z or ^C typed in those windows was lost under load on a
    # kernel devpts too (sleep ran on), so the driver types only after them.
    end = deadline()
    while time.time() < end:
        pg = os.tcgetpgrp(fd)
        comm, state = proc_state(pg)
        if pg != pid and comm == 'sleep' and state in ('R', 'S'):
            return
        time.sleep(0.02)
    sys.stderr.write('the job never ran: foreground group %d is %r %r\n' % (pg, comm, state))
    late = True
print('prompt=' + expect('PROMPT$ '), flush=True)
os.write(fd, b'echo $((6*7))\n')
print('arith=' + expect('\r\n42\r\n'), flush=True)
os.write(fd, b'sleep 0.1 & wait $!; echo "bg=$?"\n')
print('background_job=' + expect('\r\nbg=0\r\n'), flush=True)
if sys.argv[1] == 'interrupt':
    expect('PROMPT$ ')
    os.write(fd, b'sleep 10\n')
    wait_job()
    os.write(fd, b'\x03')
    print('interrupt=' + expect('PROMPT$ '), flush=True)
    os.write(fd, b'echo "status=$?"\n')
    print('status_130=' + expect('\r\nstatus=130\r\n'), flush=True)
    sys.exit(0)
if sys.argv[1] == 'jobs':
    expect('PROMPT$ ')
    print('fg_is_shell=%s' % (os.tcgetpgrp(fd) == pid), flush=True)
    os.write(fd, b'sleep 30\n')
    wait_job()
    print('fg_is_job=%s' % (os.tcgetpgrp(fd) not in (pid, 0)), flush=True)
    os.write(fd, b'\x1a')
    print('stopped=' + expect('PROMPT$ '), flush=True)
    os.write(fd, b'jobs\n')
    print('jobs_lists=' + expect('Stopped'), flush=True)
    expect('PROMPT$ ')
    os.write(fd, b'fg %1\n')
    print('fg_resumes=' + expect('sleep 30\r\n'), flush=True)
    wait_job()
    print('fg_is_job_again=%s' % (os.tcgetpgrp(fd) not in (pid, 0)), flush=True)
    os.write(fd, b'\x03')
    print('fg_interrupted=' + expect('PROMPT$ '), flush=True)
    os.write(fd, b'stty tostop; /bin/echo tostop-$((1+1)) & ' + UNTIL_STOPPED % (b'/bin/echo', b'/bin/echo') + b'; stty -tostop\n')
    print('ttou=' + expect('Stopped                 /bin/echo'), flush=True)
    os.write(fd, b'kill -9 %/bin/echo\n')
    os.write(fd, b'head -c1 & ' + UNTIL_STOPPED % (b'head', b'head') + b'\n')
    print('ttin=' + expect('Stopped                 head -c1'), flush=True)
    os.write(fd, b"stty size\n")
    print('size_before=' + expect('\r\n0 0\r\n'), flush=True)
    import fcntl, struct, termios
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))
    os.write(fd, b'stty size\n')
    print('size_after=' + expect('\r\n30 100\r\n'), flush=True)
    # The trap runs once the signal is in, at the latest when the wait builtin returns.
    os.write(fd, b"trap 'echo WINCHED' WINCH; echo TRAPSET; sleep 1 & wait $!\n")
    expect('TRAPSET\r\n')
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 31, 101, 0, 0))
    print('trap_winch=' + expect('WINCHED'), flush=True)
    expect('PROMPT$ ')
    # Not through readline, which echoes what it reads itself: the read builtin, after stty -echo took effect.
    os.write(fd, b'stty -echo; echo READY; read x; echo "got=$x"\n')
    expect('READY\r\n')
    os.write(fd, b'hidden\n')
    seen, buf, end = buf, b'', deadline()
    while b'got=hidden\r\n' not in seen and time.time() < end:
        if select.select([fd], [], [], 0.05)[0]:
            seen += os.read(fd, 1024)
    print('noecho=' + ('ok' if b'got=hidden\r\n' in seen and seen.count(b'hidden') == 1 else 'echoed'), flush=True)
    os.write(fd, b'stty echo; kill -9 %head; read x </dev/tty; echo "got=$x"\n')
    time.sleep(0.3)
    os.write(fd, b'typed\n')
    print('dev_tty=' + expect('got=typed'), flush=True)
    os.close(fd)
    _, st = os.waitpid(pid, 0)
    # Killed by SIGHUP, or exited on its read's EIO: on a kernel devpts either
    # happens, since pty_close() wakes the readers before tty_vhangup() sends
    # SIGHUP (seen under load). That SIGHUP comes is tested below, without bash.
    hup = (os.WIFSIGNALED(st) and os.WTERMSIG(st) == 1) or os.WIFEXITED(st)
    print('hup=%s' % ('ended' if hup else 'signal %d' % os.WTERMSIG(st)), flush=True)
    sys.exit(0)
os.write(fd, b'exit 3\n')
_, st = os.waitpid(pid, 0)
print('exit=%d' % os.waitstatus_to_exitcode(st))
`;


t.test('an interactive bash driven through the master', needs, async (t) => {
  const missing = await missingPrograms('bash');
  if (missing.length) {
    t.plan(0, `skipped: not installed: ${missing.join(', ')}`);
    return;
  }
  const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5');
  const r = await inContainer(t, ptsfs(ns.dir), [PYTHON, '-c', BASH_DRIVER, 'basic'], { pidns: true, timeoutMs: DRIVER_MS });
  t.equal(r.code, 0, describe(r));
  t.same(Object.fromEntries(keyValues(r.stdout)), { prompt: 'ok', arith: 'ok', background_job: 'ok', exit: '3' },
    'prompt, command output, a background job and the exit status');

  const i = await inContainer(t, ptsfs(ns.dir), [PYTHON, '-c', BASH_DRIVER, 'interrupt'], { pidns: true, timeoutMs: DRIVER_MS });
  t.equal(i.code, 0, describe(i));
  t.same(Object.fromEntries(keyValues(i.stdout)), { prompt: 'ok', arith: 'ok', background_job: 'ok', interrupt: 'ok', status_130: 'ok' },
    '^C interrupts the foreground job, as on a kernel pty');

  const expected = { prompt: 'ok', arith: 'ok', background_job: 'ok', fg_is_shell: 'True', fg_is_job: 'True', stopped: 'ok',
    jobs_lists: 'ok', fg_resumes: 'ok', fg_is_job_again: 'True', fg_interrupted: 'ok', ttou: 'ok', ttin: 'ok', size_before: 'ok', size_after: 'ok', trap_winch: 'ok', noecho: 'ok', dev_tty: 'ok', hup: 'ended' };
  for (const pidns of [false, true]) {
    const j = await inContainer(t, ptsfs(ns.dir), [PYTHON, '-c', BASH_DRIVER, 'jobs'], { pidns, timeoutMs: DRIVER_MS });
    const seen = Object.fromEntries(keyValues(j.stdout));
    t.same(seen, expected, `job control${pidns ? ' in a pid namespace' : ''}: tcgetpgrp on the master, ^Z, jobs, fg, SIGTTOU with tostop, SIGTTIN, stty size and trap WINCH after a resize, stty -echo, /dev/tty, the shell ends on close`, { stderr: j.stderr });
    const why = await kernelDevptsMissing(t);
    if (why) {
      t.comment(`no kernel devpts to compare with: ${why}`);
      continue;
    }
    const k = await inContainer(t, kernel, [PYTHON, '-c', BASH_DRIVER, 'jobs'], { pidns, timeoutMs: DRIVER_MS });
    t.same(seen, Object.fromEntries(keyValues(k.stdout)), 'as on a kernel devpts instance', { stderr: k.stderr });
  }
});

// A session leader blocked reading its terminal when the master closes, ten
// times over: what its read ends with, and whether SIGHUP came with it.
const HUP_WHILE_READING = String.raw`
import errno, fcntl, os, signal, sys, termios, time
class Hup(Exception):
    pass
def on_hup(*_):
    raise Hup()
NR_READ = '0'  # x86-64
READ_WAIT = 10.0
def wait_in_read(pid):
    # close only once the child sleeps in read(2): a close that lands before
    # its read is another case (SIGHUP first, read never runs)
    end, nr = time.time() + READ_WAIT, ''
    while time.time() < end:
        try:
            nr = open('/proc/%d/syscall' % pid).read().split()[0]
        except (OSError, IndexError) as e:
            nr = repr(e)
        if nr == NR_READ:
            return
        time.sleep(0.01)
    sys.stderr.write('the child never blocked in read(2): /proc/%d/syscall says %s\n' % (pid, nr))
outcomes = set()
for _ in range(10):
    m, s = os.openpty()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(m)
        os.close(r)
        os.setsid()
        fcntl.ioctl(s, termios.TIOCSCTTY, 0)
        signal.signal(signal.SIGHUP, on_hup)
        os.write(w, b'x')
        res = 'read'
        try:
            try:
                os.read(s, 10)
                res = 'data'
            except OSError as e:
                res = errno.errorcode[e.errno]
            time.sleep(0.3)  # a pending handler runs within this
            res += ',no-sighup'
        except Hup:
            res += '+sighup'
        os.write(w, res.encode())
        os._exit(0)
    os.close(s)
    os.close(w)
    os.read(r, 1)
    wait_in_read(pid)
    os.close(m)
    outcomes.add(os.read(r, 100).decode() or 'died')
    os.waitpid(pid, 0)
    os.close(r)
print('outcomes=' + ','.join(sorted(outcomes)))
`;

t.test('a session leader blocked in read when the master closes: EIO, with SIGHUP pending as it returns', needs, async (t) => {
  const ns = await mountPts(t, 'ptmxmode=666,mode=620,gid=5');
  const r = await inContainer(t, ptsfs(ns.dir), [PYTHON, '-c', HUP_WHILE_READING], { pidns: true, timeoutMs: DRIVER_MS });
  t.equal(r.code, 0, describe(r));
  // pty_close(): TTY_OTHER_CLOSED makes n_tty_read() return EIO before it looks for signals; the hangup's SIGHUP is there as the read returns.
  t.same(Object.fromEntries(keyValues(r.stdout)), { outcomes: 'EIO+sighup' }, 'every time: EIO, then the SIGHUP handler');
  const why = await kernelDevptsMissing(t);
  if (why) {
    t.comment(`no kernel devpts to compare with: ${why}`);
    return;
  }
  const k = await inContainer(t, kernel, [PYTHON, '-c', HUP_WHILE_READING], { pidns: true, timeoutMs: DRIVER_MS });
  t.same(Object.fromEntries(keyValues(r.stdout)), Object.fromEntries(keyValues(k.stdout)), 'as on a kernel devpts instance', { stderr: k.stderr });
});
