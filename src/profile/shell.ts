// A profile command is spliced into the bake script as a subshell `( ... )` and run by cloud-init as
// `bash -c`. One that is not valid bash there (an unclosed quote, a stray ")", a here-document without its
// end line, which swallows the rest of the script) is refused at its line, before anything is written; so is a
// profile file that is a shell script and does not parse.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { error, type Diagnostic, type Position } from '../diagnostics.js';

/**
 * What `shell -n` (parse, run nothing) says about `script`, its lines joined with "; " and without the leading
 * "bash: ", or undefined when it parses cleanly or there is no such shell here (the node's own shell is then the
 * judge).
 */
export function syntaxProblem(script: string, shell: 'bash' | 'sh' = 'bash'): string | undefined {
  const r = spawnSync(shell, ['-n'], { input: script, encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error !== undefined) return undefined;
  const said = (r.stderr ?? '').trim();
  if (r.status === 0 && said === '') return undefined;
  return (said || `${shell} -n exited ${r.status}`).split('\n').map((l) => l.replace(/^(?:ba)?sh: /, '')).join('; ');
}

export interface ShellScript {
  text: string;
  shell: 'bash' | 'sh';
}

/**
 * syntaxProblem for many scripts at the cost of one process: they go to files in a temp dir, and one bash runs
 * `<shell> -n <file>` for each (a fork and exec of the shell each, not a spawn from node: a render parses a dozen).
 */
export function syntaxProblems(scripts: readonly ShellScript[]): Array<string | undefined> {
  if (scripts.length < 2) return scripts.map((x) => syntaxProblem(x.text, x.shell));
  const batch = parseBatch(scripts);
  try {
    const r = spawnSync('bash', batch.argv, { stdio: 'ignore' });
    return batch.results(r.error !== undefined);
  } finally {
    batch.remove();
  }
}

/** syntaxProblems without blocking: the shells run while the caller goes on (a render writes its tree meanwhile). */
export async function syntaxProblemsAsync(scripts: readonly ShellScript[]): Promise<Array<string | undefined>> {
  if (scripts.length === 0) return [];
  const batch = parseBatch(scripts);
  try {
    const failed = await new Promise<boolean>((resolve) => {
      const child = spawn('bash', batch.argv, { stdio: 'ignore' });
      child.on('error', () => resolve(true));
      child.on('close', () => resolve(false));
    });
    return batch.results(failed);
  } finally {
    batch.remove();
  }
}

/** The scripts in a temp dir, the argv of one bash that parses each, and how to read what each parse said. */
function parseBatch(scripts: readonly ShellScript[]): { argv: string[]; results: (noShell: boolean) => Array<string | undefined>; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mkimage-parse-'));
  const args: string[] = [];
  scripts.forEach((x, i) => {
    writeFileSync(join(dir, String(i)), x.text);
    args.push(x.shell, join(dir, String(i)));
  });
  const loop = 'while [ "$#" -gt 1 ]; do "$1" -n "$2" 2>"$2.err"; echo "$?" >"$2.rc"; shift 2; done';
  return {
    argv: ['-c', loop, 'mkimage-parse', ...args],
    remove: () => rmSync(dir, { recursive: true, force: true }),
    results: (noShell) => (noShell ? scripts.map(() => undefined) : scripts.map((x, i) => {
      const file = join(dir, String(i));
      const rc = readFileSync(`${file}.rc`, 'utf8').trim();
      // "<file>: line 3: ..." (bash) or "<file>: 3: ..." (dash): the same words as from standard input, after the name
      const said = readFileSync(`${file}.err`, 'utf8').split(`${file}: `).join('').trim();
      if (rc === '0' && said === '') return undefined;
      if (rc === '127') return undefined; // no such shell here, as syntaxProblem
      return (said || `${x.shell} -n exited ${rc}`).split('\n').join('; ');
    })),
  };
}

/** A command as the bake script wraps it, in a subshell. */
function wrapped(run: string): string {
  return `(\n${run.replace(/\n+$/, '')}\n)\n`;
}

/** bash's complaint about `run` as the bake script wraps it, or undefined when it parses cleanly. */
export function shellSyntaxProblem(run: string): string | undefined {
  return commandProblem(run, syntaxProblem(wrapped(run)));
}

/** What bash said about a wrapped command, in the command's own line numbers. */
function commandProblem(run: string, said: string | undefined): string | undefined {
  if (said === undefined) return undefined;
  // bash counts the "(" line the wrapper added, and reaches past the command's end: give the command's own lines
  const lines = run.replace(/\n+$/, '').split('\n').length;
  const own = (n: string) => String(Math.min(lines, Math.max(1, Number(n) - 1)));
  return said.replace(/\bline (\d+)/g, (_, n: string) => `line ${own(n)}`);
}

/**
 * The shell that runs a file: from its #! line (bash or sh, directly or through env), or for a sourced library from
 * a first line `# shellcheck shell=sh|bash`, else bash for a `.sh` name.
 */
export function scriptShell(path: string, head: string): 'bash' | 'sh' | undefined {
  const m = /^#!\s*(\S+)(?:[ \t]+(\S+))?/.exec(head);
  const directive = /^#\s*shellcheck\s+shell=(bash|sh)\b/.exec(head)?.[1] as 'bash' | 'sh' | undefined;
  if (m === null) return directive ?? (path.endsWith('.sh') ? 'bash' : undefined);
  const name = (m[1]!.endsWith('/env') ? m[2] ?? '' : m[1]!).replace(/^.*\//, '');
  return name === 'bash' || name === 'sh' ? name : undefined;
}

/**
 * Profile commands, and profile files that are shell scripts (a bash or sh #! line, or a `.sh` name), must parse:
 * every script in the output then is mkimage's own, and src/output.ts checks those again before writing.
 */
export function checkCommands(
  commands: ReadonlyArray<{ run: string }>,
  positionOf: (path: string) => Position | undefined,
  files: ReadonlyArray<{ path: string; content: string }> = [],
): Diagnostic[] {
  const shells = files.map((f) => scriptShell(f.path, f.content.slice(0, 80)));
  const said = syntaxProblems([
    ...commands.map((c): ShellScript => ({ text: wrapped(c.run), shell: 'bash' })),
    ...files.flatMap((f, i): ShellScript[] => (shells[i] === undefined ? [] : [{ text: f.content, shell: shells[i]! }])),
  ]);
  const runs = commands.flatMap((c, i) => {
    const problem = commandProblem(c.run, said[i]);
    if (problem === undefined) return [];
    return [error('E007', `commands[${i}].run is not a complete bash command (${problem}): close every quote, bracket and here-document inside the command`, positionOf(`commands.${i}.run`))];
  });
  let next = commands.length;
  const scripts = files.flatMap((f, i) => {
    const shell = shells[i];
    const problem = shell === undefined ? undefined : said[next++];
    if (problem === undefined) return [];
    return [error('E007', `files[${i}] ${f.path} is a ${shell} script that does not parse (${problem}; lines count from the content's first line): close every quote, bracket and here-document`, positionOf(`files.${i}.content`) ?? positionOf(`files.${i}`))];
  });
  return [...runs, ...scripts];
}
