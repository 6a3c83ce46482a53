// `ptsfs run CMD...`: what clone(CLONE_NEWPTS) would have been. CMD runs in
// a private mount namespace whose /dev/pts is a fresh pts namespace, with
// /dev/ptmx and /dev/tty wired to it. On a terminal, CMD gets pty 0 of that
// namespace as its controlling terminal (through script(1), as a runtime's
// `-t` does), so job control and /dev/tty work inside; without one, CMD
// keeps this process's stdio.
import { spawn } from 'child_process';
import { ClientError, connectOrStart, type DaemonPaths } from '../daemon';
import { signalNumber } from '../sys/proc';
import { options, sayCleaned, UsageError } from './usage';

/** Runs in the new mount namespace (unshare -m: private propagation): wire /dev, then become CMD. */
const WIRE = String.raw`set -e
d=$1; shift
mount --bind "$d" /dev/pts
mount --bind "$d/ptmx" /dev/ptmx
if [ -e /dev/tty ]; then mount --bind "$d/tty" /dev/tty; fi
exec "$@"`;

/** Signals a user or supervisor sends to `ptsfs run` that belong to CMD. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** One word for sh -c: single-quoted, each ' as '\''. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export async function runCommand(p: DaemonPaths, optionText: string, cmd: readonly string[]): Promise<number> {
  options(optionText, 'run');
  if (cmd.length === 0) throw new UsageError('run: name a command to run');
  const { connection, cleaned } = await connectOrStart(p);
  sayCleaned(cleaned);
  let dir: string;
  try {
    // Leased: should this process die, the daemon unmounts when the connection drops.
    const r = await connection.request({ op: 'mount', mountpoint: null, options: optionText, lease: true });
    dir = r.mountpoint ?? '';
  } catch (err) {
    connection.close();
    if (err instanceof ClientError) throw new UsageError(`run: ${err.message}`);
    throw err;
  }
  const onTerminal = process.stdin.isTTY === true;
  const inner = onTerminal ? ['script', '-qefc', cmd.map(shellQuote).join(' '), '/dev/null'] : [...cmd];
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', WIRE, 'ptsfs-run', dir, ...inner], {
    stdio: 'inherit',
  });
  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | Error>((resolve) => {
    child.once('error', resolve);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  for (const sig of FORWARDED) process.removeListener(sig, forward);
  try {
    await connection.request({ op: 'umount', mountpoint: dir });
  } finally {
    connection.close();
  }
  if (ended instanceof Error) throw new UsageError(`run: cannot run unshare: ${ended.message}`);
  if (ended.signal) {
    // Die of the same signal, as a shell reports it (128 + N).
    process.kill(process.pid, ended.signal);
    return 128 + signalNumber(ended.signal);
  }
  return ended.code ?? 1;
}
