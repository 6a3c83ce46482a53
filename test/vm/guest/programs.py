# Everyday programs that need their terminal to be a character device
# (ttyname, S_ISCHR), driven through a pty master as a terminal emulator or
# sshd would drive them. Run in a container by chr.guest.ts, once on an
# entries=chr mount and once on a kernel devpts; prints key=value lines,
# which must be the same.
#
# Usage: programs.py SCENARIO...
import os, pty, select, signal, subprocess, sys, tempfile, time

ENV = dict(os.environ, TERM='xterm', SHELL='/bin/sh', PS1='$ ', HOME='/root', LC_ALL='C')


LOGIN_WAIT = 120.0


def out(key, value):
    print('%s=%s' % (key, value), flush=True)


class Term:
    """A program on a fresh pty, its output collected from the master."""

    def __init__(self, argv, env=ENV):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.buf = b''

    def expect(self, want, t=15.0):
        end = time.time() + t
        while want not in self.buf and time.time() < end:
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    d = os.read(self.fd, 4096)
                except OSError:
                    break
                if not d:
                    break
                self.buf += d
        i = self.buf.find(want)
        if i < 0:
            sys.stderr.write('timeout waiting for %r in %r\n' % (want, self.buf[-400:]))
            return 'timeout'
        self.buf = self.buf[i + len(want):]
        return 'ok'

    def send(self, data):
        os.write(self.fd, data)

    def wait(self, t=15.0):
        end = time.time() + t
        while time.time() < end:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(st)
            # keep draining, or a program blocked on output never exits
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    self.buf += os.read(self.fd, 4096)
                except OSError:
                    pass
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        return 'timeout'


def sh(cmd):
    return Term(['/bin/sh', '-c', cmd])


def tty():
    t = sh('tty; echo "exit=$?"')
    out('tty.name', t.expect(b'/dev/pts/0\r\n'))
    out('tty.exit', t.expect(b'exit=0'))
    t.wait()


def cat():
    # coreutils refuses "input file is output file" when both are one regular file
    t = sh('cat; echo "cat-exit=$?"')
    t.send(b'hello\n')
    out('cat.copied', t.expect(b'hello\r\nhello\r\n'))
    t.send(b'\x04')
    out('cat.exit', t.expect(b'cat-exit=0'))
    t.wait()


def grep():
    t = sh('grep hel; echo "grep-exit=$?"')
    # one write, so the echo of both lines comes before grep's answer
    t.send(b'world\nhello\n')
    out('grep.matched', t.expect(b'world\r\nhello\r\nhello\r\n'))
    t.send(b'\x04')
    out('grep.exit', t.expect(b'grep-exit=0'))
    t.wait()


def sed():
    # glibc line-buffers stdout only on a character device: the line comes back before EOF
    t = sh('sed s/x/y/')
    t.send(b'x1\n')
    out('sed.line_before_eof', t.expect(b'y1\r\n'))
    t.send(b'\x04')
    out('sed.exit', t.wait())


def expect_():
    # Tcl expect allocates a pty of its own (through /dev/ptmx) and needs its name
    script = 'spawn sh -c {read x; echo got-$x}; send "yo\\r"; expect "got-yo"; puts expect-ok'
    r = subprocess.run(['expect', '-c', script], capture_output=True, timeout=30)
    out('expect.result', 'ok' if b'expect-ok' in r.stdout else 'failed: %r' % (r.stdout + r.stderr)[-200:])


def screen():
    d = tempfile.mkdtemp(prefix='screen-')
    os.chmod(d, 0o700)
    env = dict(ENV, SCREENDIR=d)
    t = Term(['screen', '-S', 'ptsfs', '-s', '/bin/sh'], env)
    t.send(b'echo in-$((6*7))\r')
    out('screen.started', t.expect(b'in-42'))
    t.send(b'\x01d')
    out('screen.detached', t.expect(b'[detached'))
    out('screen.detached_exit', t.wait())
    t = Term(['screen', '-r', 'ptsfs'], env)
    out('screen.attached', t.expect(b'in-42'))
    t.send(b'exit\r')
    out('screen.ended', t.expect(b'[screen is terminating]'))
    out('screen.exit', t.wait())


def sudo():
    # Defaults requiretty is in /etc/sudoers.d (written by chr.guest.ts)
    t = sh('sudo -n true; echo "sudo-exit=$?"')
    out('sudo.requiretty', t.expect(b'sudo-exit=0'))
    t.wait()


def who():
    # login(1) records the terminal's name in utmp; who(1) shows it
    t = Term(['login', '-f', 'root'])
    # only at root's prompt: login sets the terminal up with TCSAFLUSH, which
    # drops what was typed before (util-linux login.c, init_tty). Root's
    # profile (the host's, pyenv and all) takes 14-17 s under TCG, on either.
    out('who.prompt', t.expect(b'# ', LOGIN_WAIT))
    t.send(b'who | sed -n "s/^root *\\(pts\\/[0-9]*\\).*/who-line=\\1/p"; exit\r')
    out('who.after_login', t.expect(b'who-line=pts/0'))
    t.wait()


def sshd():
    d = tempfile.mkdtemp(prefix='sshd-')
    for k in ('host', 'user'):
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', '%s/%s' % (d, k)], check=True)
    os.rename('%s/user.pub' % d, '%s/authorized_keys' % d)
    os.makedirs('/run/sshd', exist_ok=True)
    opts = ['-o', 'HostKey=%s/host' % d, '-o', 'AuthorizedKeysFile=%s/authorized_keys' % d, '-o', 'StrictModes=no',
            '-o', 'PermitRootLogin=yes', '-o', 'UsePAM=no', '-o', 'PidFile=none', '-o', 'ListenAddress=127.0.0.1:2222']
    srv = subprocess.Popen(['/usr/sbin/sshd', '-D', '-e', '-f', '/dev/null'] + opts, stderr=subprocess.PIPE)
    try:
        ssh = ['ssh', '-tt', '-p', '2222', '-i', '%s/user' % d, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
               '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', 'root@127.0.0.1']
        for _ in range(50):
            r = subprocess.run(ssh + ['tty'], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            if r.returncode != 255:
                break
            time.sleep(0.2)  # sshd not listening yet
        out('sshd.command', r.stdout.decode().strip() if r.returncode == 0 else 'failed: %r' % (r.stdout + r.stderr)[-300:])
        r = subprocess.run(ssh, input=b'tty; exit 3\n', capture_output=True, timeout=30)
        shell = [l for l in r.stdout.decode().split('\r\n') if l.startswith('/dev/')]
        out('sshd.shell', '%s exit=%d' % (shell[:1], r.returncode))
    finally:
        srv.kill()
        err = srv.communicate()[1].decode()
        if 'ttyname' in err or 'openpty' in err:
            out('sshd.log', err.strip().replace('\n', ' | ')[-300:])


SCENARIOS = {'tty': tty, 'cat': cat, 'grep': grep, 'sed': sed, 'expect': expect_, 'screen': screen,
             'sudo': sudo, 'who': who, 'sshd': sshd}
for name in sys.argv[1:]:
    try:
        SCENARIOS[name]()
    except Exception as e:  # one scenario failing must not hide the others
        out(name + '.error', repr(e)[:200])
