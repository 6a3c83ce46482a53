// Mounted for real: held requests, signals (FUSE_INTERRUPT) and poll
// notifications, driven by python3 children making the exact syscalls.
import t from 'tap';
import { EINTR } from '../../src/sys/errno';
import { procState, python, sleep } from './proc';
import { mountTestFs, waitFor } from './testfs';

// A read(2) through libc (not os.read: PEP 475 would retry it on EINTR),
// after installing a SIGUSR1 handler with or without SA_RESTART.
const READER = `
import ctypes, json, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
path, mode = sys.argv[1], sys.argv[2]
caught = []
if mode != 'default':
    signal.signal(signal.SIGUSR1, lambda sig, frame: caught.append(sig))
    # siginterrupt(sig, False) installs the handler with SA_RESTART
    signal.siginterrupt(signal.SIGUSR1, mode == 'interrupt')
fd = os.open(path, os.O_RDONLY)
buf = ctypes.create_string_buffer(64)
print('reading', os.getpid(), flush=True)
n = libc.read(fd, buf, 64)
err = ctypes.get_errno() if n < 0 else 0
print(json.dumps({'n': n, 'errno': err, 'caught': caught, 'data': buf.raw[:max(n, 0)].decode()}), flush=True)
`;

interface ReadResult {
  n: number;
  errno: number;
  caught: number[];
  data: string;
}

async function blockedReader(t: tap.Test, mode: 'interrupt' | 'restart' | 'default') {
  const mounted = await mountTestFs(t);
  const child = python(t, READER, [mounted.path('wait'), mode]);
  await child.waitLines(1);
  await waitFor(() => mounted.fs.waiters.length === 1, 5000, 'the READ on wait to be held');
  return { ...mounted, child };
}

t.test('a held READ answered later by the fs', async (t) => {
  const { fs: tfs, child } = await blockedReader(t, 'interrupt');
  await sleep(100);
  t.equal(child.exitedAt, undefined, 'the reader is still blocked');
  t.equal(procState(child.pid), 'S', 'in interruptible sleep (S), not D');
  t.equal(tfs.waiters[0]!.pid, child.pid, 'READ header pid is the reader');
  t.equal(tfs.releaseWaiters('late data'), 1);
  const d = await child.exit();
  const res = JSON.parse(child.lines[1]!) as ReadResult;
  t.equal(d.code, 0);
  t.same(res, { n: 9, errno: 0, caught: [], data: 'late data' });
});

for (const mode of ['interrupt', 'restart'] as const) {
  t.test(`a signal interrupts a blocked read: EINTR (handler ${mode === 'restart' ? 'with' : 'without'} SA_RESTART)`, async (t) => {
    const { fs: tfs, child } = await blockedReader(t, mode);
    t.equal(tfs.interrupts, 0);
    process.kill(child.pid, 'SIGUSR1');
    const d = await child.exit(5000);
    t.equal(d.code, 0, d.stderr);
    const res = JSON.parse(child.lines[1]!) as ReadResult;
    t.equal(res.n, -1, 'read() returned -1');
    t.equal(res.errno, EINTR, 'errno EINTR (a FUSE reply cannot ask for a restart)');
    t.same(res.caught, [10], 'the handler ran for SIGUSR1');
    t.equal(tfs.interrupts, 1, 'the fs got FUSE_INTERRUPT for the held READ');
    t.equal(tfs.waiters.length, 0);
    t.equal(tfs.session!.pending.size, 0, 'nothing left pending in the session');
  });
}

t.test('a SIGKILLed blocked reader is reaped at once (never stuck in D)', async (t) => {
  const { fs: tfs, child } = await blockedReader(t, 'default');
  t.equal(procState(child.pid), 'S');
  const killedAt = performance.now();
  process.kill(child.pid, 'SIGKILL');
  const d = await child.exit(5000);
  const ms = child.exitedAt! - killedAt;
  t.equal(d.signal, 'SIGKILL');
  t.ok(ms < 500, `reaped ${ms.toFixed(1)} ms after SIGKILL`);
  t.equal(procState(child.pid), undefined, 'no /proc entry left');
  t.equal(tfs.interrupts, 1, 'the fs answered the FUSE_INTERRUPT');
});

