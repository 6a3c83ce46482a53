// devpts mount options (fs/devpts/inode.c parse_mount_options), plus the
// generic mount flags a container runtime passes with them.
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY } from '../sys/libc';

/** fs/devpts/inode.c NR_UNIX98_PTY_MAX: the default and the upper bound of max=. */
export const NR_UNIX98_PTY_MAX = 1 << 20;

/** What the entries are: regular files (FUSE only) or character devices (CUSE); auto: chr where the host allows it. */
export type EntryMode = 'auto' | 'chr' | 'file';
const ENTRY_MODES: readonly EntryMode[] = ['auto', 'chr', 'file'];

export interface PtsOptions {
  /** Owner of new entries; undefined: the opener's fsuid. */
  readonly uid: number | undefined;
  /** Group of new entries; undefined: the opener's fsgid. */
  readonly gid: number | undefined;
  /** Permission bits of entries N. */
  readonly mode: number;
  /** Permission bits of ptmx. */
  readonly ptmxmode: number;
  /** Number of ptys this instance may hold. */
  readonly max: number;
  /** MS_* flags for mount(2). */
  readonly mountFlags: number;
  /** entries=; a mounted namespace has chr or file, never auto. */
  readonly entries: EntryMode;
}

export const DEFAULT_OPTIONS: PtsOptions = {
  uid: undefined,
  gid: undefined,
  mode: 0o600, // DEVPTS_DEFAULT_MODE
  ptmxmode: 0o000, // DEVPTS_DEFAULT_PTMX_MODE
  max: NR_UNIX98_PTY_MAX,
  mountFlags: 0,
  entries: 'auto',
};

export class OptionError extends Error {}

const MOUNT_FLAGS: Readonly<Record<string, number>> = {
  nosuid: MS_NOSUID,
  noexec: MS_NOEXEC,
  nodev: MS_NODEV,
  ro: MS_RDONLY,
};
/** Generic options that are the default anyway. */
const NO_OP_FLAGS = new Set(['rw', 'suid', 'exec', 'dev', 'newinstance']);

function decimal(name: string, value: string, limit: number): number {
  if (!/^\d+$/.test(value)) throw new OptionError(`${name}=${value}: not a decimal number`);
  const n = Number(value);
  if (n > limit) throw new OptionError(`${name}=${value}: larger than ${limit}`);
  return n;
}

function octal(name: string, value: string): number {
  if (!/^[0-7]+$/.test(value)) throw new OptionError(`${name}=${value}: not an octal mode`);
  // The kernel masks modes with S_IALLUGO (07777).
  return parseInt(value, 8) & 0o7777;
}

/** Parses `-o` text such as `ptmxmode=666,mode=620,gid=5`; throws OptionError naming the bad option. */
export function parseOptions(text: string): PtsOptions {
  const o: { -readonly [K in keyof PtsOptions]: PtsOptions[K] } = { ...DEFAULT_OPTIONS };
  for (const item of text.split(',')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? undefined : item.slice(eq + 1);
    if (value === undefined) {
      if (name in MOUNT_FLAGS) o.mountFlags |= MOUNT_FLAGS[name]!;
      else if (!NO_OP_FLAGS.has(name)) throw new OptionError(`unknown option "${name}"`);
      continue;
    }
    switch (name) {
      case 'uid': o.uid = decimal(name, value, 0xfffffffe); break;
      case 'gid': o.gid = decimal(name, value, 0xfffffffe); break;
      case 'mode': o.mode = octal(name, value); break;
      case 'ptmxmode': o.ptmxmode = octal(name, value); break;
      case 'max': {
        // Like the kernel: max above NR_UNIX98_PTY_MAX is EINVAL.
        o.max = decimal(name, value, NR_UNIX98_PTY_MAX);
        break;
      }
      case 'entries': {
        if (!ENTRY_MODES.includes(value as EntryMode)) throw new OptionError(`entries=${value}: not one of ${ENTRY_MODES.join(', ')}`);
        o.entries = value as EntryMode;
        break;
      }
      default: throw new OptionError(`unknown option "${item}"`);
    }
  }
  return o;
}

/** The options as /proc/mounts shows a devpts mount's (devpts_show_options), for `ptsfs list`. */
export function formatOptions(o: PtsOptions): string {
  const parts: string[] = [];
  for (const [name, flag] of Object.entries(MOUNT_FLAGS)) if (o.mountFlags & flag) parts.push(name);
  if (o.uid !== undefined) parts.push(`uid=${o.uid}`);
  if (o.gid !== undefined) parts.push(`gid=${o.gid}`);
  parts.push(`mode=${o.mode.toString(8).padStart(3, '0')}`, `ptmxmode=${o.ptmxmode.toString(8).padStart(3, '0')}`);
  if (o.max !== NR_UNIX98_PTY_MAX) parts.push(`max=${o.max}`);
  if (o.entries !== 'auto') parts.push(`entries=${o.entries}`);
  return parts.join(',');
}
