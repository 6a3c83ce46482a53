// The host's ptys, shared by every mount. For a devpts instance other than
// the host's, devpts_new_index() refuses the last kernel.pty.reserve of
// kernel.pty.max (counted over all instances), so that containers cannot
// take the ptys the host needs. Our backing ptys belong to the host's
// instance, which may go to the limit: so ptmx applies the rule itself
// before it takes one.
import * as fs from 'fs';

const PTY_SYSCTL = '/proc/sys/kernel/pty';
const NAMES = ['nr', 'max', 'reserve'] as const;

/** The three sysctls, opened once: a pread of each is a few microseconds, an open+read+close fifty. */
let fds: number[] | undefined | null;
const text = Buffer.alloc(32);

function sysctl(fd: number): number {
  const n = fs.readSync(fd, text, 0, text.length, 0);
  return Number(text.toString('latin1', 0, n));
}

/** Whether a container may have one more pty: with it, fewer than max - reserve exist host-wide. */
export function hostHasRoom(): boolean {
  if (fds === undefined) {
    try {
      fds = NAMES.map((name) => fs.openSync(`${PTY_SYSCTL}/${name}`, 'r'));
    } catch {
      fds = null; // no such sysctls: the backing open will tell
    }
  }
  if (fds === null) return true;
  const [nr, max, reserve] = fds.map(sysctl) as [number, number, number];
  return nr + 1 < max - reserve;
}
