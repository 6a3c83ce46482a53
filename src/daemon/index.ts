// The daemon layer: one process serving every pts namespace of a host,
// driven over a unix control socket.
export { ClientError, cleanAfterDeadDaemon, connectOrStart, connectRunning, DaemonConnection } from './client';
export { daemonPaths, type DaemonPaths } from './paths';
export { DaemonRunning, runDaemon, takeDaemonLock } from './main';
export type { MountReport, Request, Response } from './protocol';
