// Mounted for real: many mounts in one process, and mounts ended from outside.
import * as fs from 'fs';
import t from 'tap';
import { fuseMounts, python, run, threadCount } from './proc';
import { HELLO, mountTestFs, waitFor, type Mounted } from './testfs';

const MOUNTS = 200;

t.test(`${MOUNTS} mounts in one process: all answer, threads stay bounded, all unmount`, async (t) => {
  const before = fuseMounts().length;
  // Warm up: one mount served and the libuv threadpool started (mkdtemp,
  // rmdir and notifications use it), so that the baseline is steady state.
  const first = await mountTestFs(t);
  const warm = await run(t, 'cat', [first.path('hello')]);
  t.equal(warm.stdout, HELLO.toString());
  await fs.promises.stat(first.dir);
  const baseline = threadCount();

  const all: Mounted[] = [first];
  // In batches: each mount is a mount(2) plus the kernel's INIT round trip.
  while (all.length < MOUNTS) {
    const batch = Math.min(50, MOUNTS - all.length);
    all.push(...(await Promise.all(Array.from({ length: batch }, () => mountTestFs(t)))));
  }
  t.equal(fuseMounts().length - before, MOUNTS, `${MOUNTS} fuse.ptsfstest mounts listed`);
  const threads = threadCount();
  t.ok(threads <= baseline + 1, `threads: ${baseline} with one mount, ${threads} with ${MOUNTS}`);

  // One program reads a file from every mount.
  const cat = await run(t, 'cat', all.map((m) => m.path('hello')));
  t.equal(cat.code, 0, cat.stderr);
  t.equal(cat.stdout, HELLO.toString().repeat(MOUNTS), `cat read hello from all ${MOUNTS} mounts`);
  t.ok(all.every((m) => m.fs.calls['read'] === 1 || m === first), 'each mount served its own READ');

  // And in parallel, many programs at once.
  const stats = await Promise.all(all.slice(0, 40).map((m) => run(t, 'stat', ['-c', '%i', m.path('slow')])));
  t.ok(stats.every((s) => s.stdout === '3\n'), '40 concurrent stat calls answered');
  t.equal(threadCount(), threads, 'no threads added by serving');

  await Promise.all(all.map((m) => m.m.stop()));
  t.equal(fuseMounts().length, before, 'all unmounted');
  t.ok(all.every((m) => !m.m.session.isOpen), 'all sessions closed');
  await Promise.all(all.map((m) => fs.promises.rmdir(m.dir)));
  t.ok(threadCount() <= baseline + 1, 'threads back to the baseline');
});

t.test('umount -l from outside ends that session only', async (t) => {
  const a = await mountTestFs(t);
  const b = await mountTestFs(t);
  let aClosed = false;
  void a.m.session.closed.then(() => (aClosed = true));
  const pre = await run(t, 'cat', [a.path('hello'), b.path('hello')]);
  t.equal(pre.stdout, HELLO.toString().repeat(2), 'both mounts serve');

  const um = await run(t, 'umount', ['-l', a.dir]);
  t.equal(um.code, 0, um.stderr);
  const err = await Promise.race([a.m.session.closed, new Promise((r) => setTimeout(() => r('timeout'), 3000))]);
  t.equal(err, undefined, "a's session.closed resolves (no error)");
  t.ok(aClosed);
  t.notOk(a.m.session.isOpen);
  t.notOk(fuseMounts().includes(a.dir), 'a is gone from /proc/self/mounts');
  t.ok(b.m.session.isOpen, "b's session is open");

  const post = await run(t, 'cat', [b.path('hello')]);
  t.equal(post.stdout, HELLO.toString(), 'b still answers');
  const under = await run(t, 'ls', ['-A', a.dir]);
  t.equal(under.stdout, '', "a's mountpoint is a plain empty directory again");
  await a.m.stop(); // a no-op now, and must not throw
  t.pass('stop() after an outside unmount is fine');
});

t.test('umount -l of a busy mount: its open files keep being served', async (t) => {
  const a = await mountTestFs(t);
  // A reader holds `wait` open (a held READ) while the mount is detached.
  const script = `
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print('open', flush=True)
print(os.read(fd, 64).decode(), flush=True)
`;
  const reader = python(t, script, [a.path('wait')]);
  await reader.waitLines(1);
  await waitFor(() => a.fs.waiters.length === 1, 5000, 'a held READ');
  const um = await run(t, 'umount', ['-l', a.dir]);
  t.equal(um.code, 0, um.stderr);
  t.notOk(fuseMounts().includes(a.dir), 'detached from the namespace');
  t.ok(a.m.session.isOpen, 'but the connection lives while a file is open');
  a.fs.releaseWaiters('after detach');
  const d = await reader.exit(5000);
  t.equal(d.stdout, 'open\nafter detach\n', 'the reader got its data');
  const err = await Promise.race([a.m.session.closed, new Promise((r) => setTimeout(() => r('timeout'), 3000))]);
  t.equal(err, undefined, 'the session ends once the last file is closed');
});
