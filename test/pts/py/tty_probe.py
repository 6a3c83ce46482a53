# A terminal's behaviour as a program sees it, printed as key=value lines,
# run in a container on a ptsfs mount and on a kernel devpts instance; the
# test compares the two outputs. Sections: packet mode, flow control, the
# signal keys of the line discipline, the controlling terminal, the rest of
# the ioctl surface, and what an unprivileged caller may do.
#
# Signals are fenced: after an action, the parent sends the child SIGRTMIN,
# and since standard signals are delivered before real-time ones, everything
# the action sent has been handled once the fence is seen.
import errno, fcntl, os, select, signal, struct, sys, termios, time

TIOCPKT_NAMES = {1: 'FLUSHREAD', 2: 'FLUSHWRITE', 4: 'STOP', 8: 'START', 16: 'NOSTOP', 32: 'DOSTOP'}
TIOCGEXCL = 0x80045440
TIOCGPKT = 0x80045438
TIOCVHANGUP = 0x5437
TIOCGDEV = 0x80045432
TIOCSBRK, TIOCCBRK = 0x5427, 0x5428
TIOCGSID = 0x5429
INT = struct.Struct('i')


def out(key, value):
    print('%s=%s' % (key, value), flush=True)


def err(x):
    return 'ERR:' + errno.errorcode.get(x.errno, str(x.errno))


def attempt(fn):
    try:
        r = fn()
        return 'ok' if r is None else str(r)
    except OSError as x:
        return err(x)
    except termios.error as x:
        return err(OSError(x.args[0], x.args[1]))


def ioctl_int(fd, cmd, arg=0):
    return INT.unpack(fcntl.ioctl(fd, cmd, INT.pack(arg)))[0]


def readable(fd, t=0.3):
    return bool(select.select([fd], [], [], t)[0])


def read_now(fd, t=1.0):
    """What fd has within t seconds, then whatever follows within 0.1 s."""
    got = b''
    while readable(fd, t if not got else 0.1):
        try:
            d = os.read(fd, 4096)
        except OSError as x:
            return got + err(x).encode()
        if not d:
            break
        got += d
    return got


def write_nonblock(fd, data):
    # a blocking write to a stopped terminal waits for ^Q (n_tty_write)
    os.set_blocking(fd, False)
    try:
        return attempt(lambda: os.write(fd, data))
    finally:
        os.set_blocking(fd, True)


def packets(fd):
    """Master reads in packet mode: each read's status byte named, or its data."""
    seen = []
    while readable(fd, 0.5 if not seen else 0.1):
        p = os.read(fd, 4096)
        if p[0] == 0:
            seen.append('data:' + p[1:].decode())
        else:
            seen.append('+'.join(n for b, n in TIOCPKT_NAMES.items() if p[0] & b))
    return ','.join(seen) or 'none'


def raw_slave(s):
    a = termios.tcgetattr(s)
    a[3] &= ~(termios.ICANON | termios.ECHO)
    termios.tcsetattr(s, termios.TCSANOW, a)


def section_packet():
    m, s = os.openpty()
    raw_slave(s)
    fcntl.ioctl(m, termios.TIOCPKT, INT.pack(1))
    out('pkt.gpkt', ioctl_int(m, TIOCGPKT))
    out('pkt.idle', packets(m))
    os.write(s, b'x')
    out('pkt.data', packets(m))
    termios.tcflush(s, termios.TCIFLUSH)
    out('pkt.tciflush', packets(m))
    termios.tcflush(s, termios.TCOFLUSH)
    out('pkt.tcoflush', packets(m))
    os.write(m, b'\x13')  # ^S with IXON
    out('pkt.stop', packets(m))
    out('pkt.held_write', write_nonblock(s, b'held'))
    out('pkt.held', packets(m))
    os.write(m, b'\x11')  # ^Q
    out('pkt.start', packets(m))
    a = termios.tcgetattr(s)
    a[0] &= ~termios.IXON
    termios.tcsetattr(s, termios.TCSANOW, a)
    out('pkt.ixon_off', packets(m))
    a[0] |= termios.IXON
    termios.tcsetattr(s, termios.TCSANOW, a)
    out('pkt.ixon_on', packets(m))
    fcntl.ioctl(m, termios.TIOCPKT, INT.pack(0))
    os.write(s, b'plain')
    out('pkt.off', read_now(m))
    os.close(s)
    os.close(m)


