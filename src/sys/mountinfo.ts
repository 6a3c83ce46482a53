// /proc/self/mountinfo (Documentation/filesystems/proc.rst, "3.5
// /proc/<pid>/mountinfo"): what is mounted where, read without touching
// the mounts themselves. A stat of a mountpoint would ask its filesystem,
// and a dead FUSE mount answers ENOTCONN, a hung one never answers, one
// served by the asking process waits for itself.
import * as fs from 'fs';

export interface MountEntry {
  /** Unique while mounted (may be reused after the unmount). */
  readonly id: number;
  readonly mountpoint: string;
  readonly fstype: string;
  readonly source: string;
}

/** The kernel escapes space, tab, newline and backslash as \ooo (seq_file mangle). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mounts of this process's mount namespace, in mount order. */
export function readMountinfo(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line === '') continue;
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0) continue;
    out.push({ id: Number(f[0]), mountpoint: unescape(f[4]!), fstype: f[dash + 1]!, source: unescape(f[dash + 2] ?? '') });
  }
  return out;
}

/** The topmost mount on `mountpoint` (an absolute path as the kernel spells it), if any. */
export function topMount(mountpoint: string, mounts = readMountinfo()): MountEntry | undefined {
  let top: MountEntry | undefined;
  for (const m of mounts) if (m.mountpoint === mountpoint) top = m;
  return top;
}
