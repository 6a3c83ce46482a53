// The emulation layer: pts namespaces on top of the FUSE layer.
import { serve, type MountedSession } from '../fuse';
import { MS_NODEV } from '../sys/libc';
import { chrDevices, ChrUnavailable, type ChrDevices } from './chrdev';
import { PtsNamespace, type NamespaceDeps } from './namespace';
import { OptionError, type PtsOptions } from './options';

export { PtsNamespace, PTMX_INO, TTY_INO } from './namespace';
export { chrDevicesInUse, encodeDev } from './chrdev';
export { DEFAULT_OPTIONS, NR_UNIX98_PTY_MAX, OptionError, formatOptions, parseOptions, type PtsOptions } from './options';
export { ptyReport, type PidReport, type PtyReport } from './report';

/** A mounted pts namespace. */
export class PtsMount {
  /** @param entriesWhy the entry mode the mount has and, for auto, why: what the daemon logs */
  constructor(readonly namespace: PtsNamespace, readonly fuse: MountedSession, readonly entriesWhy: string) {
    // However the mount ends (stop(), umount from outside), hang up its ptys.
    void fuse.session.closed.then(() => namespace.shutdown());
  }

  get mountpoint(): string {
    return this.fuse.mountpoint;
  }

  /** Resolves when the mount is gone (stopped, or unmounted from outside). */
  get closed(): Promise<Error | undefined> {
    return this.fuse.session.closed;
  }

  /**
   * Hangs up every pty, then unmounts (detached if busy). The hangup comes
   * first, while the session can still answer: blocked replica readers get
   * EIO, as when a terminal emulator exits, rather than the abort of a
   * connection that is already gone.
   */
  async stop(): Promise<void> {
    this.namespace.shutdown();
    await this.fuse.stop();
  }
}

/**
 * Mounts a new pts namespace on `target`. Permissions are the kernel's
 * business (default_permissions), as on devpts.
 */
export async function mountNamespace(target: string, options: PtsOptions, deps?: NamespaceDeps): Promise<PtsMount> {
  const { entries, devices, why } = entryMode(options);
  const namespace = new PtsNamespace({ ...options, entries }, deps);
  if (devices) await namespace.makeDevices(devices);
  let fuse: MountedSession;
  try {
    fuse = await serve(target, namespace, {
      subtype: 'ptsfs',
      source: 'ptsfs',
      options: ['default_permissions'],
      flags: options.mountFlags,
    });
  } catch (err) {
    namespace.shutdown(); // its devices go
    throw err;
  }
  return new PtsMount(namespace, fuse, why);
}

/**
 * entries=: chr needs CUSE and a mount that may have device nodes; auto
 * takes chr when both hold, and says why not otherwise. chr asked for
 * and impossible is an error: a namespace never falls back.
 */
function entryMode(o: PtsOptions): { entries: 'chr' | 'file'; devices?: ChrDevices; why: string } {
  if (o.entries === 'file') return { entries: 'file', why: 'entries=file' };
  let why: string;
  if (o.mountFlags & MS_NODEV) why = 'the mount is nodev: device nodes on it cannot be opened';
  else {
    try {
      const devices = chrDevices();
      return { entries: 'chr', devices, why: `entries=chr${o.entries === 'auto' ? ' (auto)' : ''}: CUSE devices, char major ${devices.major}` };
    } catch (err) {
      if (!(err instanceof ChrUnavailable)) throw err;
      why = err.message;
    }
  }
  if (o.entries === 'chr') throw new OptionError(`entries=chr: ${why}`);
  return { entries: 'file', why: `entries=file (auto: ${why})` };
}