def section_flow():
    m, s = os.openpty()
    raw_slave(s)

    def held(data):
        # a blocking write to a stopped terminal waits for it to start again
        pid = os.fork()
        if pid == 0:
            os.write(s, data)
            os._exit(0)
        return pid
    # n_tty takes typed bytes in order: once the slave read the byte after ^S, output is stopped
    os.write(m, b'\x13z')
    out('flow.after_stop', repr(read_now(s)))
    out('flow.stopped_write', write_nonblock(s, b'one'))
    pid = held(b'one')
    out('flow.stopped_readable', readable(m))
    # TCOON restarts only what TCOOFF stopped (n_tty_ioctl_helper: tco_stopped)
    termios.tcflow(s, termios.TCOON)
    out('flow.tcoon_after_stop', readable(m))
    os.write(m, b'\x11')
    out('flow.start', repr(read_now(m)))
    os.waitpid(pid, 0)
    termios.tcflow(s, termios.TCOOFF)
    pid = held(b'two')
    out('flow.tcooff_readable', readable(m))
    # ... and ^Q does not restart what TCOOFF stopped (__start_tty)
    os.write(m, b'\x11')
    out('flow.start_after_tcooff', readable(m))
    termios.tcflow(s, termios.TCOON)
    out('flow.tcoon', repr(read_now(m)))
    os.waitpid(pid, 0)
    # a signal key restarts output too (n_tty_receive_signal_char: start_tty)
    os.write(m, b'\x13z')
    read_now(s)
    pid = held(b'three')
    a = termios.tcgetattr(s)
    a[3] |= termios.ISIG
    termios.tcsetattr(s, termios.TCSANOW, a)
    os.write(m, b'\x03')
    out('flow.intr_restarts', repr(read_now(m)))
    os.waitpid(pid, 0)
    os.close(s)
    os.close(m)


class Child:
    """A session leader with the slave as controlling terminal, reporting the signals it gets."""

    def __init__(self, s, setup=None):
        self.r, w = os.pipe()
        ready_r, ready_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.r)
            os.setsid()
            fcntl.ioctl(s, termios.TIOCSCTTY, 0)
            # blocked and taken with sigwaitinfo, in the kernel's order (standard
            # signals lowest first, then real-time ones): no handler races
            watched = {signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGHUP, signal.SIGCONT,
                       signal.SIGWINCH, signal.SIGTTOU, signal.SIGTTIN, signal.SIGRTMIN}
            signal.pthread_sigmask(signal.SIG_BLOCK, watched)
            if setup:
                setup()
            os.write(ready_w, b'r')
            while True:
                n = signal.sigwaitinfo(watched).si_signo
                os.write(w, b'F' if n == signal.SIGRTMIN else signal.Signals(n).name.encode() + b' ')
        os.close(w)
        os.close(ready_w)
        os.read(ready_r, 1)
        os.close(ready_r)

    def signals(self):
        os.kill(self.pid, signal.SIGRTMIN)
        got = b''
        while not got.endswith(b'F'):
            d = os.read(self.r, 100)
            if not d:
                break
            got += d
        return got[:-1].decode().strip().replace(' ', '+') or 'none'

    def end(self):
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.r)


def keys_case(name, change, typed):
    """Types on the master with the slave's termios changed by `change`; what the group and the reader see."""
    m, s = os.openpty()
    a = termios.tcgetattr(s)
    change(a)
    termios.tcsetattr(s, termios.TCSANOW, a)
    c = Child(s)
    os.write(m, typed + b'b\n')
    # the kernel's n_tty signals from its flip-buffer worker: once the line
    # is read, every key before it has been handled
    out('keys.%s.read' % name, repr(read_now(s)))
    out('keys.%s.signals' % name, c.signals())
    out('keys.%s.echo' % name, repr(read_now(m)))
    c.end()
    os.close(s)
    os.close(m)


def lflag(clear=0, set_=0):
    def change(a):
        a[3] = (a[3] & ~clear) | set_
    return change


def cc(i, v):
    def change(a):
        a[6][i] = v
    return change


def section_keys():
    keys_case('intr', lflag(), b'a\x03')
    keys_case('quit', lflag(), b'a\x1c')
    keys_case('susp', lflag(), b'a\x1a')
    keys_case('noflsh', lflag(set_=termios.NOFLSH), b'a\x03')
    keys_case('noechoctl', lflag(clear=termios.ECHOCTL), b'a\x03')
    keys_case('noisig', lflag(clear=termios.ISIG), b'a\x03')
    keys_case('lnext', lflag(), b'a\x16\x03')
    keys_case('lnext_noiexten', lflag(clear=termios.IEXTEN), b'a\x16\x03')
    keys_case('vintr_changed', cc(termios.VINTR, b'\x18'), b'a\x03\x18')
    keys_case('vintr_nul', cc(termios.VINTR, b'\x00'), b'a\x03\x00')


