// One side of a pty, as the kernel has one tty_struct per side (gVisor:
// masterKTTY, replicaKTTY): its backing fd, the input its readers wait
// for, the output its writers push, its pollers and its link to the peer.
import { InputQueue } from './queue';
import { Outbox, type KeyFilter } from './outbox';
import type { PollWaker } from './port';

export class PtySide {
  /** What this side's readers get: the peer's writes, after n_tty. */
  readonly input: InputQueue;
  /** This side's writes into the backing pty. */
  readonly output: Outbox;
  /** TIOCEXCL, per tty as TTY_EXCLUSIVE is (a master is never reopened, so its flag blocks nothing). */
  exclusive = false;
  /** Poll handles to wake, by the connection that carried their POLL (kh is per connection). */
  private readonly pollers = new Map<PollWaker, Set<number>>();
  private peerSide: PtySide | undefined;

  /**
   * @param fd this side's end of the backing pty (the owner closes it)
   * @param joinable whether a read may join bytes of several backing reads
   * @param keys the line discipline's keys among this side's writes (the master's)
   */
  constructor(readonly fd: number, joinable: () => boolean, keys?: KeyFilter) {
    this.output = new Outbox(fd, keys);
    // Reading this side's end makes room for the peer's writers.
    this.input = new InputQueue(fd, () => {
      this.peer.output.retry();
      this.wake();
    }, joinable);
  }

  get peer(): PtySide {
    if (!this.peerSide) throw new Error('pty side used before it was linked');
    return this.peerSide;
  }

  link(peer: PtySide): void {
    this.peerSide = peer;
  }

  addPoller(kh: number, waker: PollWaker): void {
    let khs = this.pollers.get(waker);
    if (!khs) this.pollers.set(waker, (khs = new Set()));
    khs.add(kh);
  }

  /** Tells every registered poller to poll again (FUSE_NOTIFY_POLL). */
  wake(): void {
    if (this.pollers.size === 0) return;
    for (const [waker, khs] of this.pollers) for (const kh of khs) waker(kh);
    this.pollers.clear();
  }
}
