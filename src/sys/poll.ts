// poll(2) event bits (include/uapi/asm-generic/poll.h), as FUSE POLL carries them.
export const POLLIN = 0x0001;
export const POLLPRI = 0x0002;
export const POLLOUT = 0x0004;
export const POLLERR = 0x0008;
export const POLLHUP = 0x0010;
export const POLLRDNORM = 0x0040;
export const POLLWRNORM = 0x0100;
