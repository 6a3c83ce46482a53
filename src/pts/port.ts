// How the emulation answers a caller, without knowing that FUSE carries
// it: a read or a write that may wait, and a way to wake pollers. file.ts
// adapts FUSE requests to these; tests use plain objects, so the queue,
// the outbox and the line discipline are tested without a mount.

/** A read of up to `size` bytes. Answered exactly once: give, eof or fail. */
export interface ReadPort {
  readonly size: number;
  give(...chunks: Buffer[]): void;
  eof(): void;
  fail(errno: number): void;
  /**
   * The caller gave up waiting (a signal): `hook` answers it. Without a
   * hook the caller gets EINTR.
   */
  onCancel(hook: () => void): void;
}

/** A write of `data` (valid only until the handler returns: copy to keep). */
export interface WritePort {
  readonly data: Buffer;
  done(count: number): void;
  fail(errno: number): void;
  onCancel(hook: () => void): void;
}

/** Tells the poller registered as `kh` to poll again. */
export type PollWaker = (kh: number) => void;
