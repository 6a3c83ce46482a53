// Shared by the CLI tests: running bin/ptsfs as a user's shell would.
import * as fs from 'fs';
import * as path from 'path';
import { MNT_DETACH, umount2 } from '../../src/sys/libc';
import { readMountinfo } from '../../src/sys/mountinfo';
import { exec, type ExecOptions, type Ran, tempDir, type TestLike, userEnv } from '../pts/programs-helpers';

export const BIN = path.resolve(__dirname, '../../../bin/ptsfs');

/**
 * `ptsfs ARGS...` as a user's shell runs it. tap's process-info hook puts its
 * NODE_OPTIONS back into the environment of every node program this process
 * spawns, and that hook traps SIGTERM/SIGINT (which hid a bug here once), so
 * the command goes through env(1), which drops it.
 */
export function ptsfsArgv(args: readonly string[]): [string, string[]] {
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', BIN, ...args]];
}

/** Why the CLI tests cannot run here, if they cannot. */
export const why = process.getuid?.() !== 0 ? 'needs root (mount)' : !fs.existsSync('/dev/fuse') ? 'no /dev/fuse' : undefined;
export const needs = { skip: why ?? false };

/** Runs `ptsfs ARGS...` to completion. */
export function ptsfsRun(t: TestLike, args: string[], opts: ExecOptions = {}): Promise<Ran> {
  return exec(t, ...ptsfsArgv(args), { timeoutMs: 10_000, env: userEnv(), ...opts });
}

/** Detaches whatever is still mounted on dir (teardown; never throws). */
export function forceUnmount(dir: string): void {
  for (let i = 0; i < 5; i++) {
    try {
      umount2(dir, MNT_DETACH);
    } catch {
      return; // EINVAL: nothing (more) mounted there
    }
  }
}

export interface Daemon {
  readonly dir: string;
  readonly socket: string;
  cli(args: string[], opts?: { input?: string; timeoutMs?: number }): ReturnType<typeof exec>;
  pid(): Promise<number>;
}

export async function ptsfsMounts(under: string): Promise<string[]> {
  return readMountinfo().filter((m) => m.fstype === 'fuse.ptsfs' && m.mountpoint.startsWith(under)).map((m) => m.mountpoint);
}

/** A daemon of the test's own (a private socket); stopped, killed and its mounts detached at teardown. */
export async function privateDaemon(t: TestLike): Promise<Daemon> {
  const dir = await tempDir(t, 'ptsfs-daemon-');
  const socket = path.join(dir, 'run', 'ptsfs.sock');
  const cli = (args: string[], opts: { input?: string; timeoutMs?: number } = {}) =>
    exec(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', BIN, '--socket', socket, ...args], { timeoutMs: 20_000, env: userEnv(), ...opts });
  const pid = async (): Promise<number> => Number(fs.readFileSync(path.join(dir, 'run', 'ptsfs.lock'), 'utf8'));
  t.teardown(async () => {
    await cli(['stop']).catch(() => undefined);
    try { process.kill(await pid(), 'SIGKILL'); } catch { /* gone */ }
    for (const m of await ptsfsMounts(dir)) forceUnmount(m);
  });
  return { dir, socket, cli, pid };
}
