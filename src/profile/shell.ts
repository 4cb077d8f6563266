// A profile command is spliced into the bake script as a subshell `( ... )` and run by cloud-init as
// `bash -c`. One that is not valid bash there (an unclosed quote, a stray ")", a here-document without its
// end line, which swallows the rest of the script) is refused at its line, before anything is written.

import { spawnSync } from 'node:child_process';
import { error, type Diagnostic, type Position } from '../diagnostics.js';

/** bash's complaint about `run` as the bake script wraps it, or undefined when it parses cleanly. */
export function shellSyntaxProblem(run: string): string | undefined {
  const wrapped = `(\n${run.replace(/\n+$/, '')}\n)\n`;
  const r = spawnSync('bash', ['-n'], { input: wrapped, encoding: 'utf8' });
  if (r.error !== undefined) return undefined; // no bash on this host: the node's own bash is the judge
  const said = (r.stderr ?? '').trim();
  if (r.status === 0 && said === '') return undefined;
  // bash counts the "(" line the wrapper added, and reaches past the command's end: give the command's own lines
  const lines = run.replace(/\n+$/, '').split('\n').length;
  const own = (n: string) => String(Math.min(lines, Math.max(1, Number(n) - 1)));
  return (said || `bash -n exited ${r.status}`)
    .split('\n')
    .map((l) => l.replace(/^bash: /, '').replace(/\bline (\d+)/g, (_, n: string) => `line ${own(n)}`))
    .join('; ');
}

export function checkCommands(commands: ReadonlyArray<{ run: string }>, positionOf: (path: string) => Position | undefined): Diagnostic[] {
  return commands.flatMap((c, i) => {
    const problem = shellSyntaxProblem(c.run);
    if (problem === undefined) return [];
    return [error('E007', `commands[${i}].run is not a complete bash command (${problem}): close every quote, bracket and here-document inside the command`, positionOf(`commands.${i}.run`))];
  });
}
