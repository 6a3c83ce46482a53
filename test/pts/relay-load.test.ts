// The relay under load: ~100 MB of random data through 50 ptys at once,
// both directions, raw mode, arriving exact; and 50 blocked readers held
// without threads or CPU.
import * as fs from 'fs';
import t from 'tap';
import { mountPts, PyChild, sleep, spawnPy, MISSING } from './helpers';

// One client process: `npty` ptys in raw mode, `size` random bytes master ->
// slave and slave -> master on each, all at once through one epoll loop.
// Prints, per stream, whether the SHA-256 of what arrived is that of what
// was sent.
const LOAD = String.raw`
d = sys.argv[1]; npty = int(sys.argv[2]); size = int(sys.argv[3])
CH = 32768
pairs = [openpair(d, raw=True)[:2] for i in range(npty)]
for m, s in pairs:
    os.set_blocking(m, False); os.set_blocking(s, False)
pool = os.urandom(1 << 20) * 2
streams = {}
for m, s in pairs:
    for src, dst in ((m, s), (s, m)):
        streams[(src, dst)] = {'sent': 0, 'recv': 0, 'off': int.from_bytes(os.urandom(3), 'little') % (1 << 20),
                               'hs': hashlib.sha256(), 'hr': hashlib.sha256()}
by_writer = {k[0]: k for k in streams}
by_reader = {k[1]: k for k in streams}
ep = select.epoll()
for fd in by_writer:
    ep.register(fd, select.EPOLLIN | select.EPOLLOUT)
t0 = time.time()
left = len(streams)
while left:
    if time.time() - t0 > 110:
        raise TimeoutError('%d streams unfinished' % left)
    for fd, ev in ep.poll(1):
        if ev & select.EPOLLOUT:
            st = streams[by_writer[fd]]
            if st['sent'] < size:
                o = st['off'] + st['sent'] % (1 << 20)
                chunk = pool[o:o + min(CH, size - st['sent'])]
                try:
                    w = os.write(fd, chunk)
                except BlockingIOError:
                    w = 0
                st['hs'].update(chunk[:w]); st['sent'] += w
                if st['sent'] == size:
                    ep.modify(fd, select.EPOLLIN)
        if ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
            st = streams[by_reader[fd]]
            try:
                b = os.read(fd, 65536)
            except BlockingIOError:
                b = b''
            st['hr'].update(b); st['recv'] += len(b)
            if st['recv'] == size:
                left -= 1
            elif st['recv'] > size:
                raise ValueError('more bytes than sent')
out({'streams': len(streams), 'exact': sum(st['recv'] == size and st['hs'].digest() == st['hr'].digest() for st in streams.values()),
     'bytes': sum(st['recv'] for st in streams.values()), 'secs': time.time() - t0})
`;

async function threads(): Promise<number> {
  const status = await fs.promises.readFile('/proc/self/status', 'utf8');
  return Number(/^Threads:\s+(\d+)$/m.exec(status)![1]);
}

t.test('100 MB through 50 ptys at once, both ways, arrives exact', { skip: MISSING }, async (t) => {
  const { dir, mount } = await mountPts(t);
  const PROCS = 5;
  const PER = 10; // 50 ptys
  const SIZE = 1 << 20; // per direction per pty: 50 x 2 x 1 MiB = 100 MiB
  const t0 = performance.now();
  const clients = Array.from({ length: PROCS }, () => new PyChild(LOAD, [dir, PER, SIZE], { timeoutMs: 120_000 }));
  let maxPtys = 0;
  let maxThreads = 0;
  const sampling = (async () => {
    while (clients.some((c) => !c.exited)) {
      maxPtys = Math.max(maxPtys, mount.namespace.ptys.size);
      maxThreads = Math.max(maxThreads, await threads());
      await sleep(100);
    }
  })();
  const results = await Promise.all(clients.map((c) => c.done));
  await sampling;
  const secs = (performance.now() - t0) / 1000;
  let exact = 0;
  let bytes = 0;
  for (const r of results) {
    t.equal(r.code, 0, `client exits 0${r.code === 0 ? '' : `: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`}`);
    const line = r.stdout.trim().split('\n').at(-1) ?? '{}';
    const o = JSON.parse(line) as { streams: number; exact: number; bytes: number };
    t.equal(o.exact, o.streams, `${o.exact} of ${o.streams} streams exact (same SHA-256, same length)`);
    exact += o.exact;
    bytes += o.bytes;
  }
  t.equal(exact, PROCS * PER * 2, '100 streams (50 ptys x 2 directions) arrived exact');
  t.equal(bytes, PROCS * PER * 2 * SIZE, `${(bytes / 1e6).toFixed(0)} MB in all`);
  t.equal(maxPtys, PROCS * PER, '50 ptys were open at once');
  t.ok(secs < 60, `done in ${secs.toFixed(1)} s (${(bytes / 1e6 / secs).toFixed(0)} MB/s aggregate)`);
  t.comment(`load: ${(bytes / 1e6).toFixed(0)} MB through ${PROCS * PER} ptys both ways in ${secs.toFixed(1)} s = ${(bytes / 1e6 / secs).toFixed(0)} MB/s; server threads peaked at ${maxThreads}`);
  for (let i = 0; i < 50 && mount.namespace.ptys.size > 0; i++) await sleep(20);
  t.equal(mount.namespace.ptys.size, 0, 'all ptys gone once the clients exited');
});

t.test('50 blocked readers are held without a thread each and without spinning', { skip: MISSING }, async (t) => {
  const { dir, mount } = await mountPts(t);
  const N = 50;
  const c: PyChild = spawnPy(t, String.raw`
import threading
d = sys.argv[1]; N = int(sys.argv[2])
pairs = [openpair(d) for i in range(N)]
got = [None] * N
def reader(i):
    got[i] = os.read(pairs[i][1], 100)
ths = [threading.Thread(target=reader, args=(i,)) for i in range(N)]
for th in ths: th.start()
time.sleep(0.3)
out('blocked')
sys.stdin.readline()
for i, (m, s, n) in enumerate(pairs):
    os.write(m, b'line %d\n' % i)
for th in ths: th.join(5)
out({'answered': sum(1 for i in range(N) if got[i] == b'line %d\n' % i)})
`, [dir, N], { holdStdin: true });
  t.equal(await c.line(1), 'blocked', `${N} threads sit in read() on ${N} slaves`);
  const threadsBefore = await threads();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  await sleep(1000);
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - wall0;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  t.equal(mount.namespace.ptys.size, N, `${N} ptys open`);
  t.ok(threadsBefore < 30, `the server has ${threadsBefore} threads with ${N} reads held (not one per pty)`);
  t.ok(cpuMs < 0.1 * wall, `server CPU while idle: ${cpuMs.toFixed(0)} ms in ${wall.toFixed(0)} ms (no busy loop)`);
  c.send('go\n');
  t.same(await c.line(2), { answered: N }, `all ${N} held reads answered with their own line`);
  t.equal((await c.done).code, 0);
});
