// CUSE: a character device whose file operations are FUSE requests on a
// /dev/cuse connection (fs/fuse/cuse.c). One connection is one device: the
// kernel sends CUSE_INIT on open, creates the device from the reply, and
// removes it when the connection's fd is closed (cuse_channel_release).
import * as fs from 'fs';
import { EBUSY, SysError } from '../sys/errno';
import { Session, type CuseDevice, type Handlers } from './session';

export const CUSE_PATH = '/dev/cuse';
/** Where the kernel lists CUSE devices, by kobject name. */
const CUSE_CLASS = '/sys/class/cuse';

/** Why this host cannot have CUSE devices, or undefined if it can. */
export function cuseUnavailable(): string | undefined {
  try {
    fs.closeSync(fs.openSync(CUSE_PATH, fs.constants.O_RDWR));
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO') return 'the kernel has no CUSE (no /dev/cuse; CONFIG_CUSE unset or the cuse module not loaded)';
    return `${CUSE_PATH}: ${code ?? String(err)}`;
  }
}

/** The kobject name: device_add() turns '/' into '!' (kobject_set_name_vargs). */
function classEntry(name: string): string {
  return `${CUSE_CLASS}/${name.replace(/\//g, '!')}`;
}

/** Whether some device, ours or not, holds `major:minor` now. */
export function chrdevTaken(major: number, minor: number): boolean {
  return fs.existsSync(`/sys/dev/char/${major}:${minor}`);
}

/**
 * Creates the character device `dev`, served by `handlers`. Resolves once
 * it exists; throws SysError EBUSY when its number or name is taken (the
 * kernel aborted the connection rather than create it).
 */
export async function createCuseDevice(dev: CuseDevice, handlers: Handlers): Promise<Session> {
  const fd = fs.openSync(CUSE_PATH, fs.constants.O_RDWR);
  const session = new Session(fd, handlers, dev);
  try {
    await session.ready;
  } catch (err) {
    session.close();
    throw err;
  }
  // The kernel made the device while taking our reply, or gave up on it.
  let madeDev: string | undefined;
  try {
    madeDev = fs.readFileSync(`${classEntry(dev.name)}/dev`, 'latin1').trim();
  } catch {
    madeDev = undefined;
  }
  if (madeDev !== `${dev.major}:${dev.minor}` || !session.isOpen) {
    session.close();
    throw new SysError(`CUSE device ${dev.name} (${dev.major}:${dev.minor})`, EBUSY);
  }
  return session;
}
