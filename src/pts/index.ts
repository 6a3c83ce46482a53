// The emulation layer: pts namespaces on top of the FUSE layer.
import { serve, type MountedSession } from '../fuse';
import { PtsNamespace, type NamespaceDeps } from './namespace';
import type { PtsOptions } from './options';

export { PtsNamespace, PTMX_INO, TTY_INO } from './namespace';
export { DEFAULT_OPTIONS, NR_UNIX98_PTY_MAX, OptionError, formatOptions, parseOptions, type PtsOptions } from './options';
export { ptyReport, type PidReport, type PtyReport } from './report';

/** A mounted pts namespace. */
export class PtsMount {
  constructor(readonly namespace: PtsNamespace, readonly fuse: MountedSession) {
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
  const namespace = new PtsNamespace(options, deps);
  const fuse = await serve(target, namespace, {
    subtype: 'ptsfs',
    source: 'ptsfs',
    options: ['default_permissions'],
    flags: options.mountFlags,
    onSession: (s) => namespace.attach(s),
  });
  return new PtsMount(namespace, fuse);
}
