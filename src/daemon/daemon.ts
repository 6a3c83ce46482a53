// The host's daemon: every pts namespace of the host in one process, one
// FUSE connection each, all on one event loop (no thread per mount). It
// mounts, unmounts and reports on request from the control socket, and
// keeps a record of its mounts for whoever has to clean up after it.
import * as fs from 'fs';
import * as path from 'path';
import { formatOptions, mountNamespace, OptionError, parseOptions, ptyReport, type PtsMount } from '../pts';
import { isSysError } from '../sys/errno';
import { topMount } from '../sys/mountinfo';
import type { Client } from './control';
import type { DaemonPaths } from './paths';
import type { MountReport, Request, Response } from './protocol';
import { removeDir, saveState } from './state';

/** A request the daemon refuses; its message goes to the client as is. */
export class Refused extends Error {
  constructor(message: string, readonly reason: 'not-mine' | 'bad-request' = 'bad-request') {
    super(message);
  }
}

interface Served {
  readonly mount: PtsMount;
  readonly options: string;
  readonly mountedAt: Date;
  readonly mountId: number;
  readonly leased: boolean;
}

export type Log = (message: string) => void;

export class Daemon {
  private readonly served = new Map<string, Served>();
  /** Mountpoints with a mount in progress: a second request for one is refused, not raced. */
  private readonly pending = new Set<string>();
  private stopping: Promise<void> | undefined;

  constructor(readonly paths: DaemonPaths, private readonly log: Log) {}

  get mountCount(): number {
    return this.served.size;
  }

  async handle(req: Request, client: Client): Promise<Response> {
    try {
      return await this.serve(req, client);
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      return { ok: false, error: err.message, ...(err.reason === 'not-mine' ? { notMine: true } : {}) };
    }
  }

  private async serve(req: Request, client: Client): Promise<Response> {
    switch (req.op) {
      case 'mount': {
        const dir = await this.mount(req.mountpoint, req.options, req.lease);
        if (req.lease) client.onClose(() => void this.umountQuietly(dir));
        return { ok: true, mountpoint: dir };
      }
      case 'umount':
        await this.umount(req.mountpoint);
        return { ok: true };
      case 'list':
        return { ok: true, pid: process.pid, mounts: this.list() };
      case 'stop': {
        const mounts = [...this.served.keys()];
        await this.stop();
        return { ok: true, cleaned: mounts };
      }
    }
  }

  /** Mounts a new namespace on `mountpoint` (or on a fresh directory of its own for a lease). */
  async mount(mountpoint: string | null, optionsText: string, leased: boolean): Promise<string> {
    if (this.stopping) throw new Refused('the daemon is stopping');
    let options;
    try {
      options = parseOptions(optionsText);
    } catch (err) {
      if (err instanceof OptionError) throw new Refused(err.message);
      throw err;
    }
    const dir = mountpoint === null ? this.leaseDir() : await directory(mountpoint);
    if (this.served.has(dir) || this.pending.has(dir) || topMount(dir)?.fstype === 'fuse.ptsfs') {
      if (mountpoint === null) removeDir(dir);
      throw new Refused(`${dir}: already a ptsfs mount`);
    }
    this.pending.add(dir);
    let mount: PtsMount;
    try {
      mount = await mountNamespace(dir, options);
    } catch (err) {
      if (mountpoint === null) removeDir(dir);
      if (isSysError(err)) throw new Refused(`mount ${dir}: ${err.message}`);
      if (err instanceof OptionError) throw new Refused(err.message);
      throw err;
    } finally {
      this.pending.delete(dir);
    }
    const s: Served = { mount, options: formatOptions(mount.namespace.options), mountedAt: new Date(), mountId: topMount(dir)?.id ?? -1, leased };
    this.served.set(dir, s);
    this.save();
    // However it ends (our umount, `umount DIR` from outside), forget it.
    void mount.closed.then(() => this.forget(dir, s));
    this.log(`mounted ${dir} (${s.options}; ${mount.entriesWhy})${leased ? ' for ptsfs run' : ''}`);
    return dir;
  }

  /** Hangs up the mount's ptys and unmounts it. */
  async umount(mountpoint: string): Promise<void> {
    const dir = this.served.has(mountpoint) ? mountpoint : await fs.promises.realpath(mountpoint).catch(() => mountpoint);
    const s = this.served.get(dir);
    if (!s) throw new Refused(`${mountpoint}: not mounted by this daemon`, 'not-mine');
    await s.mount.stop();
    this.forget(dir, s);
  }

  private async umountQuietly(dir: string): Promise<void> {
    try {
      await this.umount(dir);
    } catch (err) {
      if (!(err instanceof Refused)) this.log(`umount ${dir}: ${String(err)}`);
    }
  }

  list(): MountReport[] {
    return [...this.served].map(([mountpoint, s]) => ({
      mountpoint,
      options: s.options,
      ...(s.mount.namespace.major === undefined ? {} : { major: s.mount.namespace.major }),
      mountedAt: s.mountedAt.toISOString(),
      leased: s.leased,
      ptys: [...s.mount.namespace.ptys.values()].sort((a, b) => a.index - b.index).map(ptyReport),
    }));
  }

  /** Unmounts everything, hanging up every pty first. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const all = [...this.served];
      await Promise.all(all.map(async ([dir, s]) => {
        try {
          await s.mount.stop();
        } catch (err) {
          this.log(`umount ${dir}: ${String(err)}`);
        }
        this.forget(dir, s);
      }));
    })();
    return this.stopping;
  }

  private forget(dir: string, s: Served): void {
    if (this.served.get(dir) !== s) return;
    this.served.delete(dir);
    this.save();
    if (s.leased) removeDir(dir);
    this.log(`unmounted ${dir}`);
  }

  private save(): void {
    saveState(this.paths, [...this.served].map(([mountpoint, s]) => ({ mountpoint, mountId: s.mountId, leased: s.leased })));
  }

  private leaseDir(): string {
    fs.mkdirSync(this.paths.runDir, { recursive: true, mode: 0o700 });
    return fs.mkdtempSync(path.join(this.paths.runDir, 'pts-'));
  }
}

/**
 * The canonical path of an existing directory. Asked of the threadpool
 * (fs.promises): a path through another FUSE mount may take long or
 * never answer, and must not hold the loop that serves every mount.
 */
async function directory(p: string): Promise<string> {
  let real: string;
  try {
    real = await fs.promises.realpath(p);
  } catch {
    throw new Refused(`${p}: no such directory`);
  }
  const st = await fs.promises.stat(real);
  if (!st.isDirectory()) throw new Refused(`${p}: not a directory`);
  return real;
}
