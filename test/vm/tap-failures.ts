// The failed assertions in a TAP stream (as tap 18 prints it), each named by
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
 * Leaf failures only: the "not ok" that closes a subtest whose children
 * failed repeats what they say, so it is left out. A TODO is no failure.
 */
export function tapFailures(tap: string): TapFailure[] {
  const lines = tap.split('\n');
  const subtests: string[] = []; // subtests[d]: the one declared at indent d*INDENT
  const failures: TapFailure[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const depth = Math.floor((line.length - line.trimStart().length) / INDENT);
    const declared = /^\s*# Subtest: (.*)$/.exec(line);
    if (declared) {
      subtests.length = depth;
      subtests[depth] = declared[1];
      continue;
    }
    const notOk = /^\s*not ok \d+ - (.*?)(?: # (time|TODO|SKIP).*)?$/.exec(line);
    if (!notOk || notOk[2] === 'TODO') continue;
    if (subtests[depth] === notOk[1]) continue; // the summary of a subtest
    failures.push({ name: [...subtests.slice(0, depth), line.trim()].join(' > '), detail: yamlBelow(lines, i) });
  }
  return failures;
}

function yamlBelow(lines: string[], at: number): string {
  if (lines[at + 1]?.trim() !== '---') return '';
  const indent = lines[at + 1].length - lines[at + 1].trimStart().length;
  const block: string[] = [];
  for (let j = at + 2; j < lines.length && lines[j].trim() !== '...'; j++) block.push(lines[j].slice(indent));
  const text = block.join('\n');
  return text.length > DETAIL_MAX ? `${text.slice(0, DETAIL_MAX)}\n[... ${text.length - DETAIL_MAX} more chars]` : text;
}
