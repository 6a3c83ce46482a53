// Mounting and unmounting a FUSE filesystem with mount(2)/umount2(2), as
// fusermount would, but in-process: works as root and as root of a user
// namespace (unshare -Urm), where the kernel allows fuse mounts too.
import * as fs from 'fs';
import { EBUSY, EINVAL, isSysError } from '../sys/errno';
import { MNT_DETACH, mount, umount2 } from '../sys/libc';
import { topMount } from '../sys/mountinfo';
import { S_IFDIR } from './abi';
import { Session, type Handlers } from './session';

export interface MountOptions {
  /** fstype is `fuse.<subtype>`, as /proc/mounts shows it. */
  readonly subtype: string;
  /** First column of /proc/mounts. */
  readonly source?: string;
  /** Extra comma-separated mount data, e.g. `default_permissions`. */
  readonly options?: readonly string[];
  /** MS_* flags (MS_NOSUID, MS_NOEXEC, ...). */
  readonly flags?: number;
  /** Called with the session before it reads its first request. */
  readonly onSession?: (session: Session) => void;
}

/** Opens /dev/fuse and mounts it at target; returns the connection fd. */
export function mountFuse(target: string, opts: MountOptions): number {
  // Node opens with O_CLOEXEC: programs we spawn never inherit the connection.
  const fd = fs.openSync('/dev/fuse', fs.constants.O_RDWR);
  const data = [
    `fd=${fd}`,
    `rootmode=${S_IFDIR.toString(8)}`,
    `user_id=${process.getuid?.() ?? 0}`,
    `group_id=${process.getgid?.() ?? 0}`,
    // Containers' processes are other users than the daemon.
    'allow_other',
    ...(opts.options ?? []),
  ].join(',');
  try {
    mount(opts.source ?? opts.subtype, target, `fuse.${opts.subtype}`, opts.flags ?? 0, data);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * Unmounts target. A busy mount (files still open) is detached instead, as
 * `umount -l` does: it vanishes from the namespace and lives on until its
 * last file is closed. Returns whether it had to detach.
 */
export function unmountFuse(target: string): 'unmounted' | 'detached' {
  try {
    umount2(target, 0);
    return 'unmounted';
  } catch (err) {
    if (!isSysError(err, EBUSY)) throw err;
  }
  umount2(target, MNT_DETACH);
  return 'detached';
}

/** The fstype of the topmost mount on target (an absolute path), or undefined if none. */
export function mountType(target: string): string | undefined {
  return topMount(target)?.fstype;
}

/**
 * Mounts a filesystem served by `handlers` and waits for the kernel's INIT.
 * On any failure nothing stays mounted.
 */
export async function serve(target: string, handlers: Handlers, opts: MountOptions): Promise<MountedSession> {
  const fd = mountFuse(target, opts);
  let session: Session;
  try {
    session = new Session(fd, handlers);
    opts.onSession?.(session);
  } catch (err) {
    fs.closeSync(fd);
    unmountQuietly(target);
    throw err;
  }
  try {
    await session.ready;
  } catch (err) {
    session.close();
    unmountQuietly(target);
    throw err;
  }
  return new MountedSession(target, session);
}

function unmountQuietly(target: string): void {
  try {
    umount2(target, MNT_DETACH);
  } catch (err) {
    if (!isSysError(err, EINVAL)) throw err;
  }
}

/** A session together with the mountpoint it serves. */
export class MountedSession {
  constructor(readonly mountpoint: string, readonly session: Session) {}

  /**
   * Unmounts (detaching if busy) and ends the connection. Callers still
   * holding files of a detached mount then get ENOTCONN, as after a daemon
   * exit; `unmountFuse` alone keeps serving them instead.
   */
  async stop(): Promise<void> {
    if (this.session.isOpen) {
      try {
        unmountFuse(this.mountpoint);
      } catch (err) {
        // EINVAL: already unmounted from outside (umount, umount -l).
        if (!isSysError(err, EINVAL)) throw err;
      }
    }
    this.session.close();
    await this.session.closed;
  }
}