def section_ctty():
    m, s = os.openpty()
    # the opener is no session leader: EPERM
    out('ctty.not_leader', attempt(lambda: fcntl.ioctl(s, termios.TIOCSCTTY, 0)))
    out('ctty.gsid_none', attempt(lambda: ioctl_int(s, TIOCGSID)))
    out('ctty.gpgrp_none', attempt(lambda: ioctl_int(m, termios.TIOCGPGRP)))
    c = Child(s)
    out('ctty.gsid', attempt(lambda: ioctl_int(s, TIOCGSID) == c.pid))
    out('ctty.gsid_master', attempt(lambda: ioctl_int(m, TIOCGSID) == c.pid))
    out('ctty.gpgrp_master', attempt(lambda: ioctl_int(m, termios.TIOCGPGRP) == c.pid))
    # from outside the session: TIOCSPGRP is refused; the slave is not our ctty
    out('ctty.spgrp_stranger', attempt(lambda: ioctl_int(s, termios.TIOCSPGRP, os.getpgrp())))
    out('ctty.spgrp_master', attempt(lambda: ioctl_int(m, termios.TIOCSPGRP, c.pid)))
    fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack('HHHH', 10, 20, 0, 0))
    out('ctty.winch_slave', c.signals())
    fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack('HHHH', 11, 21, 0, 0))
    out('ctty.winch_master', c.signals())
    fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack('HHHH', 11, 21, 0, 0))
    out('ctty.winch_same_size', c.signals())
    # a second session leader may not take it (root may steal it with arg 1)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.write(w, attempt(lambda: fcntl.ioctl(s, termios.TIOCSCTTY, 0)).encode() + b' ')
        os.write(w, attempt(lambda: fcntl.ioctl(s, termios.TIOCSCTTY, 1)).encode() + b' ')
        os.write(w, attempt(lambda: ioctl_int(s, TIOCGSID) == os.getpid()).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    out('ctty.second_leader', os.read(r, 100).decode().replace(' ', ','))
    os.close(r)
    out('ctty.stolen_from', c.signals())
    c.end()
    os.close(s)
    os.close(m)

    # TIOCNOTTY by the session leader: SIGHUP and SIGCONT to the foreground group
    m, s = os.openpty()
    c = Child(s, setup=lambda: (fcntl.ioctl(s, termios.TIOCNOTTY), None)[1])
    out('ctty.notty_leader', c.signals())
    out('ctty.notty_gsid', attempt(lambda: ioctl_int(m, TIOCGSID)))
    c.end()
    # the tty entry from a process without a controlling terminal
    pid = os.fork()
    if pid == 0:
        os.setsid()
        try:
            os.open('/dev/tty', os.O_RDWR)
            os._exit(0)
        except OSError as x:
            os._exit(x.errno)
    _, st = os.waitpid(pid, 0)
    out('ctty.dev_tty_without', errno.errorcode.get(os.waitstatus_to_exitcode(st), 'opened'))
    # ... and with one: /dev/tty is that terminal
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(s, termios.TIOCSCTTY, 0)
        def check():
            t = os.open('/dev/tty', os.O_RDWR)
            os.write(t, b'via-dev-tty')
            return '%s,%s' % (os.tcgetpgrp(t) == os.getpid(), ioctl_int(t, TIOCGSID) == os.getpid())
        os.write(w, attempt(check).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    out('ctty.dev_tty_with', os.read(r, 100).decode())
    out('ctty.dev_tty_wrote', repr(read_now(m)))
    os.close(r)
    # the leader exited: the next session can take the terminal
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os._exit(0 if attempt(lambda: fcntl.ioctl(s, termios.TIOCSCTTY, 0)) == '0' else 1)
    _, st = os.waitpid(pid, 0)
    out('ctty.free_after_exit', os.waitstatus_to_exitcode(st) == 0)
    os.close(s)
    os.close(m)


def section_ioctls():
    m, s = os.openpty()
    for side, fd in (('slave', s), ('master', m)):
        out('io.%s.getd' % side, attempt(lambda: ioctl_int(fd, termios.TIOCGETD)))
        out('io.%s.setd_ntty' % side, attempt(lambda: ioctl_int(fd, termios.TIOCSETD, 0)))
        out('io.%s.setd_bad' % side, attempt(lambda: ioctl_int(fd, termios.TIOCSETD, 99)))
        out('io.%s.mget' % side, attempt(lambda: ioctl_int(fd, termios.TIOCMGET)))
        out('io.%s.mset' % side, attempt(lambda: ioctl_int(fd, termios.TIOCMSET, 0)))
        out('io.%s.tcsbrk' % side, attempt(lambda: fcntl.ioctl(fd, termios.TCSBRK, 1)))
        out('io.%s.tcsbrkp' % side, attempt(lambda: fcntl.ioctl(fd, termios.TCSBRKP, 0)))
        out('io.%s.sendbreak' % side, attempt(lambda: termios.tcsendbreak(fd, 0)))
        out('io.%s.sbrk' % side, attempt(lambda: fcntl.ioctl(fd, TIOCSBRK, 0)))
        out('io.%s.cbrk' % side, attempt(lambda: fcntl.ioctl(fd, TIOCCBRK, 0)))
        out('io.%s.gdev' % side, attempt(lambda: '%d:%d' % divmod(ioctl_int(fd, TIOCGDEV), 256)))
        out('io.%s.outq' % side, attempt(lambda: ioctl_int(fd, termios.TIOCOUTQ)))
        out('io.%s.exclusive' % side, attempt(lambda: (fcntl.ioctl(fd, termios.TIOCEXCL, 0), ioctl_int(fd, TIOCGEXCL))[1]))
        out('io.%s.other_side_excl' % side, attempt(lambda: ioctl_int(m if fd == s else s, TIOCGEXCL)))
        out('io.%s.nxcl' % side, attempt(lambda: (fcntl.ioctl(fd, termios.TIOCNXCL, 0), ioctl_int(fd, TIOCGEXCL))[1]))
    # TIOCCONS on the master only: on a slave, root would redirect the host's console
    out('io.master.cons', attempt(lambda: fcntl.ioctl(m, termios.TIOCCONS, 0)))
    raw_slave(s)
    out('io.sti_slave', attempt(lambda: fcntl.ioctl(s, termios.TIOCSTI, b'q')))
    out('io.sti_slave_read', repr(read_now(s)))
    out('io.sti_master', attempt(lambda: fcntl.ioctl(m, termios.TIOCSTI, b'w')))
    out('io.sti_master_read', repr(read_now(m)))
    # TCSETSW waits for the output to drain: the peer reads it only afterwards
    os.write(s, b'pending')
    out('io.outq_pending', ioctl_int(s, termios.TIOCOUTQ) >= 0)
    os.close(s)
    os.close(m)
    # vhangup of the slave: the slave fd is dead, the master reads EIO
    m, s = os.openpty()
    out('io.vhangup', attempt(lambda: fcntl.ioctl(s, TIOCVHANGUP, 0)))
    out('io.vhangup.read', attempt(lambda: repr(os.read(s, 10))))
    out('io.vhangup.write', attempt(lambda: os.write(s, b'x')))
    out('io.vhangup.tcgetattr', attempt(lambda: termios.tcgetattr(s) and None))
    out('io.vhangup.spgrp', attempt(lambda: ioctl_int(s, termios.TIOCSPGRP, os.getpgrp())))
    out('io.vhangup.master_write', attempt(lambda: os.write(m, b'y')))
    os.close(s)
    os.close(m)


def section_unprivileged():
    # run as an unprivileged user (setpriv): no CAP_SYS_ADMIN
    m, s = os.openpty()
    out('user.sti', attempt(lambda: fcntl.ioctl(s, termios.TIOCSTI, b'q')))
    out('user.vhangup', attempt(lambda: fcntl.ioctl(s, TIOCVHANGUP, 0)))
    fcntl.ioctl(s, termios.TIOCEXCL, 0)
    name = os.readlink('/proc/self/fd/%d' % s)
    out('user.open_excl', attempt(lambda: os.close(os.open(name, os.O_RDWR | os.O_NOCTTY))))
    c = Child(s)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os._exit(0 if attempt(lambda: fcntl.ioctl(s, termios.TIOCSCTTY, 1)) == '0' else 1)
    _, st = os.waitpid(pid, 0)
    out('user.steal', 'ok' if os.waitstatus_to_exitcode(st) == 0 else 'refused')
    out('user.kept', attempt(lambda: ioctl_int(m, TIOCGSID) == c.pid))
    c.end()
    os.close(s)
    os.close(m)


for name in sys.argv[1:]:
    globals()['section_' + name]()
