// bin/ptsfs's C client (src/cli/fast-client.c): with a daemon running,
// `ptsfs mount` and `ptsfs umount` are answered without starting Node, and
// whatever it does not answer itself comes out exactly as the full client
// (bin/ptsfs.js) says it.
import * as fs from 'fs';
import * as path from 'path';
import t from 'tap';
import { exec, userEnv, type Ran } from '../pts/programs-helpers';
import { BIN, needs, privateDaemon, ptsfsMounts, type Daemon } from './helpers';

const CLIENT = path.resolve(__dirname, '../../../dist/bin/ptsfs-client');
const FULL = path.resolve(__dirname, '../../../bin/ptsfs.js');
const noClient = fs.existsSync(CLIENT) ? undefined : `${CLIENT} was not built (npm install found no C compiler)`;
const needsClient = { skip: needs.skip || noClient || false };

/** bin/ptsfs with a PATH that has no node in it: only the C client can answer. */
function withoutNode(d: Daemon, args: string[], cwd?: string): Promise<Ran> {
  return exec(t, BIN, ['--socket', d.socket, ...args], { env: { ...userEnv(), PATH: '/var/empty' }, timeoutMs: 10_000, cwd });
}

/** The full client, as bin/ptsfs was before the C client. */
function fullClient(d: Daemon, args: string[]): Promise<Ran> {
  return exec(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, FULL, '--socket', d.socket, ...args], { env: userEnv(), timeoutMs: 20_000 });
}

interface Listed { mountpoint: string; options: string }

async function listed(d: Daemon): Promise<Listed[]> {
  const r = await d.cli(['list', '--json']);
  return (JSON.parse(r.stdout) as { mounts: Listed[] }).mounts;
}

t.test('with the daemon running, mount and umount need no Node', needsClient, async (t) => {
  const d = await privateDaemon(t);
  const dirs = ['a', 'b', 'c'].map((n) => path.join(d.dir, n));
  for (const dir of dirs) fs.mkdirSync(dir);
  t.equal((await d.cli(['mount', dirs[0]!])).code, 0, 'the first mount starts the daemon (through Node)');

  const m = await withoutNode(d, ['mount', '-o', 'mode=600,ptmxmode=666', dirs[1]!]);
  t.equal(m.code, 0, `mount with no node on PATH: ${m.stderr.trim()}`);
  t.equal(m.stderr, '', 'and says nothing');
  t.ok((await ptsfsMounts(d.dir)).includes(dirs[1]!), 'the mount is live when the command returns');
  const fd = fs.openSync(path.join(dirs[1]!, 'ptmx'), fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  fs.closeSync(fd);
  t.pass('and its ptmx opens');

  const list = await withoutNode(d, ['list']);
  t.not(list.code, 0, 'list, which the C client hands to Node, fails without node: so mount did not use it');
  t.match(list.stderr, /node/, `and says why: ${list.stderr.trim()}`);

  t.equal((await withoutNode(d, ['mount', '-o=gid=5,mode=620', dirs[2]!])).code, 0, 'mount -o=OPTIONS');
  const shown = new Map((await listed(d)).map((l) => [l.mountpoint, l.options]));
  t.match(shown.get(dirs[1]!), /mode=600.*ptmxmode=666/, 'options as given');
  t.match(shown.get(dirs[2]!), /gid=5.*mode=620/, 'options after -o=');

  for (const dir of dirs.slice(1)) {
    const u = await withoutNode(d, ['umount', dir]);
    t.equal(u.code, 0, `umount with no node on PATH: ${u.stderr.trim()}`);
  }
  t.same(await ptsfsMounts(d.dir), [dirs[0]], 'both gone; the first is untouched');
});

t.test('paths are resolved as the full client resolves them, whatever bytes they hold', needsClient, async (t) => {
  const d = await privateDaemon(t);
  const names = ['plain', 'with space', 'quote"and\\backslash', 'tab\there', 'new\nline', 'été'];
  for (const n of names) fs.mkdirSync(path.join(d.dir, n));
  t.equal((await d.cli(['mount', path.join(d.dir, names[0]!)])).code, 0, 'daemon started');
  for (const n of names.slice(1)) {
    const r = await withoutNode(d, ['mount', path.join(d.dir, n)]);
    t.equal(r.code, 0, `mount ${JSON.stringify(n)}: ${r.stderr.trim()}`);
  }
  t.same((await listed(d)).map((l) => l.mountpoint).sort(), names.map((n) => path.join(d.dir, n)).sort(), 'list shows every name exactly');

  // Relative, with "." and "..", and a trailing slash: as path.resolve() makes it.
  const sub = path.join(d.dir, 'sub');
  fs.mkdirSync(sub);
  for (const n of names.slice(1)) {
    const r = await withoutNode(d, ['umount', `./../../${path.basename(d.dir)}/${n}/`], sub);
    t.equal(r.code, 0, `umount by a relative path to ${JSON.stringify(n)}: ${r.stderr.trim()}`);
  }
  t.same(await ptsfsMounts(d.dir), [path.join(d.dir, 'plain')], 'only the first is left');
});

t.test('what the C client does not answer, the full client does, word for word', needsClient, async (t) => {
  const d = await privateDaemon(t);
  const dir = path.join(d.dir, 'm');
  const file = path.join(d.dir, 'file');
  fs.mkdirSync(dir);
  fs.writeFileSync(file, '');

  // No daemon yet: the C client hands over, the full client starts one.
  const first = await exec(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', BIN, '--socket', d.socket, 'mount', dir], { env: userEnv(), timeoutMs: 20_000 });
  t.equal(first.code, 0, `first mount starts the daemon: ${first.stderr.trim()}`);
  t.ok((await ptsfsMounts(d.dir)).includes(dir), 'and mounts');

  const cases: [string, string[]][] = [
    ['a missing directory', ['mount', path.join(d.dir, 'missing')]],
    ['a file', ['mount', file]],
    ['an empty name', ['mount', '']],
    ['an unknown option', ['mount', '-o', 'bogus=1', path.join(d.dir)]],
    ['a bad value', ['mount', '-o', 'mode=999', path.join(d.dir)]],
    ['-oOPTIONS, which yargs reads as short flags', ['mount', '-omode=600', dir]],
    ['-o with no value', ['mount', '-o=', dir]],
    ['-o followed by a flag', ['mount', '-o', '--help', dir]],
    ['a second mount on one directory', ['mount', dir]],
    ['a name longer than PATH_MAX', ['mount', `/${'x'.repeat(5000)}`]],
    ['umount of a directory that is not mounted', ['umount', d.dir]],
    ['umount of /proc', ['umount', '/proc']],
    ['mount with no directory', ['mount']],
    ['two directories', ['mount', dir, dir]],
    ['--help', ['mount', '--help']],
  ];
  for (const [what, args] of cases) {
    const fast = await exec(t, '/usr/bin/env', ['-u', 'NODE_OPTIONS', BIN, '--socket', d.socket, ...args], { env: userEnv(), timeoutMs: 20_000 });
    const full = await fullClient(d, args);
    t.same({ code: fast.code, stdout: fast.stdout, stderr: fast.stderr }, { code: full.code, stdout: full.stdout, stderr: full.stderr }, `${what}: ${(full.stderr.trim().split('\n')[0] || full.stdout.split('\n')[0])!.slice(0, 100)}`);
  }
  t.same(await ptsfsMounts(d.dir), [dir], 'nothing else was mounted');
});
