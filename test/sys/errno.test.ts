import t from 'tap';
import koffi from 'koffi';
import os from 'os';
import * as errno from '../../src/sys/errno';
import { SysError, errnoMessage, errnoName, isSysError } from '../../src/sys/errno';

// glibc's own strerror(), the reference the message table must match.
const strerror = koffi.load('libc.so.6').func('const char *strerror(int errnum)') as (n: number) => string;

const exported = Object.entries(errno).filter(
  (entry): entry is [string, number] => /^E[A-Z0-9]+$/.test(entry[0]) && typeof entry[1] === 'number',
);

t.test('exported errnos are the platform numbers', async (t) => {
  t.ok(exported.length >= 28, `${exported.length} names exported`);
  t.equal(errno.EPERM, 1);
  t.equal(errno.ENOENT, 2);
  t.equal(errno.ENODATA, 61, 'ENODATA is Linux 61');
  t.equal(errno.EOPNOTSUPP, 95);
});

t.test('names and messages match glibc for every exported errno', async (t) => {
  for (const [name, value] of exported) {
    t.equal(errnoName(value), name, `errnoName(${value})`);
    t.equal(errnoMessage(value), strerror(value), `message of ${name}`);
  }
});

t.test('aliases resolve to the kernel name', async (t) => {
  t.equal(errnoName(errno.EAGAIN), 'EAGAIN', 'not EWOULDBLOCK');
  t.equal(errnoName(errno.EOPNOTSUPP), 'EOPNOTSUPP', 'not ENOTSUP');
});

t.test('unknown numbers still format', async (t) => {
  t.equal(errnoName(9999), 'E9999');
  t.equal(errnoMessage(9999), 'Unknown error 9999');
  // Outside the table: libuv's text, capitalised, which here agrees with glibc.
  const { ECONNRESET } = os.constants.errno;
  t.equal(errnoName(ECONNRESET), 'ECONNRESET');
  t.equal(errnoMessage(ECONNRESET), strerror(ECONNRESET));
});

t.test('SysError carries errno, code, syscall and a readable message', async (t) => {
  const e = new SysError('mount', errno.EPERM);
  t.ok(e instanceof Error);
  t.equal(e.errno, errno.EPERM);
  t.equal(e.code, 'EPERM');
  t.equal(e.syscall, 'mount');
  t.equal(e.name, 'SysError');
  t.equal(e.message, 'mount: EPERM (Operation not permitted)');
  t.ok(isSysError(e));
  t.ok(isSysError(e, errno.EPERM));
  t.notOk(isSysError(e, errno.ENOENT));
  t.notOk(isSysError(new Error('x')));
});
