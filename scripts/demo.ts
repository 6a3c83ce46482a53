// `npm run demo`: two independent pts namespaces, each giving out index 0,
// and a program allocating a pty inside a "container" (a private mount
// namespace) wired to one of them. Needs root and /dev/fuse.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { mountType } from '../src/fuse';
import { mountNamespace, parseOptions, type PtsMount } from '../src/pts';

const run = promisify(execFile);

// Clients run as child processes: this process serves the mounts and must
// never block on them itself.
const OPEN_BOTH = `
import fcntl, os, struct, sys
TIOCGPTN = 0x80045430
fds = [os.open(d + '/ptmx', os.O_RDWR | os.O_NOCTTY) for d in sys.argv[1:]]
for d, fd in zip(sys.argv[1:], fds):
    n = struct.unpack('i', fcntl.ioctl(fd, TIOCGPTN, bytes(4)))[0]
    print(f'  opened {d}/ptmx -> pty index {n}; {d} now holds {sorted(os.listdir(d))}')
`;

const IN_CONTAINER = `
set -e
mount --bind "$1" /dev/pts
mount --bind "$1/ptmx" /dev/ptmx
echo "  inside: ls /dev/pts -> $(ls /dev/pts | tr '\\n' ' ')"
python3 -c '
import os
m, s = os.openpty()
print("  inside: os.openpty() gave", os.readlink("/proc/self/fd/%d" % s), "isatty:", os.isatty(s))
os.write(m, b"hello through ptsfs\\n")
print("  inside: the slave read", os.read(s, 100))
'
script -qc 'echo "  inside: script(1) ran this on a ptsfs pty, stty size says $(stty size)"' /dev/null
`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo mounts filesystems: run it as root');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ptsfs-demo-'));
  const dirs = [path.join(base, 'container-a'), path.join(base, 'container-b')];
  const mounts: PtsMount[] = [];
  try {
    for (const d of dirs) {
      fs.mkdirSync(d);
      mounts.push(await mountNamespace(d, parseOptions('ptmxmode=666,mode=620,gid=5')));
      console.log(`mounted a pts namespace on ${d}`);
    }
    console.log('\n1. one pty in each namespace: both get index 0');
    process.stdout.write((await run('python3', ['-c', OPEN_BOTH, ...dirs])).stdout);

    console.log(`\n2. a container (private mount namespace) with ${dirs[0]} on /dev/pts`);
    const { stdout } = await run('unshare', ['-m', 'sh', '-c', IN_CONTAINER, 'sh', dirs[0]!]);
    process.stdout.write(stdout.replace(/\r/g, ''));
    console.log(`\n3. the host did not notice: its /dev/pts is still a ${mountType('/dev/pts') ?? 'plain directory'} mount`);
  } finally {
    for (const m of mounts) await m.stop();
    for (const d of dirs) if (fs.existsSync(d)) fs.rmdirSync(d);
    fs.rmdirSync(base);
    console.log('unmounted both namespaces');
  }
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
