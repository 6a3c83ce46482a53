// ptsfs as a library: mount pts namespaces from a container runtime's own
// process (the CLI in src/cli is one such user).
export { mountNamespace, parseOptions, PtsMount, PtsNamespace, OptionError, type PtsOptions } from './pts';
export * as fuse from './fuse';
