// `ptsfs mount` and `ptsfs umount`.
import * as path from 'path';
import { mountType, unmountFuse } from '../fuse';
import { mountNamespace, OptionError, type PtsMount } from '../pts';
import { cleanAfterDeadDaemon, ClientError, connectOrStart, connectRunning, type DaemonPaths } from '../daemon';
import { isSysError, EINVAL, EPERM } from '../sys/errno';
import { options, requireDirectory, say, sayCleaned, UsageError } from './usage';

/** `ptsfs mount -o OPTIONS DIR`: the host's daemon serves it; 0 once the mount is live. */
export async function mountCommand(p: DaemonPaths, dir: string, optionText: string): Promise<number> {
  options(optionText, 'mount');
  requireDirectory(dir, 'mount');
  const { connection, cleaned } = await connectOrStart(p);
  sayCleaned(cleaned);
  try {
    await connection.request({ op: 'mount', mountpoint: path.resolve(dir), options: optionText, lease: false });
  } catch (err) {
    if (err instanceof ClientError) throw new UsageError(`mount: ${err.message}`);
    throw err;
  } finally {
    connection.close();
  }
  return 0;
}

/** `ptsfs mount --foreground`: serve this one mount in this process until unmounted or signalled. */
export async function foregroundCommand(dir: string, optionText: string): Promise<number> {
  const opts = options(optionText, 'mount');
  requireDirectory(dir, 'mount');
  // Handlers first: a signal that arrives while mounting must not kill the
  // process between mount(2) and serving, which would leave a dead mount.
  let m: PtsMount | undefined;
  let stopping = false;
  const stop = (): void => {
    stopping = true;
    if (m) void m.stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    m = await mountNamespace(dir, opts);
  } catch (err) {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    if (isSysError(err)) throw new UsageError(`mount ${dir}: ${err.message}`);
    if (err instanceof OptionError) throw new UsageError(`mount ${dir}: ${err.message}`);
    throw err;
  }
  say(`serving ${dir}: ${m.entriesWhy}`);
  if (stopping) void m.stop();
  await m.closed;
  process.removeListener('SIGINT', stop);
  process.removeListener('SIGTERM', stop);
  return 0;
}

/**
 * `ptsfs umount DIR`: the daemon hangs up the mount's ptys and unmounts it.
 * A mount no daemon serves (a --foreground one, or one whose server died)
 * is unmounted here, detached if busy.
 */
export async function umountCommand(p: DaemonPaths | undefined, dir: string): Promise<number> {
  const abs = path.resolve(dir);
  if (!p) {
    unmountHere(abs, dir);
    return 0;
  }
  const connection = await connectRunning(p);
  if (connection) {
    try {
      await connection.request({ op: 'umount', mountpoint: abs });
      return 0;
    } catch (err) {
      if (!(err instanceof ClientError)) throw err;
      if (!err.notMine) throw new UsageError(`umount: ${err.message}`);
    } finally {
      connection.close();
    }
  } else {
    const cleaned = cleanAfterDeadDaemon(p);
    sayCleaned(cleaned);
    if (cleaned.includes(abs)) return 0;
  }
  unmountHere(abs, dir);
  return 0;
}

function unmountHere(abs: string, dir: string): void {
  // No realpath or stat: a mount whose server died answers them with ENOTCONN,
  // and unmounting it is exactly what the user wants then.
  const type = mountType(abs);
  if (type === undefined) throw new UsageError(`umount ${dir}: not mounted`);
  if (type !== 'fuse.ptsfs') throw new UsageError(`umount ${dir}: not a ptsfs mount (${type})`);
  try {
    unmountFuse(abs);
  } catch (err) {
    if (isSysError(err, EINVAL)) throw new UsageError(`umount ${dir}: not mounted`);
    if (isSysError(err, EPERM)) throw new UsageError(`umount ${dir}: permission denied`);
    if (isSysError(err)) throw new UsageError(`umount ${dir}: ${err.message}`);
    throw err;
  }
}
