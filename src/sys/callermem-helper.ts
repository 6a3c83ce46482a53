// The process that touches caller memory for the daemon (see callermem.ts).
// It reads requests on stdin and answers on stdout, one at a time, with
// blocking syscalls: it has nothing else to do, and when a caller's page
// never comes (a FUSE server that does not answer, userfaultfd) the daemon
// kills it, which is the only thing that ends a fault's killable wait.
import * as fs from 'fs';
import { EFAULT, isSysError } from './errno';
import { processVmRead, processVmWrite } from './libc';
import { ACCESS_READ, READY, accessIn, accessOut } from './callermem-wire';

const input = Buffer.alloc(accessIn.size);
const header = Buffer.alloc(accessOut.size);

/** Fills `buf` from stdin; exits when the daemon is gone (EOF). */
function readFully(buf: Buffer, length: number): void {
  let off = 0;
  while (off < length) {
    const n = fs.readSync(0, buf, off, length - off, null);
    if (n === 0) process.exit(0);
    off += n;
  }
}

/** Writes all of `buf` to stdout; exits when the daemon is gone (EPIPE). */
function writeFully(buf: Buffer): void {
  let off = 0;
  try {
    while (off < buf.length) off += fs.writeSync(1, buf, off, buf.length - off);
  } catch {
    process.exit(0);
  }
}

function serve(): never {
  writeFully(READY);
  for (;;) {
    readFully(input, accessIn.size);
    const a = accessIn.decode(input, 0);
    let data: Buffer | undefined;
    let errno = 0;
    try {
      if (a.op === ACCESS_READ) {
        data = processVmRead(a.pid, a.addr, a.length);
      } else {
        const bytes = Buffer.alloc(a.length);
        readFully(bytes, a.length);
        processVmWrite(a.pid, a.addr, bytes);
      }
    } catch (err) {
      // A pid or range the syscall wrappers refuse outright is a bad address too.
      errno = isSysError(err) ? err.errno : EFAULT;
      data = undefined;
    }
    const length = data?.length ?? 0;
    accessOut.encode({ id: a.id, errno, length }, header, 0);
    writeFully(header);
    if (data) writeFully(data);
  }
}

serve();
