// `ptsfs daemon`: the process that serves every mount of the host.
import * as fs from 'fs';
import { EAGAIN, isSysError } from '../sys/errno';
import { flock, LOCK_EX, LOCK_NB } from '../sys/libc';
import { listenControl } from './control';
import { Daemon, type Log } from './daemon';
import { makeDaemonDir, type DaemonPaths } from './paths';
import { cleanDeadMounts } from './state';

export class DaemonRunning extends Error {}

/**
 * Takes the daemon lock, or throws DaemonRunning naming the holder. The
 * lock fd stays open for the daemon's life; the kernel drops the lock
 * when the process ends, however it ends.
 */
export function takeDaemonLock(p: DaemonPaths, wait = false): number {
  const fd = fs.openSync(p.lock, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB);
  } catch (err) {
    fs.closeSync(fd);
    if (isSysError(err, EAGAIN)) {
      const pid = fs.readFileSync(p.lock, 'utf8').trim();
      throw new DaemonRunning(`a daemon already serves ${p.socket}${pid ? ` (pid ${pid})` : ''}`);
    }
    throw err;
  }
  return fd;
}

/** Logs go to stderr, which the starter points at a file or the journal; never at a terminal. */
function openLog(p: DaemonPaths): Log {
  let fd = 2;
  if (process.stderr.isTTY) fd = fs.openSync(p.log, 'a', 0o600);
  return (message) => {
    try {
      fs.writeSync(fd, `${new Date().toISOString()} ptsfs[${process.pid}]: ${message}\n`);
    } catch {
      // a full disk or a closed journal must not take the mounts down
    }
  };
}

/**
 * Runs the daemon until `stop` or SIGTERM/SIGINT. `readyFd` (from the
 * client that started it) gets one JSON line once the socket listens,
 * naming the dead mounts it cleaned, and is closed.
 */
export async function runDaemon(p: DaemonPaths, readyFd?: number): Promise<number> {
  makeDaemonDir(p);
  const lockFd = takeDaemonLock(p);
  fs.ftruncateSync(lockFd);
  fs.writeSync(lockFd, `${process.pid}\n`);
  const log = openLog(p);
  const cleaned = cleanDeadMounts(p);
  for (const dir of cleaned) log(`cleaned ${dir}: a dead mount of a daemon that was killed`);
  const daemon = new Daemon(p, log);
  let stopRequested: (why: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => { stopRequested = resolve; });
  const control = await listenControl(p.socket, async (req, client) => {
    const res = await daemon.handle(req, client);
    // After this answer is written: the stop ends the connections.
    if (req.op === 'stop') setImmediate(() => stopRequested('ptsfs stop'));
    return res;
  });
  process.once('SIGTERM', () => stopRequested('SIGTERM'));
  process.once('SIGINT', () => stopRequested('SIGINT'));
  // A closed terminal or journal is no reason to drop every container's ptys.
  process.on('SIGHUP', () => undefined);
  log(`listening on ${p.socket}`);
  if (readyFd !== undefined) {
    fs.writeSync(readyFd, `${JSON.stringify({ ready: true, pid: process.pid, cleaned })}\n`);
    fs.closeSync(readyFd);
  }
  const why = await stopped;
  log(`stopping (${why}): unmounting ${daemon.mountCount} mounts`);
  await daemon.stop();
  control.close();
  log('stopped');
  fs.closeSync(lockFd);
  return 0;
}
