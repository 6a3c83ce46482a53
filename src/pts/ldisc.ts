// The part of the line discipline ptsfs must do itself. Canonical editing,
// echo and output processing are the backing pty's n_tty; but its signal
// keys signal nobody (no process has the backing pty as its controlling
// tty) and would flush its buffers, so the keys that n_tty_receive_char_special
// turns into signals never reach it: the master's writes are scanned here.
//
// This object holds the termios the replica side last set (all termios
// changes go through ptsfs, so the copy cannot go stale) and the VLNEXT
// state across writes. It does no I/O: the terminal acts on what it finds.
import {
  ECHO, ECHOCTL, ICANON, IEXTEN, ISIG, IXON, NOFLSH, TERMIOS_CC, TERMIOS_IFLAG, TERMIOS_LFLAG, TOSTOP,
  VINTR, VLNEXT, VQUIT, VSTART, VSUSP,
} from '../sys/tty';

export type SignalKey = 'SIGINT' | 'SIGQUIT' | 'SIGTSTP';

/** The keys n_tty_receive_char_special checks with ISIG, in its order. */
const KEYS = [VINTR, VQUIT, VSUSP] as const;
const TAB = 0x09;
const DEL = 0x7f;
const CARET = 0x5e;

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
  get ixon(): boolean { return (this.iflag & IXON) !== 0; }
  get startChar(): number { return this.cc[VSTART]!; }

  /** VLNEXT quotes the next byte only in canonical mode with IEXTEN (n_tty_receive_char_special). */
  private get lnextOn(): boolean {
    return (this.lflag & (ICANON | IEXTEN)) === (ICANON | IEXTEN);
  }

  /** The signal key `byte` is, with ISIG; undefined otherwise. */
  signalOf(byte: number): SignalKey | undefined {
    if ((this.lflag & ISIG) === 0) return undefined;
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

  /** What n_tty echoes for a signal key (echo_char): `^C` with ECHOCTL, the byte itself without. */
  echo(byte: number): Buffer | undefined {
    if ((this.lflag & ECHO) === 0) return undefined;
    const control = byte < 0x20 || byte === DEL;
    if ((this.lflag & ECHOCTL) !== 0 && control && byte !== TAB) return Buffer.from([CARET, byte ^ 0x40]);
    return Buffer.from([byte]);
  }

  private firstKey(data: Buffer, from: number): number {
    let first = -1;
    for (const k of KEYS) {
      const at = data.indexOf(this.cc[k]!, from);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    return first;
  }
}
