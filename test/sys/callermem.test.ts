// Caller memory through the helper processes, on this test's own memory:
// what process_vm_readv/writev would do, answered asynchronously.
import t from 'tap';
import koffi from 'koffi';
import { EFAULT, ESRCH } from '../../src/sys/errno';
import { CallerMemory, isDaemonTask } from '../../src/sys/callermem';
import { sysError } from './util';

const NO_SUCH_PID = 0x7fffffff;

t.test('reads and writes this process, as process_vm_readv/writev would', async (t) => {
  const mem = new CallerMemory();
  const target = Buffer.from('0123456789abcdef');
  const addr = BigInt(koffi.address(target));
  t.same(await mem.read(process.pid, addr, 16), target, 'read back what is there');
  await mem.write(process.pid, addr + 4n, Buffer.from('XY'));
  t.equal(target.toString(), '0123XY6789abcdef', 'written where asked');
  // Many at once: every answer goes to its own access.
  const all = await Promise.all(Array.from({ length: 50 }, (_, i) => mem.read(process.pid, addr + BigInt(i % 16), 1)));
  t.same(all.map((b) => b.toString()), Array.from({ length: 50 }, (_, i) => target.toString()[i % 16]), 'fifty at once, each its own bytes');
});

t.test('bad addresses, pids and lengths are errors, and the helpers go on', async (t) => {
  const mem = new CallerMemory();
  await t.rejects(mem.read(process.pid, 0n, 4), sysError(EFAULT), 'NULL');
  await t.rejects(mem.read(process.pid, 0xffff_8000_0000_0000n, 4), sysError(EFAULT), 'kernel half');
  await t.rejects(mem.write(process.pid, 0x1000n, Buffer.from('x')), sysError(EFAULT), 'unmapped, written');
  await t.rejects(mem.read(NO_SUCH_PID, 0x1000n, 4), sysError(ESRCH), 'no such process');
  await t.rejects(mem.read(process.pid, 0x1000n, 1 << 20), sysError(EFAULT), 'longer than any tty argument');
  const b = Buffer.from('still');
  t.same(await mem.read(process.pid, BigInt(koffi.address(b)), 5), b, 'a good access after all of them');
});

t.test('the daemon and its helpers are the daemon\'s own tasks', async (t) => {
  t.ok(isDaemonTask(process.pid), 'this process');
  t.notOk(isDaemonTask(1), 'init is not');
});
