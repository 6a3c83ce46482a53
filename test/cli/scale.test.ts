// The scale the host daemon is built for: 200 mounts and 2000 open ptys in
// one process, each mount numbering its own ptys from 0, every one of them
// still moving bytes, and `list` seeing them all.
import * as fs from 'fs';
import t from 'tap';
import { PYTHON } from '../pts/helpers';
import { describe, exec, Proc, userEnv } from '../pts/programs-helpers';
import { BIN, needs, privateDaemon, ptsfsMounts } from './helpers';

const MOUNTS = 200;
const PTYS_PER_MOUNT = 10;
const PTYS = MOUNTS * PTYS_PER_MOUNT;

// Opens PTYS_PER_MOUNT masters in each mount named on stdin, unlocks them,
// checks bytes both ways through every one, prints the indexes; then holds
// them all until stdin closes.
const HOLD = String.raw`
import os, sys, fcntl, struct, json, resource
per = int(sys.argv[1])
dirs = sys.stdin.readline().split('\0')[:-1]
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held, indexes, moved = [], {}, 0
for d in dirs:
    indexes[d] = []
    for _ in range(per):
        m = os.open(d + '/ptmx', os.O_RDWR | os.O_NOCTTY)
        fcntl.ioctl(m, 0x40045431, struct.pack('i', 0))  # TIOCSPTLCK
        n = struct.unpack('I', fcntl.ioctl(m, 0x80045430, b'\0' * 4))[0]  # TIOCGPTN
        s = os.open('%s/%d' % (d, n), os.O_RDWR | os.O_NOCTTY)
        os.write(m, b'x\n')
        if os.read(s, 10) == b'x\n':
            moved += 1
        os.close(s)
        held.append(m)
        indexes[d].append(n)
print(json.dumps({'indexes': indexes, 'moved': moved}), flush=True)
sys.stdin.read()
`;

function ptyMax(): { max: number; nr: number } {
  const read = (name: string): number => Number(fs.readFileSync(`/proc/sys/kernel/pty/${name}`, 'utf8'));
  return { max: read('max'), nr: read('nr') };
}

t.test(`one daemon serves ${MOUNTS} mounts and ${PTYS} open ptys`, needs, async (t) => {
  // Each pty is backed by one of the host's initial devpts instance, which
  // kernel.pty.max caps (the reserve applies only to other instances).
  const { max, nr } = ptyMax();
  const need = nr + PTYS + 64;
  if (need > max) {
    fs.writeFileSync('/proc/sys/kernel/pty/max', String(need));
    t.teardown(() => fs.writeFileSync('/proc/sys/kernel/pty/max', String(max)));
    t.comment(`kernel.pty.max ${max} would stop us at ${max - nr} ptys: raised to ${need} for this test`);
  } else {
    t.comment(`kernel.pty.max ${max} leaves room for ${max - nr} ptys: not raised`);
  }

  const d = await privateDaemon(t);
  const dirs = Array.from({ length: MOUNTS }, (_, i) => `${d.dir}/m/${i}`);
  const loop = `for i in $(seq 0 ${MOUNTS - 1}); do mkdir -p ${d.dir}/m/$i; ${BIN} --socket ${d.socket} mount -o ptmxmode=666 ${d.dir}/m/$i || exit 1; done`;
  const r = await exec(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', 'sh', '-c', loop], { timeoutMs: 120_000, env: userEnv() });
  t.equal(r.code, 0, describe(r));
  t.equal((await ptsfsMounts(d.dir)).length, MOUNTS, `${MOUNTS} mounts`);

  const holder = new Proc(t, PYTHON, ['-c', HOLD, String(PTYS_PER_MOUNT)], { openStdin: true, timeoutMs: 180_000 });
  holder.send(`${dirs.join('\0')}\0\n`);
  await new Promise<void>((resolve) => {
    const check = (): void => { if (holder.stdout.includes('\n') || holder.exited) resolve(); else setTimeout(check, 50); };
    check();
  });
  const held = JSON.parse(holder.stdout || '{}') as { indexes?: Record<string, number[]>; moved?: number };
  t.ok(held.indexes, `the holder opened its ptys: ${holder.stderr.slice(-300)}`);
  const wanted = Array.from({ length: PTYS_PER_MOUNT }, (_, i) => i);
  t.equal(Object.values(held.indexes ?? {}).filter((ix) => JSON.stringify(ix) === JSON.stringify(wanted)).length, MOUNTS, `every mount numbers its ptys 0..${PTYS_PER_MOUNT - 1}`);
  t.equal(held.moved, PTYS, 'bytes went through every one of them');

  const pid = await d.pid();
  const fds = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } });
  t.equal(fds.filter((f) => f === '/dev/fuse').length, MOUNTS, 'one process holds every /dev/fuse connection');
  t.ok(fds.filter((f) => f === '/dev/ptmx').length >= PTYS, 'and a backing pty for each open pty');
  t.ok(ptyMax().nr >= nr + PTYS, `the host counts them (kernel.pty.nr ${ptyMax().nr})`);

  const l = await d.cli(['list', '--json'], { timeoutMs: 30_000 });
  const list = JSON.parse(l.stdout) as { mounts: { ptys: unknown[] }[] };
  t.equal(list.mounts.length, MOUNTS, 'list shows every mount');
  t.equal(list.mounts.reduce((n, m) => n + m.ptys.length, 0), PTYS, 'and every open pty');

  holder.endInput();
  await holder.done;
  const after = JSON.parse((await d.cli(['list', '--json'])).stdout) as { mounts: { ptys: unknown[] }[] };
  t.equal(after.mounts.reduce((n, m) => n + m.ptys.length, 0), 0, 'closed by the holder: no pty left open');
  t.ok(ptyMax().nr <= nr, `and the backing ptys are given back to the host (kernel.pty.nr ${ptyMax().nr}, ${nr} before)`);
});

