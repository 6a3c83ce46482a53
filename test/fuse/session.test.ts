// Mounted for real: what programs see of a filesystem served by src/fuse.
import * as fs from 'fs';
import t from 'tap';
import { MAX_WRITE } from '../../src/fuse';
import { ENOTTY } from '../../src/sys/errno';
import { Child, python, run, fuseMounts } from './proc';
import { echoTransform, HELLO, INO, IOC_ECHO, IOC_NULL, mountTestFs, SLOW, SLOW_MS, waitFor } from './testfs';

t.test('ls, stat and cat show what the filesystem serves', async (t) => {
  const { fs: tfs, dir, path } = await mountTestFs(t);
  t.ok(fuseMounts().includes(dir), 'listed in /proc/self/mounts as fuse.ptsfstest');

  const ls = await run(t, 'ls', ['-la', dir]);
  t.equal(ls.code, 0, `ls exits 0 (${ls.stderr})`);
  const names = ls.stdout.split('\n').slice(1).filter(Boolean).map((l) => l.split(/\s+/).at(-1));
  t.same(names.sort(), ['.', '..', 'big', 'hello', 'ioctl', 'pollable', 'sink', 'slow', 'wait'].sort(), 'ls -a lists . .. and the files');
  t.match(ls.stdout, /^-rw-r--r-- +1 root root +24 .* hello$/m, 'ls -l line of hello');
  t.match(ls.stdout, /^drwxr-xr-x +2 root root .* \.$/m, 'ls -l line of .');

  const st = await run(t, 'stat', ['-c', '%i|%s|%a|%F|%h|%u|%g', path('hello'), dir]);
  t.equal(st.code, 0);
  t.same(st.stdout.trim().split('\n'), [
    `${INO.hello}|${HELLO.length}|644|regular file|1|0|0`,
    `1|0|755|directory|2|0|0`,
  ], 'stat: inode, size, mode, type, links, owner');

  const catChild = new Child(t, 'cat', [path('hello')]);
  const cat = { ...(await catChild.exit()), pid: catChild.pid };
  t.equal(cat.code, 0);
  t.equal(cat.stdout, HELLO.toString(), 'cat prints the content');
  t.equal(tfs.callers['open']?.pid, cat.pid, 'OPEN carries the pid of cat');

  const missing = await run(t, 'cat', [path('nope')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /No such file or directory/, 'a name the fs does not know: ENOENT');
});

t.test('requests carry the caller uid and gid (allow_other)', async (t) => {
  const { fs: tfs, path } = await mountTestFs(t);
  const cat = await run(t, 'cat', [path('hello')], { uid: 4321, gid: 8765 });
  t.equal(cat.code, 0, cat.stderr);
  t.equal(cat.stdout, HELLO.toString());
  t.same(tfs.callers['open'], { uid: 4321, gid: 8765, pid: tfs.callers['open']?.pid }, 'OPEN from uid 4321 gid 8765');
  t.same(tfs.callers['release'], { uid: 0, gid: 0, pid: 0 }, 'RELEASE comes from the kernel itself');
});

t.test('a READ answered 300 ms later arrives, and does not hold up others', async (t) => {
  const { fs: tfs, path } = await mountTestFs(t);
  const slow = new Child(t, 'cat', [path('slow')]);
  await waitFor(() => tfs.slowHeld === 1, 5000, 'the READ of slow');
  const hello = await run(t, 'cat', [path('hello')]);
  t.equal(hello.stdout, HELLO.toString());
  t.equal(tfs.slowHeld, 1, 'cat hello was served while the slow READ was still held');
  t.equal(slow.exitedAt, undefined, 'and cat slow still waiting');
  const s = await slow.exit();
  t.equal(s.code, 0);
  t.equal(s.stdout, SLOW.toString(), 'cat slow prints the delayed content');
  t.ok(s.ms >= SLOW_MS - 10, `cat slow took ${s.ms.toFixed(0)} ms (>= ${SLOW_MS})`);
  t.ok(s.ms < SLOW_MS + 2000, 'and not forever');
});

t.test('an _IOWR ioctl moves data both ways', async (t) => {
  const { fs: tfs, path } = await mountTestFs(t);
  const script = `
import fcntl, json, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
buf = bytearray(b'0123456789abcdef')
r = fcntl.ioctl(fd, int(sys.argv[2]), buf, True)
nul = bytearray(4)
r2 = fcntl.ioctl(fd, int(sys.argv[3]), nul, True)
try:
    fcntl.ioctl(fd, 0xc0104563, bytearray(16), True)
    bad = 0
except OSError as e:
    bad = e.errno
print(json.dumps({'r': r, 'out': buf.hex(), 'r2': r2, 'nul': nul.hex(), 'bad': bad}))
`;
  const p = python(t, script, [path('ioctl'), IOC_ECHO, IOC_NULL]);
  const d = await p.exit();
  t.equal(d.code, 0, d.stderr);
  const res = JSON.parse(d.stdout) as { r: number; out: string; r2: number; nul: string; bad: number };
  const input = Buffer.from('0123456789abcdef');
  t.equal(res.r, input[0], 'ioctl() returns the result the fs computed from the input');
  t.equal(res.out, echoTransform(input).toString('hex'), 'output buffer holds the transformed input');
  t.equal(res.r2, 0);
  t.equal(Buffer.from(res.nul, 'hex').readUInt32LE(0), 2, '_IOR output: the fs counter (second ioctl)');
  t.equal(tfs.calls['ioctl'], 3, 'three IOCTLs reached the fs');
  t.equal(res.bad, ENOTTY, 'an unknown command: ENOTTY');
});

t.test('a 128 KiB write arrives as one WRITE', async (t) => {
  const { fs: tfs, path } = await mountTestFs(t);
  const script = `
import mmap, os, sys
n = int(sys.argv[2])
buf = mmap.mmap(-1, n)  # page-aligned: direct I/O would split an unaligned buffer at max_pages
buf.write(b'x' * n)
fd = os.open(sys.argv[1], os.O_WRONLY)
print(os.write(fd, buf))
`;
  const d = await python(t, script, [path('sink'), MAX_WRITE]).exit();
  t.equal(d.code, 0, d.stderr);
  t.equal(Number(d.stdout), MAX_WRITE, 'write() wrote it all');
  t.same(tfs.writes, [MAX_WRITE], `one WRITE of ${MAX_WRITE} bytes`);
});

t.test('an unhandled op gets ENOSYS', async (t) => {
  const { fs: tfs, dir, path } = await mountTestFs(t);
  const mk = await run(t, 'mkdir', [path('newdir')]);
  t.equal(mk.code, 1);
  t.match(mk.stderr, /Function not implemented/, 'mkdir: Function not implemented');
  t.ok(tfs.lookups.includes('newdir'), 'the kernel looked the name up first');
  const rm = await run(t, 'rm', ['-f', path('hello')]);
  t.match(rm.stderr, /Function not implemented/, 'rm (UNLINK): Function not implemented');
  const ls = await run(t, 'ls', [dir]);
  t.match(ls.stdout, /hello/, 'still there');
});

t.test('notifyInvalEntry drops a cached entry at once despite a long entry_valid', async (t) => {
  const { fs: tfs, dir, path } = await mountTestFs(t);
  tfs.add('dyn-a', 'aaa\n');
  tfs.add('dyn-b', 'bbbb\n');
  const cat = await run(t, 'cat', [path('dyn-a'), path('dyn-b')]);
  t.equal(cat.stdout, 'aaa\nbbbb\n', 'dynamic entries are served');
  const looked = (n: string): number => tfs.lookups.filter((x) => x === n).length;
  t.equal(looked('dyn-a'), 1);

  // The kernel caches the entries (entry_valid 3600 s): no new LOOKUP.
  const st = await run(t, 'stat', ['-c', '%s', path('dyn-a'), path('dyn-b')]);
  t.equal(st.stdout, '4\n5\n');
  t.equal(looked('dyn-a'), 1, 'second access served from the dentry cache');

  // Removed without notification: the stale cached entry still shows (control).
  await tfs.remove('dyn-b', false);
  const stale = await run(t, 'stat', ['-c', '%s', path('dyn-b')]);
  t.equal(stale.code, 0, 'without a notification the cached entry lives on');
  t.equal(stale.stdout, '5\n');

  // Removed with FUSE_NOTIFY_INVAL_ENTRY: gone at once.
  await tfs.remove('dyn-a');
  const gone = await run(t, 'stat', ['-c', '%s', path('dyn-a')]);
  t.equal(gone.code, 1, 'stat fails');
  t.match(gone.stderr, /No such file or directory/);
  t.equal(looked('dyn-a'), 2, 'the kernel had to look it up again');
  const ls = await run(t, 'ls', [dir]);
  t.notMatch(ls.stdout, /dyn-a/, 'and ls does not list it');

  // A name added later is found (no negative entry was cached for it).
  tfs.add('dyn-a', 'again\n');
  const again = await run(t, 'cat', [path('dyn-a')]);
  t.equal(again.stdout, 'again\n');
});

t.test('stop() unmounts; the mountpoint is an empty directory again', async (t) => {
  const { m, dir, path } = await mountTestFs(t);
  const cat = await run(t, 'cat', [path('hello')]);
  t.equal(cat.code, 0);
  await m.stop();
  t.notOk(fuseMounts().includes(dir), 'gone from /proc/self/mounts');
  t.same(await fs.promises.readdir(dir), [], 'the directory underneath is empty');
  t.notOk(m.session.isOpen, 'session closed');
});

t.test('large direct-I/O reads return the right bytes', async (t) => {
  const { fs: tfs, path } = await mountTestFs(t);
  const script = `
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
buf = mmap.mmap(-1, 128 * 1024)
bad = 0
total = 0
for off in (1000, 1000 + 128 * 1024, 5 * 1024 * 1024 + 7):
    n = os.preadv(fd, [buf], off)
    total += n
    data = buf[:n]
    bad += sum(1 for i in range(0, n, 997) if data[i] != (off + i) & 0xff)
print(total, bad, os.fstat(fd).st_size)
`;
  const d = await python(t, script, [path('big')]).exit();
  t.equal(d.code, 0, d.stderr);
  t.equal(d.stdout, `${3 * 128 * 1024} 0 ${1024 ** 3}\n`, 'three whole 128 KiB reads, every sampled byte right, size 1 GiB');
  t.equal(tfs.calls['read'], 3, 'one READ per read() (direct I/O, max_pages 32)');
});
