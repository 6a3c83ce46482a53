// The failed assertions in a TAP stream (as tap 21 prints it), each named by
// the subtests around it, with its YAML diagnostic, so that a guest's failure
// comes back to the host as a line a reader can act on.

export interface TapFailure {
  /** Enclosing subtests, outermost first, then the assertion: "file > test > not ok 3 - what". */
  readonly name: string;
  /** The YAML block under the assertion (diff, at, stderr ...), unindented, at most DETAIL_MAX chars. */
  readonly detail: string;
}

const DETAIL_MAX = 3000;
const INDENT = 4;

/**
 * Leaf failures only: the point line that closes a subtest (the first one at
 * its "# Subtest:" depth) repeats what its children say, so it is left out.
 * A TODO or SKIP is no failure. YAML blocks are skipped whole: a program's
 * stderr in them may hold TAP-looking lines.
 */
export function tapFailures(tap: string): TapFailure[] {
  const lines = tap.split('\n');
  const subtests: string[] = []; // subtests[d]: the one declared at indent d*INDENT
  const open: boolean[] = []; // open[d]: its closing point line is still to come
  const failures: TapFailure[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '---') {
      i = yamlAt(lines, i).end;
      continue;
    }
    const depth = Math.floor((line.length - line.trimStart().length) / INDENT);
    const declared = /^\s*# Subtest: (.*)$/.exec(line);
    if (declared) {
      subtests.length = open.length = depth;
      subtests[depth] = declared[1];
      open[depth] = true;
      continue;
    }
    const point = /^\s*(not )?ok \d+ - .*?(?: # (TODO|SKIP)\b.*)?$/.exec(line);
    if (!point) continue;
    if (open[depth]) {
      open[depth] = false; // the subtest's summary
      continue;
    }
    if (!point[1] || point[2]) continue;
    failures.push({ name: [...subtests.slice(0, depth), line.trim()].join(' > '), detail: yamlAt(lines, i + 1).text });
  }
  return failures;
}

/** The YAML block whose "---" is lines[at] (or none), and the index of its "...". */
function yamlAt(lines: string[], at: number): { text: string; end: number } {
  if (lines[at]?.trim() !== '---') return { text: '', end: at - 1 };
  const indent = lines[at].length - lines[at].trimStart().length;
  const block: string[] = [];
  let j = at + 1;
  for (; j < lines.length && lines[j] !== `${' '.repeat(indent)}...`; j++) block.push(lines[j].slice(indent));
  const text = block.join('\n');
  return { text: text.length > DETAIL_MAX ? `${text.slice(0, DETAIL_MAX)}\n[... ${text.length - DETAIL_MAX} more chars]` : text, end: j };
}
