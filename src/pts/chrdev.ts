// Character-device entries (entries=chr): the ptmx, the tty and every pty
// of a chr namespace are CUSE devices, each on a /dev/cuse connection of
// its own. One registry per daemon hands out their numbers: one major for
// the whole daemon (what a container's device cgroup rule names), distinct
// minors, and a cap on how many exist at once.
import * as fs from 'fs';
import { chrdevTaken, createCuseDevice, cuseUnavailable, type Handlers, type Session } from '../fuse';
import { EBUSY, ENOSPC, isSysError, SysError } from '../sys/errno';

/**
 * devices.txt reserves these char majors for local use; unlike 234-254
 * and 384-511 the kernel never hands them out dynamically, so no driver
 * loaded later can be given the major we use.
 */
const LOCAL_MAJORS = [120, 121, 122, 123, 124, 125, 126, 127, 60, 61, 62, 63];
/** Every device we register is named ptsfs!...: a major held only by such names is another ptsfs daemon's, and shareable. */
const NAME_PREFIX = 'ptsfs!';
/** MINORBITS: minors are 20 bits. */
const MINOR_MAX = (1 << 20) - 1;
/** About 10 KiB of kernel memory each (a cdev, a struct device, a sysfs directory). */
export const CHR_DEVICES_MAX = 4096;
/** How many taken minors (another daemon's, raced to) one creation steps over. */
const BUSY_RETRIES = 64;

/** new_encode_dev(): a device number as fuse_attr.rdev and TIOCGDEV carry it. */
export function encodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** A CUSE device of ours: its session and its number. */
export interface ChrDevice {
  readonly name: string;
  readonly major: number;
  readonly minor: number;
  readonly session: Session;
}

/** The char majors registered now, with the names registered under each (/proc/devices). */
function registeredMajors(): Map<number, string[]> {
  const majors = new Map<number, string[]>();
  let inChar = false;
  for (const line of fs.readFileSync('/proc/devices', 'latin1').split('\n')) {
    if (line.startsWith('Character devices:')) inChar = true;
    else if (line.startsWith('Block devices:')) inChar = false;
    else if (inChar) {
      const m = /^\s*(\d+)\s+(\S+)/.exec(line);
      if (m) majors.set(Number(m[1]), [...(majors.get(Number(m[1])) ?? []), m[2]!]);
    }
  }
  return majors;
}

/** The first local major that nothing but ptsfs holds, or undefined. */
export function chooseMajor(): number | undefined {
  const majors = registeredMajors();
  return LOCAL_MAJORS.find((m) => (majors.get(m) ?? []).every((name) => name.startsWith(NAME_PREFIX)));
}

export class ChrDevices {
  private readonly minors = new Set<number>();
  private nextMinor = 0;
  private nextNamespace = 1;

  constructor(readonly major: number, readonly max: number) {}

  get count(): number {
    return this.minors.size;
  }

  /** A name prefix for one namespace's devices, unique among live daemons: /dev/ptsfs/PID.N/... on the host. */
  namespacePrefix(): string {
    return `${NAME_PREFIX}${process.pid}.${this.nextNamespace++}!`;
  }

  /** Creates device `name` served by `handlers`; ENOSPC past the cap or with no minor left. */
  async create(name: string, handlers: Handlers): Promise<ChrDevice> {
    if (this.minors.size >= this.max) throw new SysError(`CUSE device ${name}: ${this.max} devices exist (the daemon's cap)`, ENOSPC);
    for (let tries = 0; tries < BUSY_RETRIES; tries++) {
      const minor = this.freeMinor();
      this.minors.add(minor);
      try {
        const session = await createCuseDevice({ name, major: this.major, minor }, handlers);
        // Root-only on the host, whatever udev's rules say: containers reach it through their own node.
        chmodHostNode(name);
        return { name, major: this.major, minor, session };
      } catch (err) {
        this.minors.delete(minor);
        if (!isSysError(err, EBUSY)) throw err;
        this.nextMinor = minor + 1; // taken meanwhile by another daemon: step over it
      }
    }
    throw new SysError(`CUSE device ${name}: no free minor of major ${this.major}`, ENOSPC);
  }

  /** Removes the device (cuse_channel_release unregisters it and its host node). */
  remove(dev: ChrDevice): void {
    dev.session.close();
    this.minors.delete(dev.minor);
  }

  /** The lowest minor from nextMinor on that neither we nor anyone else holds. */
  private freeMinor(): number {
    for (let i = 0; i <= MINOR_MAX; i++) {
      const m = (this.nextMinor + i) % (MINOR_MAX + 1);
      if (!this.minors.has(m) && !chrdevTaken(this.major, m)) {
        this.nextMinor = m + 1;
        return m;
      }
    }
    throw new SysError(`CUSE: every minor of major ${this.major} is taken`, ENOSPC);
  }
}

/** devtmpfs makes the node 0600 already (cuse_class has no devnode()); a udev rule could loosen it. */
function chmodHostNode(name: string): void {
  try {
    fs.chmodSync(`/dev/${name.replace(/!/g, '/')}`, 0o600);
  } catch (err) {
    // No devtmpfs on /dev here (a daemon in a container): no host node to guard.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

let registry: ChrDevices | undefined;

/** The daemon's registry, made on first use; throws with the reason when this host cannot have chr entries. */
export function chrDevices(): ChrDevices {
  if (registry) return registry;
  const why = cuseUnavailable();
  if (why) throw new ChrUnavailable(why);
  const major = chooseMajor();
  if (major === undefined) throw new ChrUnavailable(`every local char major (${LOCAL_MAJORS.join(', ')}) is taken`);
  const max = Number(process.env.PTSFS_CHR_MAX ?? CHR_DEVICES_MAX);
  registry = new ChrDevices(major, Number.isSafeInteger(max) && max > 0 ? max : CHR_DEVICES_MAX);
  return registry;
}

/** The registry if chr entries are in use, for the CLI to show the major. */
export function chrDevicesInUse(): ChrDevices | undefined {
  return registry;
}

/** This host cannot have CUSE devices: the message says why. */
export class ChrUnavailable extends Error {}
