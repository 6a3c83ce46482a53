// Where a daemon keeps its socket, lock, state and log. Root of the host
// (the initial user namespace) uses /run/ptsfs, which only root can enter;
// root of a user namespace (rootless containers) gets a daemon of its own
// under $XDG_RUNTIME_DIR, since it can neither reach nor trust the host's.
import * as fs from 'fs';
import * as path from 'path';

export interface DaemonPaths {
  /** The directory holding everything below; 0700. */
  readonly dir: string;
  readonly socket: string;
  /** flock'ed by the running daemon for its whole life. */
  readonly lock: string;
  /** flock'ed by a client while it starts a daemon, so two clients start one. */
  readonly startLock: string;
  /** The running daemon's mounts, for its successor to clean if it is killed. */
  readonly state: string;
  readonly log: string;
  /** Where `ptsfs run` mounts its namespaces. */
  readonly runDir: string;
}

export const HOST_DIR = '/run/ptsfs';
const SOCKET_NAME = 'ptsfs.sock';

/** The initial user namespace maps every id to itself (user_namespaces(7)). */
function inInitialUserNs(): boolean {
  try {
    return fs.readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).join(' ') === '0 0 4294967295';
  } catch {
    return true;
  }
}

/** The paths for a daemon whose socket is `socket` (or $PTSFS_SOCKET); the default follows who is asking. */
export function daemonPaths(socket?: string, env: NodeJS.ProcessEnv = process.env): DaemonPaths {
  socket ||= env.PTSFS_SOCKET;
  if (!socket) {
    if (process.getuid?.() === 0 && inInitialUserNs()) socket = path.join(HOST_DIR, SOCKET_NAME);
    else if (env.XDG_RUNTIME_DIR) socket = path.join(env.XDG_RUNTIME_DIR, 'ptsfs', SOCKET_NAME);
    else throw new Error('no daemon socket: not root of the host and XDG_RUNTIME_DIR is unset (give --socket PATH)');
  }
  socket = path.resolve(socket);
  const dir = path.dirname(socket);
  const base = path.basename(socket, '.sock');
  const at = (suffix: string): string => path.join(dir, `${base}.${suffix}`);
  return { dir, socket, lock: at('lock'), startLock: at('start.lock'), state: at('mounts.json'), log: at('log'), runDir: at('run') };
}

/** Creates the directory (0700) if needed; refuses one that others could write to. */
export function makeDaemonDir(p: DaemonPaths): void {
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const st = fs.statSync(p.dir);
  if (st.uid !== process.geteuid?.() || (st.mode & 0o022) !== 0) {
    throw new Error(`${p.dir}: must be a directory owned by uid ${process.geteuid?.()} that nobody else can write to`);
  }
}
