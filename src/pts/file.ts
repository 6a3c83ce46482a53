// What an open file of a pts namespace does; the namespace routes FUSE
// requests to it by file handle. The adapters below are the only place
// where a FUSE request becomes a port of the emulation (port.ts).
import type { Req } from '../fuse';
import type { PollWaker, ReadPort, WritePort } from './port';

export interface PtsFile {
  read(port: ReadPort, nonblock: boolean, caller: number): void;
  write(port: WritePort, nonblock: boolean, caller: number): void;
  ioctl(req: Req<'ioctl'>): void;
  /** Current poll events; registers kh for a wakeup through `waker` when they change. */
  poll(kh: number | undefined, waker: PollWaker): number;
  release(): void;
}

/** A FUSE READ as a ReadPort. */
export class FuseRead implements ReadPort {
  constructor(private readonly req: Req<'read'>) {}
  get size(): number { return this.req.arg.size; }
  give(...chunks: Buffer[]): void { this.req.replyData(...chunks); }
  eof(): void { this.req.replyData(); }
  fail(errno: number): void { this.req.error(errno); }
  onCancel(hook: () => void): void { this.req.onInterrupt(hook); }
}

const EMPTY = Buffer.alloc(0);

/** A FUSE WRITE as a WritePort. */
export class FuseWrite implements WritePort {
  constructor(private readonly req: Req<'write'>) {}
  get data(): Buffer { return this.req.data ?? EMPTY; }
  done(count: number): void { this.req.reply({ size: count }); }
  fail(errno: number): void { this.req.error(errno); }
  onCancel(hook: () => void): void { this.req.onInterrupt(hook); }
}
