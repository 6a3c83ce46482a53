// mount(2) and umount2(2) with real tmpfs mounts on temporary directories.

import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { EBUSY, EINVAL, ENOENT, isSysError } from '../../src/sys/errno';
import {
  MNT_DETACH, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, UMOUNT_NOFOLLOW, mount, umount2,
} from '../../src/sys/libc';
import { sysError } from './util';

interface MountInfo { mountPoint: string; options: string[]; fstype: string; source: string }

// /proc/self/mountinfo: id parent maj:min root mountpoint options [tags] - fstype source superopts
function mountsAt(dir: string): MountInfo[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n').map((line) => {
    const [head, tail] = line.split(' - ');
    const fields = head.split(' ');
    const [fstype, source] = tail.split(' ');
    return { mountPoint: fields[4], options: fields[5].split(','), fstype, source };
  }).filter((m) => m.mountPoint === dir);
}

/** A fresh directory, unmounted (lazily, however many times) and removed afterwards. */
function tempMountPoint(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptsfs-mnt-'));
  t.teardown(() => {
    while (mountsAt(dir).length > 0) umount2(dir, MNT_DETACH);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const asRoot = { skip: process.getuid?.() === 0 ? false : 'mount needs root' };

t.test('mount a tmpfs with flags and data, then umount2 it', asRoot, async (t) => {
  const dir = tempMountPoint(t);
  mount('ptsfs-test', dir, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'size=1m,mode=0711');
  const [m] = mountsAt(dir);
  t.ok(m, 'listed in mountinfo');
  t.equal(m.fstype, 'tmpfs');
  t.equal(m.source, 'ptsfs-test');
  t.same(m.options.filter((o) => ['nosuid', 'nodev', 'noexec'].includes(o)).sort(), ['nodev', 'noexec', 'nosuid']);
  t.equal(fs.statSync(dir).mode & 0o7777, 0o711, 'data string reached tmpfs');
  fs.writeFileSync(path.join(dir, 'f'), 'x');

  umount2(dir, 0);
  t.equal(mountsAt(dir).length, 0, 'gone from mountinfo');
  t.notOk(fs.existsSync(path.join(dir, 'f')), 'file went with the tmpfs');
});

t.test('MS_RDONLY makes writes fail with EROFS', asRoot, async (t) => {
  const dir = tempMountPoint(t);
  mount('tmpfs', dir, 'tmpfs', MS_RDONLY, null);
  t.ok(mountsAt(dir)[0].options.includes('ro'));
  t.throws(() => fs.writeFileSync(path.join(dir, 'f'), 'x'), { code: 'EROFS' });
});

t.test('a busy mount needs MNT_DETACH', asRoot, async (t) => {
  const dir = tempMountPoint(t);
  mount('tmpfs', dir, 'tmpfs', 0, '');
  const fd = fs.openSync(path.join(dir, 'busy'), 'w');
  t.teardown(() => fs.closeSync(fd));
  t.throws(() => umount2(dir, 0), sysError(EBUSY, 'umount2'));
  umount2(dir, MNT_DETACH);
  t.equal(mountsAt(dir).length, 0, 'detached while a file is open');
});

t.test('UMOUNT_NOFOLLOW does not unmount through a symlink', asRoot, async (t) => {
  const dir = tempMountPoint(t);
  const link = `${dir}-link`;
  fs.symlinkSync(dir, link);
  t.teardown(() => fs.rmSync(link, { force: true }));
  mount('tmpfs', dir, 'tmpfs', 0, '');
  t.throws(() => umount2(link, UMOUNT_NOFOLLOW), sysError(EINVAL, 'umount2'), 'the link itself is no mount point');
  t.equal(mountsAt(dir).length, 1, 'still mounted');
  umount2(link, 0);
  t.equal(mountsAt(dir).length, 0, 'followed without the flag');
});

t.test('errors are SysErrors with the kernel errno', asRoot, async (t) => {
  const dir = tempMountPoint(t);
  let err: unknown;
  try {
    mount('none', dir, 'ptsfs-no-such-fstype', 0, '');
  } catch (e) {
    err = e;
  }
  t.ok(isSysError(err), 'a SysError');
  t.match(err, { code: 'ENODEV', syscall: 'mount', message: 'mount: ENODEV (No such device)' }, 'unknown fstype');
  t.equal(mountsAt(dir).length, 0);
  t.throws(() => umount2(dir, 0), sysError(EINVAL, 'umount2'), 'not a mount point');
  t.throws(() => umount2(path.join(dir, 'missing'), 0), sysError(ENOENT, 'umount2'));
});