// Two processes per flooded pty: a writer on the master that never stops,
// a reader draining the slave; prints once bytes flow.
const FLOOD = String.raw`
import os, sys, fcntl, struct
d = sys.argv[1]
m = os.open(d + '/ptmx', os.O_RDWR | os.O_NOCTTY)
fcntl.ioctl(m, 0x40045431, struct.pack('i', 0))  # TIOCSPTLCK
n = struct.unpack('I', fcntl.ioctl(m, 0x80045430, b'\0' * 4))[0]  # TIOCGPTN
s = os.open('%s/%d' % (d, n), os.O_RDWR | os.O_NOCTTY)
if os.fork() == 0:
    while True:
        os.read(s, 65536)
chunk = b'y' * 4095 + b'\n'
os.write(m, chunk)
print('flowing', flush=True)
while True:
    os.write(m, chunk)
`;

t.test('a container flooding its ptys does not stall another\'s mounts', needs, async (t) => {
  const d = await privateDaemon(t);
  const busy = `${d.dir}/busy`;
  fs.mkdirSync(busy);
  t.equal((await d.cli(['mount', '-o', 'ptmxmode=666', busy])).code, 0, 'the busy container\'s mount');
  const floods = [0, 1, 2, 3].map(() => new Proc(t, 'unshare', ['-p', '-f', '--kill-child', PYTHON, '-c', FLOOD, busy], { timeoutMs: 120_000 }));
  await Promise.all(floods.map((f) => new Promise<void>((resolve) => {
    const check = (): void => { if (f.stdout.includes('flowing') || f.exited) resolve(); else setTimeout(check, 50); };
    check();
  })));
  t.ok(floods.every((f) => f.stdout.includes('flowing')), 'four floods are running');

  const loop = `for i in $(seq 20); do mkdir -p ${d.dir}/m/$i; ${BIN} --socket ${d.socket} mount ${d.dir}/m/$i || exit 1; done`;
  const r = await exec(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', 'sh', '-c', loop], { timeoutMs: 60_000, env: userEnv() });
  t.equal(r.code, 0, `meanwhile 20 mounts for other containers: ${describe(r)}`);
  const echo = await exec(t, PYTHON, ['-c', "import os,pty,sys\nm=os.open(sys.argv[1]+'/ptmx',os.O_RDWR|os.O_NOCTTY)\nimport fcntl,struct\nfcntl.ioctl(m,0x40045431,struct.pack('i',0))\nn=struct.unpack('I',fcntl.ioctl(m,0x80045430,b'\\0'*4))[0]\ns=os.open('%s/%d'%(sys.argv[1],n),os.O_RDWR|os.O_NOCTTY)\nos.write(m,b'hi\\n')\nprint(os.read(s,10))", `${d.dir}/m/20`], { timeoutMs: 30_000 });
  t.equal(echo.stdout.trim(), "b'hi\\n'", 'and a pty in the last of them answers');
  t.ok(floods.every((f) => !f.exited), 'the floods were still running throughout');
});
