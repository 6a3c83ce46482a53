// An unprivileged process in a container aims the daemon's job control at
// processes outside it: TIOCSPGRP with host pids, odd pointers, TIOCSTI,
// TIOCVHANGUP and ctty stealing without privilege, then a flood of signal
// keys and a resize. Nothing outside the caller's own session may be
// signalled, and every errno is the kernel's (a kernel devpts instance
// gets the same script).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import t from 'tap';
import { runBoth, sameAsKernel, spawnPy, MISSING } from './helpers';

const VICTIM = String.raw`
import signal, sys, time, os
f = sys.argv[1]
def h(sig, frm):
    with open(f, 'a') as o: o.write(signal.Signals(sig).name + '\n')
for s in (signal.SIGINT, signal.SIGWINCH, signal.SIGHUP, signal.SIGCONT, signal.SIGTSTP, signal.SIGQUIT, signal.SIGTTIN, signal.SIGTTOU):
    signal.signal(s, h)
os.setpgid(0, 0)
print('ready', flush=True)
time.sleep(60)
`;

const ATTACK = String.raw`
# argv: mountdir, victim pid, pidns(0/1)
d, victim, pidns = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1'
TIOCSCTTY, TIOCSPGRP, TIOCGPGRP, TIOCSTI, TIOCVHANGUP, TIOCNOTTY = 0x540E, 0x5410, 0x540F, 0x5412, 0x5437, 0x5422
TIOCSIG = 0x40045436
inner = r'''
import os, sys, fcntl, array, errno, json, struct, termios, ctypes, time
d, victim = sys.argv[1], int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
def e(f):
    try:
        return f()
    except OSError as x:
        return errno.errorcode[x.errno]
def raw(fd, req, ptr):
    r = libc.ioctl(fd, req, ctypes.c_void_p(ptr))
    return r if r >= 0 else errno.errorcode[ctypes.get_errno()]
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
os.setsid()
m = os.open(os.path.join(d, 'ptmx'), os.O_RDWR | os.O_NOCTTY)
n = array.array('i', [0]); fcntl.ioctl(m, 0x80045430, n, True)
fcntl.ioctl(m, 0x40045431, array.array('i', [0]), True)
s = os.open(os.path.join(d, str(n[0])), os.O_RDWR | os.O_NOCTTY)
r = {}
r['sctty'] = e(lambda: fcntl.ioctl(s, 0x540E, 0))
def spgrp(p):
    return e(lambda: fcntl.ioctl(s, 0x5410, array.array('i', [p]), True))
r['spgrp_victim'] = spgrp(victim)
r['spgrp_init'] = spgrp(1) if os.getpid() != 1 else 'self-is-1'
r['spgrp_huge'] = spgrp(0x7fffffff)
r['spgrp_neg'] = spgrp(-5)
r['spgrp_null'] = raw(s, 0x5410, 0)
r['spgrp_kernel_ptr'] = raw(s, 0x5410, 0xffffffff81000000)
r['spgrp_minus1'] = raw(s, 0x5410, 0xffffffffffffffff)
r['sti_master'] = e(lambda: fcntl.ioctl(m, 0x5412, b'x'))
r['vhangup'] = e(lambda: fcntl.ioctl(s, 0x5437, 0))
r['steal'] = e(lambda: fcntl.ioctl(m, 0x540E, 1))
# the foreground group is still ours: keys and resizes go to us only
import signal
got = []
signal.signal(signal.SIGWINCH, lambda *a: got.append('WINCH'))
signal.signal(signal.SIGINT, lambda *a: got.append('INT'))
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack('HHHH', 5, 6, 0, 0))
os.write(m, b'\x03' * 1000)
time.sleep(0.3)
r['self_got'] = sorted(set(got))
r['pgrp_is_self'] = array.array('i', [0]) if False else None
b = array.array('i', [0]); fcntl.ioctl(s, 0x540F, b, True); r['pgrp_is_self'] = b[0] == os.getpgrp()
print(json.dumps(r), flush=True)
'''
import subprocess
cmd = ['unshare', '-p', '-f', '--mount-proc'] if pidns else []
p = subprocess.run(cmd + [sys.executable, '-c', inner, d, str(victim)], capture_output=True, text=True, timeout=20)
res = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else {'rc': p.returncode, 'err': p.stderr[-300:]}
out(res)
`;

t.test('an unprivileged caller in a container cannot aim job control at a host process', { skip: MISSING }, async (t) => {
  const log = path.join(await fs.promises.mkdtemp(path.join(os.tmpdir(), 'ptsfs-victim-')), 'signals');
  t.teardown(() => fs.promises.rm(path.dirname(log), { recursive: true, force: true }));
  const victim = spawnPy(t, VICTIM, [log], { timeoutMs: 120_000 });
  await victim.line(1);
  for (const pidns of [false, true]) {
    const both = await runBoth(t, 'ptmxmode=666,mode=666', ATTACK, [victim.pid, pidns ? 1 : 0]);
    const f = both.fuse;
    t.equal(f.sctty, 0, 'a session leader takes its own pty');
    t.equal(f.spgrp_victim, pidns ? 'ESRCH' : 'EPERM', 'a host process: not visible in a pid namespace, another session outside one');
    t.equal(f.spgrp_huge, 'ESRCH');
    t.equal(f.spgrp_neg, 'EINVAL');
    t.same([f.spgrp_null, f.spgrp_kernel_ptr, f.spgrp_minus1], ['EFAULT', 'EFAULT', 'EFAULT'], 'bad pointers');
    t.equal(f.sti_master, 'EPERM', 'TIOCSTI on the master needs CAP_SYS_ADMIN');
    t.equal(f.vhangup, 'EPERM', 'TIOCVHANGUP needs CAP_SYS_ADMIN');
    t.same(f.self_got, ['INT', 'WINCH'], 'the keys and the resize reach the caller\'s own group');
    t.equal(f.pgrp_is_self, true, 'the foreground group is still the caller\'s');
    sameAsKernel(t, both, `same as a kernel devpts instance${pidns ? ' (pid namespace)' : ''}`);
  }
  const got = await fs.promises.readFile(log, 'utf8').catch(() => '');
  t.equal(got, '', 'the host process received no signal at all');
});
