// The mkimage CLI run in-process through its own entry point (src/cli.ts main), in a given cwd, with what it
// printed on stdout and stderr and its exit code.

import { main } from '../../src/cli.js';
import type { Io } from '../../src/cli/run.js';

export interface Ran {
  code: number;
  out: string;
  err: string;
}

export async function mkimage(cwd: string, ...argv: string[]): Promise<Ran> {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => void (out += s), err: (s) => void (err += s), color: false, tty: false, cwd, exitCode: 0 };
  const code = await main(argv, io);
  return { code, out, err };
}
