// tapFailures() on TAP as tap 21 prints it (written by hand after a real
// guest run): leaf failures named by their subtests, summaries and TODOs left out.
import t from 'tap';
import { tapFailures } from './tap-failures';

const TAP = `TAP version 14
# Subtest: dist/test/pts/programs.test.js
    # Subtest: an interactive bash driven through the master
        ok 1 - should be equal
        not ok 2 - job control: ^Z, jobs, fg
          ---
          diff: |
            -  "ttin": "ok"
            +  "ttin": "timeout"
          stderr: timeout waiting for 'Stopped'
          ...
        
        not ok 3 - later # TODO not yet
        1..3
    not ok 1 - an interactive bash driven through the master # time=812ms
    
    # Subtest: tmux runs a pane
        not ok 1 - test unfinished
        1..1
    not ok 2 - tmux runs a pane # time=5ms
    
    # Subtest: d
        ok 1 - fine
        1..1
    ok 3 - d # time=1ms
    not ok 4 - d
      ---
      stderr: |
        not ok 9 - fake, inside a program's stderr
        # Subtest: fake too
      ...
    not ok 5 - not here # SKIP no such program
    1..5
not ok 1 - dist/test/pts/programs.test.js # time=900ms
# Subtest: dist/test/pts/terminal.test.js
    ok 1 - fine # time=1ms
    1..1
ok 2 - dist/test/pts/terminal.test.js # time=2ms
`;

t.test('each leaf failure, named by its subtests, with its YAML', async (t) => {
  const f = tapFailures(TAP);
  t.same(f.map((x) => x.name), [
    'dist/test/pts/programs.test.js > an interactive bash driven through the master > not ok 2 - job control: ^Z, jobs, fg',
    'dist/test/pts/programs.test.js > tmux runs a pane > not ok 1 - test unfinished',
    'dist/test/pts/programs.test.js > not ok 4 - d',
  ], 'a failure named like the subtest before it counts; a SKIP and lines inside YAML do not');
  t.equal(f[0].detail, `diff: |\n  -  "ttin": "ok"\n  +  "ttin": "timeout"\nstderr: timeout waiting for 'Stopped'`);
  t.equal(f[1].detail, '', 'no YAML, no detail');
  t.match(f[2].detail, /^stderr: \|\n  not ok 9 - fake/);
});

t.test('a subtest whose name spans lines is closed by its first point line', async (t) => {
  const tap = '# Subtest: two\nline name\n    not ok 1 - inner\n    1..1\nnot ok 1 - two\\nline name # time=1ms\n';
  t.same(tapFailures(tap).map((x) => x.name), ['two > not ok 1 - inner']);
});

t.test('a passing stream has none; a long YAML block is cut', async (t) => {
  t.same(tapFailures('TAP version 14\nok 1 - a\n1..1\n'), []);
  const long = `not ok 1 - big\n  ---\n  stderr: ${'x'.repeat(5000)}\n  ...\n`;
  const [f] = tapFailures(long);
  t.ok(f.detail.length < 3100 && f.detail.endsWith('more chars]'), 'cut, saying by how much');
});
