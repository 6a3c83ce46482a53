// tty ioctls on ptsfs files as programs issue them: the pty ioctls of the
// master, termios and window size on both sides (really applied to the line
// discipline), bad pointers, unknown commands. Compared with a kernel devpts
// instance where the two can agree.
import t from 'tap';
import { mountPts, pyJson, runBoth, sameAsKernel, sleep, MISSING } from './helpers';

t.test('TIOCGPTN, TIOCSPTLCK, TIOCGPTLCK on the master; ENOTTY on a slave', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', String.raw`
d = sys.argv[1]
res = {}
ms = [openpt(d, do_unlock=False) for i in range(3)]
res['ptn'] = [ptn(m) for m, n in ms]
m, n = ms[1]
res['lock'] = [ioctl_int(m, TIOCGPTLCK)]
ioctl_int(m, TIOCSPTLCK, 0); res['lock'].append(ioctl_int(m, TIOCGPTLCK))
ioctl_int(m, TIOCSPTLCK, 7); res['lock'].append(ioctl_int(m, TIOCGPTLCK))
ioctl_int(m, TIOCSPTLCK, 0); res['lock'].append(ioctl_int(m, TIOCGPTLCK))
res['others_still_locked'] = [ioctl_int(ms[0][0], TIOCGPTLCK), ioctl_int(ms[2][0], TIOCGPTLCK)]
s = os.open(os.path.join(d, str(n)), os.O_RDWR | os.O_NOCTTY)
res['slave'] = [err(ioctl_int, s, TIOCGPTN), err(ioctl_int, s, TIOCSPTLCK, 0), err(ioctl_int, s, TIOCGPTLCK)]
# glibc's view: ptsname() and unlockpt() are these ioctls
libc.ptsname.restype = ctypes.c_char_p
libc.ptsname.argtypes = [ctypes.c_int]
res['ptsname'] = libc.ptsname(m).decode()
res['unlockpt'] = libc.unlockpt(ms[2][0])
res['after_unlockpt'] = ioctl_int(ms[2][0], TIOCGPTLCK)
out(res)
`);
  t.same(both.fuse, {
    ptn: [0, 1, 2],
    lock: [1, 0, 1, 0],
    others_still_locked: [1, 1],
    slave: ['ENOTTY', 'ENOTTY', 'ENOTTY'],
    ptsname: '/dev/pts/1',
    unlockpt: 0,
    after_unlockpt: 0,
  }, 'index and lock per pty, any non-zero locks; the slave does not know them');
  sameAsKernel(t, both);
});

t.test('TIOCGPTPEER fails with an errno, never a new fd; the master goes on working', { skip: MISSING }, async (t) => {
  const { dir } = await mountPts(t);
  const r = await pyJson(t, String.raw`
d = sys.argv[1]
m, n = openpt(d)
fds_before = sorted(os.listdir('/proc/self/fd'))
res = {'peer': raw_ioctl(m, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY),
       'peer_fcntl': err(fcntl.ioctl, m, TIOCGPTPEER, os.O_RDWR)}
res['no_new_fd'] = sorted(os.listdir('/proc/self/fd')) == fds_before
s = os.open(os.path.join(d, str(n)), os.O_RDWR | os.O_NOCTTY)
os.write(m, b'ok\n')
res['after'] = with_alarm(2, os.read, s, 10)
out(res)
`, [dir]);
  t.type(r.peer, 'string', `TIOCGPTPEER fails with an errno (${r.peer}), not a positive fd`);
  t.equal(r.peer_fcntl, r.peer, 'the same errno every time');
  t.equal(r.no_new_fd, true, 'no fd appeared in the caller');
  t.equal(r.after, 'ok\n', 'ptsname + open, the glibc fallback, works');
});

t.test('initial termios and window size are those of a new kernel pty', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', String.raw`
d = sys.argv[1]
m, s, n = openpair(d)
a = termios.tcgetattr(s)
out({'slave': a[:6], 'cc': [c if isinstance(c, int) else ord(c) for c in a[6]], 'master': termios.tcgetattr(m)[:6],
     'winsz': [list(struct.unpack('HHHH', fcntl.ioctl(fd, TIOCGWINSZ, b'\0' * 8))) for fd in (m, s)]})
`);
  const f = both.fuse;
  const [iflag, oflag, cflag, lflag] = f.slave as number[];
  const T = { ICRNL: 0o400, IXON: 0o2000, OPOST: 1, ONLCR: 4, CS8: 0o60, CREAD: 0o200, B38400: 0o17,
    ISIG: 1, ICANON: 2, ECHO: 0o10, ECHOE: 0o20, ECHOK: 0o40, ECHOCTL: 0o1000, ECHOKE: 0o4000, IEXTEN: 0o100000 };
  t.equal(iflag, T.ICRNL | T.IXON, 'iflag ICRNL|IXON');
  t.equal(oflag, T.OPOST | T.ONLCR, 'oflag OPOST|ONLCR');
  // pty.c: the slave's init_termios.c_cflag is B38400|CS8|CREAD (no HUPCL).
  t.equal(cflag, T.B38400 | T.CS8 | T.CREAD, 'cflag B38400|CS8|CREAD');
  t.equal(lflag, T.ISIG | T.ICANON | T.ECHO | T.ECHOE | T.ECHOK | T.ECHOCTL | T.ECHOKE | T.IEXTEN, 'lflag ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN');
  t.same(f.master, f.slave, 'the master reports the slave\'s termios');
  t.same(f.winsz, [[0, 0, 0, 0], [0, 0, 0, 0]], 'window 0x0 on both sides');
  sameAsKernel(t, both);
});

t.test('TCSETS, TCSETSW, TCSETSF from either side really change the line discipline', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', String.raw`
d = sys.argv[1]
res = {}
m, s, n = openpair(d)
def setlflag(fd, when, off=0, on=0):
    a = termios.tcgetattr(fd); a[3] = (a[3] & ~off) | on; termios.tcsetattr(fd, when, a)
# echo off from the slave (TCSETS): the master sees no echo, the slave still reads the line
setlflag(s, termios.TCSANOW, off=termios.ECHO)
os.write(m, b'secret\n')
res['echo_off'] = {'slave': with_alarm(2, os.read, s, 100), 'master': read_avail(m), 'flag': bool(termios.tcgetattr(m)[3] & termios.ECHO)}
# echo back on from the master (TCSETSW)
setlflag(m, termios.TCSADRAIN, on=termios.ECHO)
os.write(m, b'shown\n')
res['echo_on'] = {'slave': with_alarm(2, os.read, s, 100), 'master': read_avail(m)}
# TCSETSF discards pending input
os.write(m, b'discard me\n'); time.sleep(0.1); read_avail(m)
setlflag(s, termios.TCSAFLUSH)
os.set_blocking(s, False); res['flushed'] = err(os.read, s, 100); os.set_blocking(s, True)
# raw mode from the master: bytes without a newline, no echo, no CR translation
a = termios.tcgetattr(m)
a[0] &= ~(termios.ICRNL | termios.IXON); a[1] &= ~termios.OPOST
a[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
a[6][termios.VMIN] = 1; a[6][termios.VTIME] = 0
termios.tcsetattr(m, termios.TCSANOW, a)
os.write(m, b'ab\r')
res['raw'] = {'slave': with_alarm(2, read_exact, s, 3), 'master': read_avail(m, 0.1)}
os.write(s, b'x\ny')
res['raw_out'] = with_alarm(2, read_exact, m, 3)
# ISIG off: ^C is just a byte
os.write(m, b'\x03')
res['ctrl_c_byte'] = with_alarm(2, os.read, s, 10)
# back to canonical from the slave
a = termios.tcgetattr(s); a[3] |= termios.ICANON; termios.tcsetattr(s, termios.TCSANOW, a)
os.write(m, b'l1\nl2\n'); time.sleep(0.1)
res['canon_again'] = [with_alarm(2, os.read, s, 100), with_alarm(2, os.read, s, 100)]
# special characters: VEOF changed to ^A
a = termios.tcgetattr(s); a[6][termios.VEOF] = b'\x01'; termios.tcsetattr(s, termios.TCSANOW, a)
os.write(m, b'\x01')
res['veof_changed'] = with_alarm(2, os.read, s, 10)
res['cc_veof'] = termios.tcgetattr(m)[6][termios.VEOF]
out(res)
`);
  t.same(both.fuse, {
    echo_off: { slave: 'secret\n', master: '', flag: false },
    echo_on: { slave: 'shown\n', master: 'shown\r\n' },
    flushed: 'EAGAIN',
    raw: { slave: 'ab\r', master: '' },
    raw_out: 'x\ny',
    ctrl_c_byte: '\x03',
    canon_again: ['l1\n', 'l2\n'],
    veof_changed: '',
    cc_veof: '\x01',
  });
  sameAsKernel(t, both);
});

t.test('TCGETS2 and TCSETS2 (data moved by the kernel) work on both sides', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', String.raw`
d = sys.argv[1]
TCGETS2 = 0x802c542a; TCSETS2 = 0x402c542b; TCSETSW2 = 0x402c542c; TCSETSF2 = 0x402c542d
BOTHER = 0o10000
m, s, n = openpair(d)
res = {}
def get2(fd):
    b = bytearray(44); fcntl.ioctl(fd, TCGETS2, b, True); return b
b = get2(m)
res['flags'] = list(struct.unpack_from('IIII', b))
res['speeds'] = list(struct.unpack_from('II', b, 36))
lf = struct.unpack_from('I', b, 12)[0]
struct.pack_into('I', b, 12, lf & ~termios.ECHO)
fcntl.ioctl(m, TCSETS2, bytes(b))
res['echo_after'] = bool(termios.tcgetattr(s)[3] & termios.ECHO)
os.write(m, b'q\n')
res['no_echo'] = [with_alarm(2, os.read, s, 10), read_avail(m, 0.1)]
# a custom speed with BOTHER through TCSETSW2 on the slave
b = get2(s)
cflag = struct.unpack_from('I', b, 8)[0]
struct.pack_into('I', b, 8, (cflag & ~0o10017) | BOTHER)
struct.pack_into('II', b, 36, 12345, 12345)
fcntl.ioctl(s, TCSETSW2, bytes(b))
b = get2(m)
res['custom_speed'] = [struct.unpack_from('I', b, 8)[0] & 0o10017 == BOTHER, list(struct.unpack_from('II', b, 36))]
fcntl.ioctl(s, TCSETSF2, bytes(b))
res['still_works'] = ptn(m)
out(res)
`);
  t.same(both.fuse.echo_after, false, 'TCSETS2 from the master turned echo off');
  t.same(both.fuse.no_echo, ['q\n', ''], 'and the line discipline no longer echoes');
  t.same(both.fuse.speeds, [38400, 38400], 'TCGETS2 speeds 38400');
  t.same(both.fuse.custom_speed, [true, [12345, 12345]], 'a BOTHER speed set with TCSETSW2 reads back');
  sameAsKernel(t, both);
});

t.test('TIOCSWINSZ on one side is seen by TIOCGWINSZ on the other', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', String.raw`
d = sys.argv[1]
m, s, n = openpair(d)
def setws(fd, *v): fcntl.ioctl(fd, TIOCSWINSZ, struct.pack('HHHH', *v))
def getws(fd): return list(struct.unpack('HHHH', fcntl.ioctl(fd, TIOCGWINSZ, b'\0' * 8)))
res = {}
setws(m, 40, 120, 960, 640)
res['set_on_master'] = [getws(s), getws(m)]
setws(s, 50, 132, 0, 0)
res['set_on_slave'] = [getws(m), getws(s)]
# a second slave fd sees it too
s2 = os.open(os.path.join(d, str(n)), os.O_RDWR | os.O_NOCTTY)
res['second_fd'] = getws(s2)
import shutil
res['os_get_terminal_size'] = list(os.get_terminal_size(s))
out(res)
`);
  t.same(both.fuse, {
    set_on_master: [[40, 120, 960, 640], [40, 120, 960, 640]],
    set_on_slave: [[50, 132, 0, 0], [50, 132, 0, 0]],
    second_fd: [50, 132, 0, 0],
    os_get_terminal_size: [132, 50],
  });
  sameAsKernel(t, both);
});

t.test('bad pointers get EFAULT, unknown ioctls ENOTTY, and the server survives it all', { skip: MISSING }, async (t) => {
  const { dir, mount } = await mountPts(t);
  const script = String.raw`
d = sys.argv[1]
m, s, n = openpair(d)
PROT_READ = 1; MAP_PRIVATE = 2; MAP_ANONYMOUS = 0x20
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
ro = libc.mmap(None, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
res = {}
bad = {'null': 0, 'low': 8, 'high': 0xffffffffff00, 'kernel': 0xffffffff81000000, 'minus1': 0xffffffffffffffff}
for name, ptr in bad.items():
    res[name] = {side: [raw_ioctl(fd, req, ptr) for req in (TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, TIOCSWINSZ)]
                 for side, fd in (('master', m), ('slave', s))}
    res[name]['TIOCGPTN'] = raw_ioctl(m, TIOCGPTN, ptr)
    res[name]['TIOCSPTLCK'] = raw_ioctl(m, TIOCSPTLCK, ptr)
# writing into read-only memory: EFAULT; reading from it: fine
res['readonly'] = {'TCGETS': raw_ioctl(s, TCGETS, ro), 'TIOCGWINSZ': raw_ioctl(m, TIOCGWINSZ, ro), 'TIOCGPTN': raw_ioctl(m, TIOCGPTN, ro),
                   'TIOCSWINSZ': raw_ioctl(m, TIOCSWINSZ, ro)}
# unknown commands
buf = ctypes.create_string_buffer(64)
addr = ctypes.addressof(buf)
res['unknown'] = {
    'legacy_master': raw_ioctl(m, 0x54ff, 0),
    'legacy_slave': raw_ioctl(s, 0x54ff, addr),
    'ioc_read_master': raw_ioctl(m, 0x80085499, addr),   # _IOR('T', 0x99, 8)
    'ioc_write_slave': raw_ioctl(s, 0x40085499, addr),   # _IOW('T', 0x99, 8)
    'other_type': raw_ioctl(m, 0xc0046600 | 0x7e, addr),  # _IOWR('f', 0x7e, 4)
    'zero': raw_ioctl(s, 0, 0),
}
# still working afterwards
os.write(m, b'alive\n')
res['after'] = [with_alarm(2, os.read, s, 100), ptn(m), termios.tcgetattr(s)[3] & termios.ICANON != 0]
out(res)
`;
  const r = await pyJson(t, script, [dir]);
  for (const name of ['null', 'low', 'high', 'kernel', 'minus1']) {
    t.same(r[name], {
      master: ['EFAULT', 'EFAULT', 'EFAULT', 'EFAULT', 'EFAULT', 'EFAULT'],
      slave: ['EFAULT', 'EFAULT', 'EFAULT', 'EFAULT', 'EFAULT', 'EFAULT'],
      TIOCGPTN: 'EFAULT',
      TIOCSPTLCK: 'EFAULT',
    }, `${name} pointer: EFAULT for TCGETS, TCSETS*, TIOCGWINSZ, TIOCSWINSZ on both sides, TIOCGPTN, TIOCSPTLCK`);
  }
  t.same(r.readonly, { TCGETS: 'EFAULT', TIOCGWINSZ: 'EFAULT', TIOCGPTN: 'EFAULT', TIOCSWINSZ: 0 }, 'a read-only page: EFAULT for what writes to it');
  t.same(r.unknown, {
    legacy_master: 'ENOTTY', legacy_slave: 'ENOTTY', ioc_read_master: 'ENOTTY', ioc_write_slave: 'ENOTTY', other_type: 'ENOTTY', zero: 'ENOTTY',
  }, 'unknown commands: ENOTTY');
  t.same(r.after, ['alive\n', 0, true], 'the pty and the server still work');
  for (let i = 0; i < 50 && mount.namespace.ptys.size > 0; i++) await sleep(20);
  t.equal(mount.namespace.ptys.size, 0, 'and the client\'s exit closed its pty');

  // The same against the kernel, where the two can agree (every case above).
  const both = await runBoth(t, '', script);
  sameAsKernel(t, both);

  // After all that, a fresh client on the same mount still works.
  const again = await pyJson(t, String.raw`
m, s, n = openpair(sys.argv[1])
os.write(s, b'fine')
out([n, with_alarm(2, read_exact, m, 4)])
`, [dir]);
  t.same(again, [0, 'fine'], 'a new client is served');
});

t.test('tcflush and tcdrain do what a program expects', { skip: MISSING }, async (t) => {
  const both = await runBoth(t, '', String.raw`
d = sys.argv[1]
m, s, n = openpair(d, raw=True)
res = {}
os.write(m, b'abc'); time.sleep(0.1)
termios.tcflush(s, termios.TCIFLUSH)
os.set_blocking(s, False); res['iflush'] = err(os.read, s, 10); os.set_blocking(s, True)
# TCOFLUSH drops only what is still in flight: output the master can already
# read stays (pty_flush_buffer flushes the peer's flip buffer only)
os.write(s, b'xyz'); time.sleep(0.1)
termios.tcflush(s, termios.TCOFLUSH)
os.set_blocking(m, False); res['oflush'] = err(os.read, m, 10); os.set_blocking(m, True)
os.write(m, b'uvw'); time.sleep(0.1)
termios.tcflush(m, termios.TCIOFLUSH)
os.set_blocking(m, False); os.set_blocking(s, False)
res['ioflush_master'] = [err(os.read, s, 10), err(os.read, m, 10)]
os.set_blocking(m, True); os.set_blocking(s, True)
res['tcdrain'] = err(termios.tcdrain, s)
res['bad_flush_arg'] = raw_ioctl(s, 0x540B, 7)   # TCFLSH with an invalid queue
os.write(m, b'ok'); res['after'] = with_alarm(2, read_exact, s, 2)
out(res)
`);
  t.same(both.fuse, { iflush: 'EAGAIN', oflush: 'xyz', ioflush_master: ['uvw', 'EAGAIN'], tcdrain: null, bad_flush_arg: 'EINVAL', after: 'ok' },
    'TCIFLUSH drops unread input; TCOFLUSH keeps output that already arrived');
  sameAsKernel(t, both);
});
