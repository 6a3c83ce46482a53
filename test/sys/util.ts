import { errnoName } from '../../src/sys/errno';

/** A tap t.throws() pattern matching a SysError with `errno` (and `syscall`). */
export function sysError(errno: number, syscall?: string): { name: string; code: string; errno: number; syscall?: string } {
  const pattern = { name: 'SysError', code: errnoName(errno), errno };
  return syscall === undefined ? pattern : { ...pattern, syscall };
}