t.test('several blocked readers: one interrupted, the others served', async (t) => {
  const mounted = await mountTestFs(t);
  const kids = [0, 1, 2].map(() => python(t, READER, [mounted.path('wait'), 'interrupt']));
  await Promise.all(kids.map((k) => k.waitLines(1)));
  await waitFor(() => mounted.fs.waiters.length === 3, 5000, 'three held READs');
  process.kill(kids[1]!.pid, 'SIGUSR1');
  await kids[1]!.exit(5000);
  t.equal((JSON.parse(kids[1]!.lines[1]!) as ReadResult).errno, EINTR, 'the signalled one: EINTR');
  t.equal(mounted.fs.waiters.length, 2, 'the other two still held');
  t.equal(mounted.fs.releaseWaiters('ok'), 2);
  for (const k of [kids[0]!, kids[2]!]) {
    await k.exit(5000);
    t.same(JSON.parse(k.lines[1]!), { n: 2, errno: 0, caught: [], data: 'ok' }, 'the others read the data');
  }
});

const SELECTOR = `
import json, os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
try:
    os.read(fd, 64)
    first = 'data'
except BlockingIOError:
    first = 'EAGAIN'
print(first, flush=True)
t0 = time.monotonic()
r, w, x = select.select([fd], [], [], float(sys.argv[2]))
ms = (time.monotonic() - t0) * 1000
print(json.dumps({'readable': bool(r), 'ms': ms, 'data': os.read(fd, 64).decode() if r else ''}), flush=True)
`;

interface SelectResult {
  readable: boolean;
  ms: number;
  data: string;
}

t.test('select() wakes on a poll notification, not before', async (t) => {
  const { fs: tfs, path } = await mountTestFs(t);
  const child = python(t, SELECTOR, [path('pollable'), 10]);
  t.same(await child.waitLines(1), ['EAGAIN'], 'not ready: a non-blocking read gets EAGAIN');
  await waitFor(() => tfs.pollHandles.size === 1, 5000, 'a POLL asking for notification');
  const polls = tfs.calls['poll']!;

  // Ready, but without telling the kernel: select() must sleep on.
  tfs.setReady(true, false);
  await sleep(300);
  t.equal(child.lines.length, 1, 'select() still sleeping 300 ms later (the kernel waits for a notification)');
  t.equal(tfs.calls['poll'], polls, 'and the kernel did not poll again by itself');

  const notifiedAt = performance.now();
  tfs.notifyPollers();
  await child.waitLines(2, 3000);
  const wokeMs = performance.now() - notifiedAt;
  const res = JSON.parse(child.lines[1]!) as SelectResult;
  t.equal(res.readable, true, 'select() reports the fd readable');
  t.ok(res.ms >= 290, `select() slept ${res.ms.toFixed(0)} ms in all`);
  t.ok(wokeMs < 1000, `woke ${wokeMs.toFixed(1)} ms after the notification`);
  t.equal(res.data, 'ready\n', 'and the read then succeeds');
  t.ok(tfs.calls['poll']! > polls, 'the kernel polled again after the notification');
  t.equal((await child.exit()).code, 0);
});

t.test('select() times out when nothing changes; setReady notifies', async (t) => {
  const { fs: tfs, path } = await mountTestFs(t);
  const idle = python(t, SELECTOR, [path('pollable'), 0.3]);
  await idle.exit();
  const res = JSON.parse(idle.lines[1]!) as SelectResult;
  t.equal(res.readable, false, 'not readable');
  t.ok(res.ms >= 290, `select() waited its whole timeout (${res.ms.toFixed(0)} ms)`);

  const child = python(t, SELECTOR, [path('pollable'), 10]);
  await child.waitLines(1);
  await waitFor(() => tfs.pollHandles.size >= 1, 5000, 'a POLL');
  await sleep(50);
  tfs.setReady(true);
  await child.waitLines(2, 3000);
  t.equal((JSON.parse(child.lines[1]!) as SelectResult).readable, true, 'woken by setReady');
  t.ok(tfs.pollNotifications >= 1);
});
