// What an open file of a pts namespace does; the namespace routes FUSE
// requests to it by file handle.
import type { Req } from '../fuse';

export interface PtsFile {
  read(req: Req<'read'>, nonblock: boolean): void;
  write(req: Req<'write'>, nonblock: boolean): void;
  ioctl(req: Req<'ioctl'>): void;
  /** Current poll events; registers kh for a wakeup when they change. */
  poll(kh: number | undefined): number;
  release(): void;
}
