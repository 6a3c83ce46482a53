// ptsfs command line: mount and unmount pts namespaces.
import * as fs from 'fs';
import * as path from 'path';
import yargs from 'yargs';
import { mountType, unmountFuse } from '../fuse';
import { mountNamespace, OptionError, parseOptions, type PtsMount } from '../pts';
import { isSysError, EINVAL, EPERM } from '../sys/errno';

/** Thrown for anything the user got wrong: printed without a stack, exit 1. */
class UsageError extends Error {}

function requireDirectory(path: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    throw new UsageError(`${path}: no such directory`);
  }
  if (!st.isDirectory()) throw new UsageError(`${path}: not a directory`);
}

/** `ptsfs mount -o OPTIONS --foreground DIR`: serve until unmounted or signalled. */
async function mountCommand(dir: string, optionText: string, foreground: boolean): Promise<number> {
  if (!foreground) throw new UsageError('mount: only --foreground is supported for now (run it in the background with &)');
  let options;
  try {
    options = parseOptions(optionText);
  } catch (err) {
    if (err instanceof OptionError) throw new UsageError(`mount: ${err.message}`);
    throw err;
  }
  requireDirectory(dir);
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
    m = await mountNamespace(dir, options);
  } catch (err) {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    if (isSysError(err)) throw new UsageError(`mount ${dir}: ${err.message}`);
    throw err;
  }
  process.stderr.write(`ptsfs: serving ${dir}\n`);
  if (stopping) void m.stop();
  await m.closed;
  process.removeListener('SIGINT', stop);
  process.removeListener('SIGTERM', stop);
  return 0;
}

function umountCommand(dir: string): number {
  // No realpath or stat: a mount whose daemon died answers them with ENOTCONN,
  // and unmounting it is exactly what the user wants then.
  const type = mountType(path.resolve(dir));
  if (type === undefined) throw new UsageError(`umount ${dir}: not mounted`);
  if (type !== 'fuse.ptsfs') throw new UsageError(`umount ${dir}: not a ptsfs mount (${type})`);
  try {
    unmountFuse(dir);
  } catch (err) {
    if (isSysError(err, EINVAL)) throw new UsageError(`umount ${dir}: not mounted`);
    if (isSysError(err, EPERM)) throw new UsageError(`umount ${dir}: permission denied`);
    if (isSysError(err)) throw new UsageError(`umount ${dir}: ${err.message}`);
    throw err;
  }
  return 0;
}

export async function main(argv: string[]): Promise<void> {
  let code = 0;
  try {
    await yargs(argv)
      .scriptName('ptsfs')
      .usage('$0 <command>\n\nMulti-instance devpts (pts namespaces) as a FUSE filesystem.')
      .command(
        'mount <mountpoint>',
        'mount a new pts namespace and serve it',
        (y) => y
          .positional('mountpoint', { type: 'string', demandOption: true, describe: 'directory to mount on' })
          .option('o', { type: 'string', default: '', describe: 'devpts options: uid=,gid=,mode=,ptmxmode=,max=,newinstance; nosuid,noexec,nodev' })
          .option('foreground', { type: 'boolean', default: false, describe: 'serve in this process until unmounted' }),
        async (a) => {
          code = await mountCommand(a.mountpoint, a.o, a.foreground);
        },
      )
      .command(
        'umount <mountpoint>',
        'unmount a pts namespace (detached if ptys are open)',
        (y) => y.positional('mountpoint', { type: 'string', demandOption: true }),
        (a) => {
          code = umountCommand(a.mountpoint);
        },
      )
      .demandCommand(1, 'name a command: mount or umount')
      .strict()
      .fail((msg, err) => {
        throw err ?? new UsageError(msg);
      })
      .help()
      .parseAsync();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`ptsfs: ${err.message}\n`);
    code = 1;
  }
  process.exitCode = code;
}
