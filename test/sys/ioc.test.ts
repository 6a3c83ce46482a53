import t from 'tap';
import {
  IOC_NONE, IOC_READ, IOC_WRITE, ioc, iocDir, iocNr, iocSize, iocType,
  TIOCGPTN, TIOCSPTLCK, TCGETS2, TCSETSF2, TIOCGPTPEER, KERNEL_TERMIOS2_SIZE,
} from '../../src/sys/tty';

// Literal values, as the kernel prints them (e.g. strace), independent of ioc().
t.test('ioc() encodes the known tty numbers', async (t) => {
  t.equal(ioc(IOC_READ, 'T', 0x30, 4), 0x80045430, "TIOCGPTN = _IOR('T', 0x30, unsigned int)");
  t.equal(TIOCGPTN, 0x80045430);
  t.equal(TIOCSPTLCK, 0x40045431);
  t.equal(TCGETS2, 0x802c542a);
  t.equal(TCSETSF2, 0x402c542d);
  t.equal(TIOCGPTPEER, 0x5441, '_IO has no direction or size');
  t.equal(ioc(IOC_READ | IOC_WRITE, 0x54, 0x43, 8), 0xc0085443, 'type given as a char code');
});

t.test('results are unsigned even with the top bit set', async (t) => {
  t.ok(TIOCGPTN > 0);
  t.equal(ioc(IOC_READ | IOC_WRITE, 0xff, 0xff, 0x3fff), 0xffffffff);
});

t.test('decoders invert ioc()', async (t) => {
  t.equal(iocDir(TCGETS2), IOC_READ);
  t.equal(iocDir(TCSETSF2), IOC_WRITE);
  t.equal(iocDir(0x5401), IOC_NONE, 'legacy TCGETS carries no direction');
  t.equal(iocSize(TCGETS2), KERNEL_TERMIOS2_SIZE);
  t.equal(iocSize(0x5401), 0);
  t.equal(iocType(TIOCGPTN), 'T'.charCodeAt(0));
  t.equal(iocNr(TIOCGPTN), 0x30);
});

t.test('sizes beyond 14 bits are refused', async (t) => {
  t.throws(() => ioc(IOC_READ, 'T', 1, 0x4000), RangeError);
});
