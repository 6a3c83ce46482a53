// ptsfs command line: one command per job, each a row of the table below.
import yargs from 'yargs';
import { ClientError, daemonPaths, DaemonRunning, runDaemon, type DaemonPaths } from '../daemon';
import { installCommand, parseMountHelperArgs, parseUmountHelperArgs } from './install';
import { listCommand, stopCommand } from './list';
import { foregroundCommand, mountCommand, umountCommand } from './mount';
import { runCommand } from './run';
import { UsageError } from './usage';

const OPTIONS_HELP = 'devpts options: uid=,gid=,mode=,ptmxmode=,max=,newinstance; nosuid,noexec,nodev';

/** Runs a command; anything the user got wrong becomes one line on stderr and exit 1. */
async function exitWith(command: () => Promise<number> | number): Promise<void> {
  let code: number;
  try {
    code = await command();
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof ClientError || err instanceof DaemonRunning)) throw err;
    process.stderr.write(`ptsfs: ${err.message}\n`);
    code = 1;
  }
  process.exitCode = code;
}

function paths(socket: string | undefined): DaemonPaths {
  try {
    return daemonPaths(socket);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** For umount, which works without a daemon (a --foreground mount, in a user namespace without $XDG_RUNTIME_DIR). */
function pathsIfAny(socket: string | undefined): DaemonPaths | undefined {
  try {
    return daemonPaths(socket);
  } catch {
    return undefined;
  }
}

export async function main(argv: string[]): Promise<void> {
  let run: (() => Promise<number> | number) | undefined;
  try {
    await yargs(argv)
      .scriptName('ptsfs')
      .usage('$0 <command>\n\nMulti-instance devpts (pts namespaces) as a FUSE filesystem, served by one daemon per host.')
      .option('socket', { type: 'string', describe: 'the daemon\'s control socket (default /run/ptsfs/ptsfs.sock; $XDG_RUNTIME_DIR/ptsfs/ptsfs.sock for rootless use)' })
      .command(
        'mount <mountpoint>',
        'mount a new pts namespace, served by the host\'s daemon (started if none runs)',
        (y) => y
          .positional('mountpoint', { type: 'string', demandOption: true, describe: 'directory to mount on' })
          .option('o', { type: 'string', default: '', describe: OPTIONS_HELP })
          .option('foreground', { type: 'boolean', default: false, describe: 'serve this mount in this process until unmounted (for supervisors)' }),
        (a) => {
          run = () => a.foreground ? foregroundCommand(a.mountpoint, a.o) : mountCommand(paths(a.socket), a.mountpoint, a.o);
        },
      )
      .command(
        'umount <mountpoint>',
        'hang up a pts namespace\'s ptys and unmount it (detached while files are open)',
        (y) => y.positional('mountpoint', { type: 'string', demandOption: true }),
        (a) => { run = () => umountCommand(pathsIfAny(a.socket), a.mountpoint); },
      )
      .command(
        'list',
        'every mount of the daemon and each open pty: owner, session, foreground job, bytes each way',
        (y) => y.option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
        (a) => { run = () => listCommand(paths(a.socket), a.json); },
      )
      .command(
        'run [command..]',
        'run a command in a private mount namespace with a fresh /dev/pts (clone(CLONE_NEWPTS) as a command)',
        (y) => y
          .positional('command', { type: 'string', array: true, default: [] as string[], describe: 'the command and its arguments (after --)' })
          .option('o', { type: 'string', default: '', describe: OPTIONS_HELP }),
        (a) => {
          // Everything after `--` is CMD, options and all (yargs would parse it).
          const dd = argv.indexOf('--');
          const cmd = dd >= 0 ? argv.slice(dd + 1) : a.command;
          run = () => runCommand(paths(a.socket), a.o, cmd);
        },
      )
      .command('stop', 'unmount everything, hang up every pty and end the daemon', (y) => y,
        (a) => { run = () => stopCommand(paths(a.socket)); })
      .command(
        'daemon',
        'serve mounts in the foreground (what `ptsfs mount` starts; for systemd units)',
        (y) => y.option('ready-fd', { type: 'number', hidden: true }),
        (a) => { run = () => runDaemon(paths(a.socket), a['ready-fd']); },
      )
      .command(
        'install',
        'install the mount(8) helpers (mount -t fuse.ptsfs, fstab, umount DIR)',
        (y) => y
          .option('dir', { type: 'string', default: '/sbin', describe: 'where mount(8) looks for helpers' })
          .option('remove', { type: 'boolean', default: false, describe: 'remove them instead' }),
        (a) => { run = () => installCommand(a.dir, a.remove); },
      )
      .demandCommand(1, 'name a command: mount, umount, list, run, stop, daemon or install')
      .strict()
      .fail((msg, err) => {
        throw err ?? new UsageError(msg);
      })
      .help()
      .parseAsync();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`ptsfs: ${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  if (run) await exitWith(run);
}

/** bin/mount.fuse.ptsfs: mount(8)'s helper interface onto `ptsfs mount`. */
export async function mountHelper(argv: string[]): Promise<void> {
  await exitWith(() => {
    const a = parseMountHelperArgs(argv);
    return mountCommand(paths(undefined), a.dir, a.options);
  });
}

/** bin/umount.fuse.ptsfs: umount(8)'s helper interface onto `ptsfs umount`. */
export async function umountHelper(argv: string[]): Promise<void> {
  await exitWith(() => umountCommand(pathsIfAny(undefined), parseUmountHelperArgs(argv)));
}
