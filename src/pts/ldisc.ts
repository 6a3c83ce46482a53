// The part of the line discipline ptsfs must do itself. Canonical editing,
// echo, output processing and what a signal key does to the buffers are
// the backing pty's n_tty: every byte typed on the master reaches it, the
// signal keys too, and its isig() flushes, restarts output and echoes `^C`
// in order with the bytes around them. But it signals nobody (no process
// has the backing pty as its controlling tty), so the master's writes are
// scanned here for the keys n_tty_receive_char_special turns into signals.
//
// This object holds the termios the replica side last set (all termios
// changes go through ptsfs, so the copy cannot go stale) and the VLNEXT
// state across writes. It does no I/O: the terminal acts on what it finds.
import {
  ICANON, IEXTEN, ISIG, IXON, NOFLSH, TERMIOS_CC, TERMIOS_IFLAG, TERMIOS_LFLAG, TOSTOP, VINTR, VLNEXT, VQUIT, VSTOP,
  VSUSP,
} from '../sys/tty';

export type SignalKey = 'SIGINT' | 'SIGQUIT' | 'SIGTSTP';

/** The keys n_tty_receive_char_special checks with ISIG, in its order. */
const KEYS = [VINTR, VQUIT, VSUSP] as const;
/** _POSIX_VDISABLE: a control character of 0 is no key (n_tty_set_termios clears __DISABLED_CHAR). */
const DISABLED = 0;

export class LineDiscipline {
  private iflag = 0;
  private lflag = 0;
  private cc = Buffer.alloc(0);
  /** The last byte passed was an unescaped VLNEXT: the next one is literal. */
  private lnext = false;

  /** @param termios the 36-byte kernel termios of the replica */
  constructor(termios: Buffer) {
    this.load(termios);
  }

  /** After every termios change (TCSETS*): what n_tty_set_termios rereads. */
  load(termios: Buffer): void {
    this.iflag = termios.readUInt32LE(TERMIOS_IFLAG);
    this.lflag = termios.readUInt32LE(TERMIOS_LFLAG);
    this.cc = Buffer.from(termios.subarray(TERMIOS_CC));
    if (!this.lnextOn) this.lnext = false;
  }

  get canonical(): boolean { return (this.lflag & ICANON) !== 0; }
  get tostop(): boolean { return (this.lflag & TOSTOP) !== 0; }
  get noflsh(): boolean { return (this.lflag & NOFLSH) !== 0; }

  /** VLNEXT quotes the next byte only in canonical mode with IEXTEN (n_tty_receive_char_special). */
  private get lnextOn(): boolean {
    return (this.lflag & (ICANON | IEXTEN)) === (ICANON | IEXTEN) && this.cc[VLNEXT] !== DISABLED;
  }

  /** The signal key `byte` is, with ISIG; undefined otherwise. */
  signalOf(byte: number): SignalKey | undefined {
    if ((this.lflag & ISIG) === 0 || byte === DISABLED) return undefined;
    if (byte === this.cc[VINTR]) return 'SIGINT';
    if (byte === this.cc[VQUIT]) return 'SIGQUIT';
    if (byte === this.cc[VSUSP]) return 'SIGTSTP';
    return undefined;
  }

  /**
   * Index of the first signal key in data[from..) that is not quoted by
   * VLNEXT, or -1. Native indexOf per key, so a write without keys costs
   * three memchr-like scans and no per-byte work in JS.
   */
  find(data: Buffer, from: number): number {
    if ((this.lflag & ISIG) === 0) return -1;
    let i = from + (this.lnext && this.lnextOn ? 1 : 0);
    for (;;) {
      const key = this.firstKey(data, i);
      if (key < 0 || !this.lnextOn) return key;
      const quote = data.indexOf(this.cc[VLNEXT]!, i);
      if (quote < 0 || quote >= key) return key;
      i = quote + 2; // the quoted byte is literal, whatever it is
    }
  }

  /** data[from, to) reached the backing n_tty: carry a trailing VLNEXT over. */
  passed(data: Buffer, from: number, to: number): void {
    if (to <= from) return;
    if (!this.lnextOn) {
      this.lnext = false;
      return;
    }
    let i = from + (this.lnext ? 1 : 0);
    for (;;) {
      const quote = data.indexOf(this.cc[VLNEXT]!, i);
      if (quote < 0 || quote >= to) break;
      i = quote + 2;
    }
    this.lnext = i > to;
  }

  /** data[from, to) holds VSTOP with IXON: n_tty will stop the replica's output (stop_tty). */
  stops(data: Buffer, from: number, to: number): boolean {
    if ((this.iflag & IXON) === 0 || this.cc[VSTOP] === DISABLED) return false;
    const at = data.indexOf(this.cc[VSTOP]!, from);
    return at >= 0 && at < to;
  }

  private firstKey(data: Buffer, from: number): number {
    let first = -1;
    for (const k of KEYS) {
      if (this.cc[k] === DISABLED) continue;
      const at = data.indexOf(this.cc[k]!, from);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    return first;
  }
}
