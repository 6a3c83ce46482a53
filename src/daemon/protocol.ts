// The control protocol between `ptsfs` commands and the daemon: one JSON
// object per line over a unix stream socket, each request answered by one
// response line, in order. Everything a client sends is checked here
// before the daemon acts on it; a line that is not a valid request gets an
// error response, and the connection is closed.
import type { PtyReport } from '../pts';

/** A request line longer than this is refused (no request needs more than two paths). */
export const MAX_REQUEST_BYTES = 16 * 1024;
const MAX_PATH = 4096;

export type Request =
  /**
   * Mounts a new pts namespace at `mountpoint`. With `lease`, the mount
   * belongs to this connection: when it closes (the client exited or was
   * killed), the daemon unmounts it and removes the directory it made. A
   * leased mount's `mountpoint` is null: the daemon picks one.
   */
  | { readonly op: 'mount'; readonly mountpoint: string | null; readonly options: string; readonly lease: boolean }
  | { readonly op: 'umount'; readonly mountpoint: string }
  | { readonly op: 'list' }
  /** Unmounts everything; the daemon exits once it has answered. */
  | { readonly op: 'stop' };

export interface MountReport {
  readonly mountpoint: string;
  /** As /proc/mounts shows a devpts mount's options. */
  readonly options: string;
  /** entries=chr: the char major of its devices, which a container's device cgroup must allow (c MAJOR:* rwm). */
  readonly major?: number;
  readonly mountedAt: string;
  readonly leased: boolean;
  readonly ptys: readonly PtyReport[];
}

/** `ok` comes first in every answer: src/cli/fast-client.c reads a success as a line starting {"ok":true. */
export type Response =
  | { readonly ok: true; readonly mountpoint?: string; readonly mounts?: readonly MountReport[]; readonly pid?: number; readonly cleaned?: readonly string[] }
  /** notMine: an umount of something this daemon does not serve (the client may unmount it itself). */
  | { readonly ok: false; readonly error: string; readonly notMine?: boolean };

export class ProtocolError extends Error {}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function absolutePath(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_PATH || !v.startsWith('/') || v.includes('\0')) {
    throw new ProtocolError(`${what}: an absolute path is needed`);
  }
  return v;
}

/** Parses one request line; throws ProtocolError saying what is wrong. */
export function parseRequest(line: string): Request {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new ProtocolError('request is not JSON');
  }
  if (!isRecord(v)) throw new ProtocolError('request is not an object');
  switch (v.op) {
    case 'mount': {
      const lease = v.lease === true;
      const options = v.options ?? '';
      if (typeof options !== 'string' || options.length > MAX_PATH) throw new ProtocolError('mount: options must be a string');
      const mountpoint = lease && v.mountpoint == null ? null : absolutePath(v.mountpoint, 'mount');
      return { op: 'mount', mountpoint, options, lease };
    }
    case 'umount':
      return { op: 'umount', mountpoint: absolutePath(v.mountpoint, 'umount') };
    case 'list':
    case 'stop':
      return { op: v.op };
    default:
      throw new ProtocolError(`unknown op ${JSON.stringify(v.op)?.slice(0, 40) ?? typeof v.op}`);
  }
}

/** A response line as the client reads it; throws ProtocolError if the daemon said something else. */
export function parseResponse(line: string): Response {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new ProtocolError('the daemon sent something that is not JSON');
  }
  if (!isRecord(v) || typeof v.ok !== 'boolean') throw new ProtocolError('the daemon sent a malformed response');
  if (!v.ok && typeof v.error !== 'string') throw new ProtocolError('the daemon sent a malformed error');
  return v as Response;
}
