// Every FUSE structure ptsfs reads or writes, field for field as in
// include/uapi/linux/fuse.h (protocol 7.38).
import { pad, struct, type Struct } from './struct';

/** The JS value a struct decodes to. */
export type ValueOf<S> = S extends Struct<infer T> ? T : never;

export const inHeader = struct('fuse_in_header', {
  len: 'u32', opcode: 'u32', unique: 'u64', nodeid: 'u64',
  uid: 'u32', gid: 'u32', pid: 'u32', total_extlen: 'u16', padding: pad(2),
});
export const outHeader = struct('fuse_out_header', { len: 'u32', error: 'i32', unique: 'u64' });

export const attr = struct('fuse_attr', {
  ino: 'u64', size: 'u64', blocks: 'u64', atime: 'u64', mtime: 'u64', ctime: 'u64',
  atimensec: 'u32', mtimensec: 'u32', ctimensec: 'u32',
  mode: 'u32', nlink: 'u32', uid: 'u32', gid: 'u32', rdev: 'u32', blksize: 'u32', flags: 'u32',
});

export const entryOut = struct('fuse_entry_out', {
  nodeid: 'u64', generation: 'u64', entry_valid: 'u64', attr_valid: 'u64',
  entry_valid_nsec: 'u32', attr_valid_nsec: 'u32', attr,
});
export const attrOut = struct('fuse_attr_out', { attr_valid: 'u64', attr_valid_nsec: 'u32', dummy: pad(4), attr });

export const initIn = struct('fuse_init_in', {
  major: 'u32', minor: 'u32', max_readahead: 'u32', flags: 'u32', flags2: 'u32', unused: pad(44),
});
export const initOut = struct('fuse_init_out', {
  major: 'u32', minor: 'u32', max_readahead: 'u32', flags: 'u32',
  max_background: 'u16', congestion_threshold: 'u16', max_write: 'u32', time_gran: 'u32',
  max_pages: 'u16', map_alignment: 'u16', flags2: 'u32', unused: pad(28),
});

export const cuseInitIn = struct('cuse_init_in', { major: 'u32', minor: 'u32', unused: pad(4), flags: 'u32' });
export const cuseInitOut = struct('cuse_init_out', {
  major: 'u32', minor: 'u32', unused: pad(4), flags: 'u32', max_read: 'u32', max_write: 'u32',
  dev_major: 'u32', dev_minor: 'u32', spare: pad(40),
});

export const forgetIn = struct('fuse_forget_in', { nlookup: 'u64' });
export const forgetOne = struct('fuse_forget_one', { nodeid: 'u64', nlookup: 'u64' });
export const batchForgetIn = struct('fuse_batch_forget_in', { count: 'u32', dummy: pad(4) });
export const getattrIn = struct('fuse_getattr_in', { getattr_flags: 'u32', dummy: pad(4), fh: 'u64' });
export const setattrIn = struct('fuse_setattr_in', {
  valid: 'u32', padding: pad(4), fh: 'u64', size: 'u64', lock_owner: 'u64',
  atime: 'u64', mtime: 'u64', ctime: 'u64', atimensec: 'u32', mtimensec: 'u32', ctimensec: 'u32',
  mode: 'u32', unused4: pad(4), uid: 'u32', gid: 'u32', unused5: pad(4),
});
export const mknodIn = struct('fuse_mknod_in', { mode: 'u32', rdev: 'u32', umask: 'u32', padding: pad(4) });
export const mkdirIn = struct('fuse_mkdir_in', { mode: 'u32', umask: 'u32' });
export const renameIn = struct('fuse_rename_in', { newdir: 'u64' });
export const rename2In = struct('fuse_rename2_in', { newdir: 'u64', flags: 'u32', padding: pad(4) });
export const linkIn = struct('fuse_link_in', { oldnodeid: 'u64' });
export const openIn = struct('fuse_open_in', { flags: 'u32', open_flags: 'u32' });
export const createIn = struct('fuse_create_in', { flags: 'u32', mode: 'u32', umask: 'u32', open_flags: 'u32' });
export const openOut = struct('fuse_open_out', { fh: 'u64', open_flags: 'u32', padding: pad(4) });
export const releaseIn = struct('fuse_release_in', { fh: 'u64', flags: 'u32', release_flags: 'u32', lock_owner: 'u64' });
export const flushIn = struct('fuse_flush_in', { fh: 'u64', unused: pad(4), padding: pad(4), lock_owner: 'u64' });
export const readIn = struct('fuse_read_in', {
  fh: 'u64', offset: 'u64', size: 'u32', read_flags: 'u32', lock_owner: 'u64', flags: 'u32', padding: pad(4),
});
export const writeIn = struct('fuse_write_in', {
  fh: 'u64', offset: 'u64', size: 'u32', write_flags: 'u32', lock_owner: 'u64', flags: 'u32', padding: pad(4),
});
export const writeOut = struct('fuse_write_out', { size: 'u32', padding: pad(4) });
export const kstatfs = struct('fuse_kstatfs', {
  blocks: 'u64', bfree: 'u64', bavail: 'u64', files: 'u64', ffree: 'u64',
  bsize: 'u32', namelen: 'u32', frsize: 'u32', padding: pad(4), spare: pad(24),
});
export const statfsOut = struct('fuse_statfs_out', { st: kstatfs });
export const fsyncIn = struct('fuse_fsync_in', { fh: 'u64', fsync_flags: 'u32', padding: pad(4) });
// Without FUSE_SETXATTR_EXT the kernel sends the 8-byte compat layout.
export const setxattrIn = struct('fuse_setxattr_in', { size: 'u32', flags: 'u32' });
export const getxattrIn = struct('fuse_getxattr_in', { size: 'u32', padding: pad(4) });
export const accessIn = struct('fuse_access_in', { mask: 'u32', padding: pad(4) });
export const interruptIn = struct('fuse_interrupt_in', { unique: 'u64' });
export const ioctlIn = struct('fuse_ioctl_in', {
  fh: 'u64', flags: 'u32', cmd: 'u32', arg: 'u64', in_size: 'u32', out_size: 'u32',
});
export const ioctlOut = struct('fuse_ioctl_out', { result: 'i32', flags: 'u32', in_iovs: 'u32', out_iovs: 'u32' });
/** What an ioctl retry asks the kernel to copy: one range of the caller's memory. */
export const ioctlIovec = struct('fuse_ioctl_iovec', { base: 'u64', len: 'u64' });
export const pollIn = struct('fuse_poll_in', { fh: 'u64', kh: 'u64', flags: 'u32', events: 'u32' });
export const pollOut = struct('fuse_poll_out', { revents: 'u32', padding: pad(4) });
export const dirent = struct('fuse_dirent', { ino: 'u64', off: 'u64', namelen: 'u32', type: 'u32' });
export const notifyPollWakeupOut = struct('fuse_notify_poll_wakeup_out', { kh: 'u64' });
export const notifyInvalInodeOut = struct('fuse_notify_inval_inode_out', { ino: 'u64', off: 'i64', len: 'i64' });
export const notifyInvalEntryOut = struct('fuse_notify_inval_entry_out', { parent: 'u64', namelen: 'u32', flags: 'u32' });

/** CREATE answers with an entry and an open file in one reply. */
export const createOut = struct('fuse_create_out', { entry: entryOut, open: openOut });

export type Attr = ValueOf<typeof attr>;
export type EntryOut = ValueOf<typeof entryOut>;
export type AttrOut = ValueOf<typeof attrOut>;
export type OpenOut = ValueOf<typeof openOut>;
export type Kstatfs = ValueOf<typeof kstatfs>;
