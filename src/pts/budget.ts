// The host's ptys, shared by every mount. For a devpts instance other than
// the host's, devpts_new_index() refuses the last kernel.pty.reserve of
// kernel.pty.max (counted over all instances), so that containers cannot
// take the ptys the host needs. Our backing ptys belong to the host's
// instance, which may go to the limit: so ptmx applies the rule itself
// before it takes one.
import * as fs from 'fs';

const PTY_SYSCTL = '/proc/sys/kernel/pty';

function sysctl(name: string): number {
  return Number(fs.readFileSync(`${PTY_SYSCTL}/${name}`, 'latin1'));
}

/** Whether a container may have one more pty: with it, fewer than max - reserve exist host-wide. */
export function hostHasRoom(): boolean {
  let nr: number, max: number, reserve: number;
  try {
    nr = sysctl('nr');
    max = sysctl('max');
    reserve = sysctl('reserve');
  } catch {
    return true; // no such sysctls (not Linux's devpts): the backing open will tell
  }
  return nr + 1 < max - reserve;
}
