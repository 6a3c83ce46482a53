// The daemon's record of its mounts, for whoever comes after it. A daemon
// that is SIGKILLed leaves its mounts dead (every request gets ENOTCONN,
// the connection died with its fd); the next daemon, holding the lock that
// proves the old one is gone, detaches exactly those mounts. Mountpoint and
// mount id together name a mount, so a path mounted again since is left alone.
import * as fs from 'fs';
import { EINVAL, ENOENT, isSysError } from '../sys/errno';
import { MNT_DETACH, umount2 } from '../sys/libc';
import { readMountinfo } from '../sys/mountinfo';
import type { DaemonPaths } from './paths';

export interface RecordedMount {
  readonly mountpoint: string;
  readonly mountId: number;
  /** A `ptsfs run` mount: its directory was made by the daemon and goes with it. */
  readonly leased: boolean;
}

function isRecorded(v: unknown): v is RecordedMount {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.mountpoint === 'string' && r.mountpoint.startsWith('/') && typeof r.mountId === 'number' && typeof r.leased === 'boolean';
}

/** Replaces the record at once (write, then rename): a kill mid-write leaves the old one whole. */
export function saveState(p: DaemonPaths, mounts: readonly RecordedMount[]): void {
  const tmp = `${p.state}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(mounts), { mode: 0o600 });
  fs.renameSync(tmp, p.state);
}

function loadState(p: DaemonPaths): RecordedMount[] {
  let text: string;
  try {
    text = fs.readFileSync(p.state, 'utf8');
  } catch (err) {
    if (isSysError(err, ENOENT) || (err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter(isRecorded) : [];
  } catch {
    return [];
  }
}

/**
 * Detaches the mounts a dead daemon left; returns their mountpoints. Only
 * for the holder of the daemon lock. MNT_DETACH, because processes may
 * still hold files there; they keep getting ENOTCONN until they close them.
 */
export function cleanDeadMounts(p: DaemonPaths): string[] {
  const recorded = loadState(p);
  const cleaned: string[] = [];
  if (recorded.length > 0) {
    const live = new Map(readMountinfo().map((m) => [m.id, m]));
    for (const r of recorded) {
      const m = live.get(r.mountId);
      if (!m || m.mountpoint !== r.mountpoint || m.fstype !== 'fuse.ptsfs') continue;
      try {
        umount2(r.mountpoint, MNT_DETACH);
        cleaned.push(r.mountpoint);
      } catch (err) {
        if (!isSysError(err, EINVAL) && !isSysError(err, ENOENT)) throw err;
      }
      if (r.leased) removeDir(r.mountpoint);
    }
  }
  fs.rmSync(p.state, { force: true });
  return cleaned;
}

/** rmdir, quietly: a leased mount's directory, once nothing is mounted on it. */
export function removeDir(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // still busy or already gone: a later daemon start cleans it
  }
}
