// Reading a character device (/dev/fuse, a pty) from the event loop.
//
// Node has no public way to epoll an arbitrary fd: net.Socket refuses
// character devices, and fs.read blocks a threadpool thread per fd. libuv's
// pipe handle works on any pollable fd, so we open one on the fd and read
// through net.Socket's `onread` mode, which hands each read(2) to a callback
// in a caller-provided buffer: one syscall per request, no allocation.
import * as fs from 'fs';
import * as net from 'net';
import { dup } from './libc';

interface PipeHandle {
  open(fd: number): number;
}
interface PipeWrapBinding {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number };
}

const pipeWrap = (process as unknown as { binding(name: 'pipe_wrap'): PipeWrapBinding }).binding('pipe_wrap');

/**
 * Watches `fd` (which the returned socket then owns and closes) and calls
 * `onRead(n)` after each read of n bytes into `buffer`. Returning false from
 * onRead stops reading until `socket.resume()`. The fd becomes O_NONBLOCK.
 */
export function watchFd(fd: number, buffer: Buffer, onRead: (n: number) => boolean): net.Socket {
  const handle = new pipeWrap.Pipe(pipeWrap.constants.SOCKET);
  const rc = handle.open(fd);
  if (rc !== 0) throw new Error(`cannot watch fd ${fd}: libuv error ${rc}`);
  return new net.Socket({
    handle,
    readable: true,
    writable: false,
    // A 0-byte read (a pty's VEOF) ends the stream; let the owner decide.
    allowHalfOpen: true,
    onread: { buffer, callback: onRead },
  } as net.SocketConstructorOpts);
}

/**
 * A write that libuv finishes when `fd` has room (epoll POLLOUT), for the
 * one case where nothing of ours would notice the room come back: output
 * restarted (start_tty) after ^S or TCOOFF. It holds a dup of fd.
 */
export class RoomWaiter {
  private socket: net.Socket | undefined;

  constructor(private readonly fd: number) {}

  /** Writes `data` once there is room, then calls `done` (with an error if it could not). */
  write(data: Buffer, done: (err?: Error) => void): void {
    if (!this.socket) {
      const watched = dup(this.fd);
      const handle = new pipeWrap.Pipe(pipeWrap.constants.SOCKET);
      const rc = handle.open(watched);
      if (rc !== 0) {
        fs.closeSync(watched);
        return done(new Error(`cannot watch fd ${this.fd}: libuv error ${rc}`));
      }
      this.socket = new net.Socket({ handle, readable: false, writable: true } as net.SocketConstructorOpts);
      this.socket.on('error', () => undefined); // reported to the write's callback
    }
    this.socket.write(data, (err) => done(err ?? undefined));
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }
}

/**
 * Calls `onExit` once when the process behind `pidfd` exits (it becomes a
 * zombie: a pidfd polls readable then). The pidfd stays the caller's; a
 * dup is watched. Returns a function that stops watching.
 *
 * A pidfd has no read(); libuv reads it once epoll says readable and gets
 * EINVAL, which is how the exit reaches us, from the event loop, with no
 * thread and no timer.
 */
export function watchExit(pidfd: number, onExit: () => void): () => void {
  const watched = dup(pidfd);
  let socket: net.Socket;
  try {
    socket = watchFd(watched, exitBuffer, () => true);
  } catch (err) {
    fs.closeSync(watched);
    throw err;
  }
  let done = false;
  const finish = (exited: boolean): void => {
    if (done) return;
    done = true;
    socket.destroy();
    if (exited) onExit();
  };
  socket.on('error', () => finish(true));
  socket.on('end', () => finish(true));
  return () => finish(false);
}

const exitBuffer = Buffer.alloc(8);
