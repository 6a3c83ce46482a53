// `ptsfs list` and `ptsfs stop`.
import * as fs from 'fs';
import { cleanAfterDeadDaemon, connectRunning, takeDaemonLock, type DaemonPaths, type MountReport } from '../daemon';
import type { PidReport } from '../pts';
import { say, sayCleaned, UsageError } from './usage';

function notRunning(p: DaemonPaths): never {
  sayCleaned(cleanAfterDeadDaemon(p));
  throw new UsageError(`no daemon running (no one listens on ${p.socket})`);
}

function pids(r: PidReport | null): string {
  return r ? (r.host === r.container ? `${r.host}` : `${r.host}/${r.container}`) : '-';
}

/** A table per mount; pids as host/container where the two differ. */
function formatMounts(mounts: readonly MountReport[]): string {
  const out: string[] = [];
  for (const m of mounts) {
    const major = m.major === undefined ? '' : `  char major ${m.major}`;
    out.push(`${m.mountpoint}  ${m.options}${major}  mounted ${m.mountedAt}${m.leased ? '  (ptsfs run)' : ''}  ${m.ptys.length} open`);
    if (m.ptys.length === 0) continue;
    const rows = [['PTY', 'UID', 'SESSION', 'FG', 'COMMAND', 'IN', 'OUT', 'OPENED']];
    for (const t of m.ptys) {
      rows.push([String(t.index), String(t.uid), pids(t.session), pids(t.foreground), t.foreground?.command ?? '-',
        String(t.bytesIn), String(t.bytesOut), t.openedAt]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) out.push(`  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

export async function listCommand(p: DaemonPaths, json: boolean): Promise<number> {
  const c = await connectRunning(p);
  if (!c) notRunning(p);
  try {
    const r = await c.request({ op: 'list' });
    const mounts = r.mounts ?? [];
    process.stdout.write(json ? `${JSON.stringify({ daemon: { pid: r.pid, socket: p.socket }, mounts }, null, 2)}\n` : formatMounts(mounts));
  } finally {
    c.close();
  }
  return 0;
}

/** Unmounts everything and waits until the daemon has exited (its lock is free). */
export async function stopCommand(p: DaemonPaths): Promise<number> {
  const c = await connectRunning(p);
  if (!c) notRunning(p);
  const r = await c.request({ op: 'stop' });
  await c.closed;
  const fd = takeDaemonLock(p, true);
  fs.closeSync(fd);
  say(`stopped the daemon; it unmounted ${r.cleaned?.length ?? 0} mounts`);
  return 0;
}
