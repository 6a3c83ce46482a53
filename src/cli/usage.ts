// What every command shares: the error a user gets for bad input, and the
// checks that produce it.
import * as fs from 'fs';
import { OptionError, parseOptions, type PtsOptions } from '../pts';

/** Thrown for anything the user got wrong: printed as one line without a stack, exit 1. */
export class UsageError extends Error {}

/** The directory must exist; a dead FUSE mount there says so (ENOTCONN) rather than "no such directory". */
export function requireDirectory(dir: string, command: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN') throw new UsageError(`${command} ${dir}: a dead mount (its server was killed); ptsfs umount ${dir} removes it`);
    if (code === 'EACCES') throw new UsageError(`${command} ${dir}: permission denied`);
    throw new UsageError(`${command} ${dir}: no such directory`);
  }
  if (!st.isDirectory()) throw new UsageError(`${command} ${dir}: not a directory`);
}

export function options(text: string, command: string): PtsOptions {
  try {
    return parseOptions(text);
  } catch (err) {
    if (err instanceof OptionError) throw new UsageError(`${command}: ${err.message}`);
    throw err;
  }
}

export function say(line: string): void {
  process.stderr.write(`ptsfs: ${line}\n`);
}

/** What a daemon that had been killed left, now cleaned. */
export function sayCleaned(cleaned: readonly string[]): void {
  for (const dir of cleaned) say(`cleaned ${dir}: a dead mount left by a daemon that was killed (detached)`);
}
