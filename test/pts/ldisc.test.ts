// The line discipline's signal keys, without a mount or a pty: termios
// bytes are laid out by hand from include/uapi/asm-generic/termbits.h.
import t from 'tap';
import { LineDiscipline } from '../../src/pts/ldisc';
import {
  ECHO, ECHOCTL, ICANON, IEXTEN, ISIG, KERNEL_TERMIOS_SIZE, NOFLSH, TERMIOS_CC, TERMIOS_LFLAG, TOSTOP,
  VINTR, VLNEXT, VQUIT, VSUSP,
} from '../../src/sys/tty';

/** A kernel termios with these lflag bits and the default control characters (^C ^\ ^Z ^V). */
function termios(lflag: number): Buffer {
  const b = Buffer.alloc(KERNEL_TERMIOS_SIZE);
  b.writeUInt32LE(lflag, TERMIOS_LFLAG);
  b[TERMIOS_CC + VINTR] = 0x03;
  b[TERMIOS_CC + VQUIT] = 0x1c;
  b[TERMIOS_CC + VSUSP] = 0x1a;
  b[TERMIOS_CC + VLNEXT] = 0x16;
  return b;
}

const COOKED = ISIG | ICANON | ECHO | ECHOCTL | IEXTEN;

t.test('signal keys are found with ISIG, in order, and name their signal', async (t) => {
  const l = new LineDiscipline(termios(COOKED));
  const d = Buffer.from('ab\x1acd\x03\x1c');
  t.equal(l.find(d, 0), 2);
  t.equal(l.find(d, 3), 5);
  t.equal(l.find(d, 6), 6);
  t.equal(l.signalOf(0x03), 'SIGINT');
  t.equal(l.signalOf(0x1c), 'SIGQUIT');
  t.equal(l.signalOf(0x1a), 'SIGTSTP');
  t.equal(l.signalOf(0x61), undefined);
  t.equal(l.find(Buffer.from('no keys here\n'), 0), -1);
});

t.test('without ISIG nothing is a key (raw mode costs no scan)', async (t) => {
  const l = new LineDiscipline(termios(ICANON | ECHO));
  t.equal(l.find(Buffer.from('\x03\x1a\x1c'), 0), -1);
  t.equal(l.signalOf(0x03), undefined);
});

t.test('VLNEXT quotes the next byte in canonical mode with IEXTEN, also across writes', async (t) => {
  const l = new LineDiscipline(termios(COOKED));
  const quoted = Buffer.from('a\x16\x03b\x03');
  t.equal(l.find(quoted, 0), 4, '^V^C is a literal ^C; the second ^C signals');
  const twice = Buffer.from('\x16\x16\x03');
  t.equal(l.find(twice, 0), 2, '^V^V is a literal ^V, so the ^C after it signals');
  // A write that ends in ^V quotes the first byte of the next one.
  const end = Buffer.from('x\x16');
  l.passed(end, 0, end.length);
  t.equal(l.find(Buffer.from('\x03\x03'), 0), 1, 'the quoted ^C is literal, the next one is a key');
  l.passed(Buffer.from('\x03'), 0, 1);
  t.equal(l.find(Buffer.from('\x03'), 0), 0, 'the quote is used up');
  const noIexten = new LineDiscipline(termios(ISIG | ICANON));
  t.equal(noIexten.find(quoted, 0), 2, 'without IEXTEN ^V quotes nothing');
  const raw = new LineDiscipline(termios(ISIG | IEXTEN));
  t.equal(raw.find(quoted, 0), 2, 'without ICANON ^V quotes nothing');
});

t.test('a control character of 0 is no key (_POSIX_VDISABLE), nor is NUL then', async (t) => {
  const b = termios(COOKED);
  b[TERMIOS_CC + VINTR] = 0;
  const l = new LineDiscipline(b);
  t.equal(l.find(Buffer.from('a\x00\x03b'), 0), -1, 'NUL is data, and ^C is no longer VINTR');
  t.equal(l.signalOf(0), undefined);
  t.equal(l.find(Buffer.from('a\x1ab'), 0), 1, 'VSUSP still is a key');
  b[TERMIOS_CC + VINTR] = 0x03;
  b[TERMIOS_CC + VLNEXT] = 0;
  l.load(b);
  t.equal(l.find(Buffer.from('\x00\x03'), 0), 1, 'VLNEXT of 0 quotes nothing');
});

t.test('flags read from the termios: NOFLSH, TOSTOP, ICANON; load() rereads them', async (t) => {
  const l = new LineDiscipline(termios(ISIG | NOFLSH | TOSTOP));
  t.equal(l.noflsh, true);
  t.equal(l.tostop, true);
  t.equal(l.canonical, false);
  l.load(termios(COOKED));
  t.equal(l.noflsh, false);
  t.equal(l.tostop, false);
  t.equal(l.canonical, true);
});
