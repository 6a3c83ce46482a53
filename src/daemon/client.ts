// The client side of the control socket, and starting the daemon on
// demand: `ptsfs mount` on a fresh host starts one, two at once start one.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { EAGAIN, isSysError } from '../sys/errno';
import { flock, LOCK_EX, LOCK_NB, LOCK_UN } from '../sys/libc';
import { makeDaemonDir, type DaemonPaths } from './paths';
import { parseResponse, type Request, type Response } from './protocol';
import { cleanDeadMounts } from './state';

/** Something the user should read: printed as one line, exit 1. */
export class ClientError extends Error {
  constructor(message: string, readonly notMine = false) {
    super(message);
  }
}

const BIN = path.resolve(__dirname, '../../../bin/ptsfs.js');

/** One connection to the daemon; requests are answered in order. */
export class DaemonConnection {
  private buffered = '';
  private readonly waiting: { resolve: (r: Response) => void; reject: (e: Error) => void }[] = [];
  /** Resolves when the daemon closes the connection (it stopped, or died). */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const w = this.waiting.shift();
        try {
          w?.resolve(parseResponse(line));
        } catch (err) {
          w?.reject(err as Error);
        }
      }
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        for (const w of this.waiting.splice(0)) w.reject(new ClientError('the daemon closed the connection before answering'));
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  /** Connects, or resolves undefined when no daemon listens there. */
  static connect(socketPath: string): Promise<DaemonConnection | undefined> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('connect', () => resolve(new DaemonConnection(s)));
      s.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
        else if (err.code === 'EACCES' || err.code === 'EPERM') reject(new ClientError(`${socketPath}: permission denied (the daemon's socket is root's)`));
        else reject(new ClientError(`${socketPath}: ${err.message}`));
      });
    });
  }

  /** Sends a request; resolves with the answer, or rejects with the daemon's error as a ClientError. */
  request(req: Request): Promise<Response & { ok: true }> {
    return new Promise((resolve, reject) => {
      this.waiting.push({
        resolve: (r) => (r.ok ? resolve(r) : reject(new ClientError(r.error, r.notMine === true))),
        reject,
      });
      this.socket.write(`${JSON.stringify(req)}\n`);
    });
  }

  close(): void {
    this.socket.end();
  }
}

/** The running daemon, or undefined. */
export function connectRunning(p: DaemonPaths): Promise<DaemonConnection | undefined> {
  return DaemonConnection.connect(p.socket);
}

/**
 * With no daemon running, detaches the mounts a killed one left and says
 * which; with one running (it cleaned them when it started), nothing.
 */
export function cleanAfterDeadDaemon(p: DaemonPaths): string[] {
  let fd: number;
  try {
    fd = fs.openSync(p.lock, fs.constants.O_RDWR);
  } catch {
    return [];
  }
  try {
    flock(fd, LOCK_EX | LOCK_NB);
  } catch (err) {
    fs.closeSync(fd);
    if (isSysError(err, EAGAIN)) return [];
    throw err;
  }
  try {
    return cleanDeadMounts(p);
  } finally {
    fs.closeSync(fd);
  }
}

export interface Started {
  readonly connection: DaemonConnection;
  /** Dead mounts the new daemon cleaned (empty if one was running). */
  readonly cleaned: readonly string[];
}

/** Connects to the daemon, starting one if none runs. */
export async function connectOrStart(p: DaemonPaths): Promise<Started> {
  const running = await connectRunning(p);
  if (running) return { connection: running, cleaned: [] };
  makeDaemonDir(p);
  // Whoever holds the start lock starts the daemon; the others find it running.
  const lockFd = fs.openSync(p.startLock, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    flock(lockFd, LOCK_EX);
    const raced = await connectRunning(p);
    if (raced) return { connection: raced, cleaned: [] };
    const cleaned = await startDaemon(p);
    const c = await connectRunning(p);
    if (!c) throw new ClientError(`the daemon started but ${p.socket} does not answer; see ${p.log}`);
    return { connection: c, cleaned };
  } finally {
    flock(lockFd, LOCK_UN);
    fs.closeSync(lockFd);
  }
}

/** Starts `ptsfs daemon` detached, logging to the log file; resolves once it listens. */
function startDaemon(p: DaemonPaths): Promise<string[]> {
  const logFd = fs.openSync(p.log, 'a', 0o600);
  const child = spawn(process.execPath, [BIN, 'daemon', '--socket', p.socket, '--ready-fd', '3'], {
    detached: true,
    stdio: ['ignore', logFd, logFd, 'pipe'],
    cwd: '/',
  });
  fs.closeSync(logFd);
  const ready = child.stdio[3] as net.Socket;
  return new Promise((resolve, reject) => {
    let text = '';
    ready.setEncoding('utf8');
    ready.on('data', (chunk: string) => { text += chunk; });
    ready.on('end', () => {
      ready.destroy();
      child.unref();
      try {
        const v = JSON.parse(text) as { ready?: boolean; cleaned?: unknown };
        if (v.ready === true) return resolve(Array.isArray(v.cleaned) ? v.cleaned.map(String) : []);
      } catch {
        // fall through: the daemon ended before it was ready
      }
      reject(new ClientError(`the daemon did not start: ${lastLine(p.log)}`));
    });
    child.once('error', (err) => reject(new ClientError(`cannot start the daemon: ${err.message}`)));
  });
}

function lastLine(file: string): string {
  try {
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return lines[lines.length - 1] ?? `see ${file}`;
  } catch {
    return `see ${file}`;
  }
}
