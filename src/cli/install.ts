// `ptsfs install`: the mount(8) helpers, so that `mount -t fuse.ptsfs`,
// fstab lines and `umount DIR` work. mount(8) runs /sbin/mount.TYPE SPEC DIR
// [-sfnv] [-o OPTIONS] for a type it does not know, and umount(8)
// /sbin/umount.TYPE DIR [-flnrv] (libmount, "External helpers").
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from './usage';

const HELPERS = ['mount.fuse.ptsfs', 'umount.fuse.ptsfs'] as const;
const BIN_DIR = path.resolve(__dirname, '../../../bin');

export function installCommand(dir: string, remove: boolean): number {
  for (const name of HELPERS) {
    const link = path.join(dir, name);
    const target = path.join(BIN_DIR, name);
    let current: string | undefined;
    try {
      current = fs.readlinkSync(link);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINVAL') throw new UsageError(`install: ${link} exists and is not a symlink; not touching it`);
      if (code !== 'ENOENT') throw new UsageError(`install: ${link}: ${(err as Error).message}`);
    }
    if (remove) {
      if (current !== undefined && path.basename(current) === name) fs.unlinkSync(link);
      continue;
    }
    if (current === target) continue;
    if (current !== undefined) fs.unlinkSync(link);
    try {
      fs.symlinkSync(target, link);
    } catch (err) {
      throw new UsageError(`install: ${link}: ${(err as Error).message}`);
    }
  }
  return 0;
}

/** Options mount(8) passes that only mean something to mount(8) itself (fstab's noauto, user, nofail, x-*, ...). */
const USERSPACE_ONLY = /^(defaults|auto|noauto|user|nouser|users|owner|group|nofail|_netdev|x-.*|comment=.*|relatime|noatime|strictatime|nodiratime|lazytime)$/;

export interface HelperArgs {
  readonly dir: string;
  readonly options: string;
}

/** Parses mount(8)'s helper arguments: SPEC DIR [-sfnvrw] [-o OPTIONS] [-t TYPE]. */
export function parseMountHelperArgs(argv: readonly string[]): HelperArgs {
  const positional: string[] = [];
  const opts: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-o') opts.push(argv[++i] ?? '');
    else if (a.startsWith('-o')) opts.push(a.slice(2));
    else if (a === '-t') i++;
    else if (/^-[sfnvrw]+$/.test(a)) continue;
    else if (a.startsWith('-')) throw new UsageError(`mount.fuse.ptsfs: unknown argument ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 2) throw new UsageError('usage: mount.fuse.ptsfs SOURCE DIR [-o OPTIONS]');
  const kept = opts.join(',').split(',').filter((o) => o !== '' && !USERSPACE_ONLY.test(o));
  return { dir: positional[1]!, options: kept.join(',') };
}

/** Parses umount(8)'s helper arguments: DIR [-flnrv] [-t TYPE]. */
export function parseUmountHelperArgs(argv: readonly string[]): string {
  const positional = argv.filter((a, i) => !a.startsWith('-') && argv[i - 1] !== '-t');
  if (positional.length !== 1) throw new UsageError('usage: umount.fuse.ptsfs DIR');
  return positional[0]!;
}
