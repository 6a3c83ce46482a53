// The line discipline's signal keys, without a mount or a pty: termios
// bytes are laid out by hand from include/uapi/asm-generic/termbits.h.
import t from 'tap';
import { LineDiscipline } from '../../src/pts/ldisc';
import {
  ECHO, ECHOCTL, ICANON, IEXTEN, ISIG, IXON, KERNEL_TERMIOS_SIZE, NOFLSH, TERMIOS_CC, TERMIOS_IFLAG, TERMIOS_LFLAG,
  VINTR, VLNEXT, VQUIT, VSTART, VSUSP,
} from '../../src/sys/tty';

/** A kernel termios with these lflag bits and the default control characters (^C ^\ ^Z ^V ^Q). */
function termios(lflag: number, iflag = IXON): Buffer {
  const b = Buffer.alloc(KERNEL_TERMIOS_SIZE);
  b.writeUInt32LE(iflag, TERMIOS_IFLAG);
  b.writeUInt32LE(lflag, TERMIOS_LFLAG);
  b[TERMIOS_CC + VINTR] = 0x03;
  b[TERMIOS_CC + VQUIT] = 0x1c;
  b[TERMIOS_CC + VSUSP] = 0x1a;
  b[TERMIOS_CC + VLNEXT] = 0x16;
  b[TERMIOS_CC + VSTART] = 0x11;
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

t.test('echo as n_tty echo_char: ^C with ECHOCTL, the byte without, nothing without ECHO', async (t) => {
  t.same(new LineDiscipline(termios(COOKED)).echo(0x03), Buffer.from('^C'));
  t.same(new LineDiscipline(termios(COOKED)).echo(0x1c), Buffer.from('^\\'));
  t.same(new LineDiscipline(termios(ISIG | ECHO)).echo(0x03), Buffer.from([0x03]));
  t.equal(new LineDiscipline(termios(ISIG)).echo(0x03), undefined);
});

t.test('flags read from the termios: NOFLSH, IXON, VSTART, ICANON; load() rereads them', async (t) => {
  const l = new LineDiscipline(termios(ISIG | NOFLSH, 0));
  t.equal(l.noflsh, true);
  t.equal(l.ixon, false);
  t.equal(l.canonical, false);
  l.load(termios(COOKED));
  t.equal(l.noflsh, false);
  t.equal(l.ixon, true);
  t.equal(l.canonical, true);
  t.equal(l.startChar, 0x11);
});
