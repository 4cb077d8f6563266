// Running the host tools `mkimage pxe build` needs (apt-get, dpkg, qemu-img): a missing one is an environment
// error (E016, exit 3) naming the Debian package to install; a failing one is returned for the caller to word.

import { spawn } from 'node:child_process';
import { EnvironmentError } from '../cli/run.js';

/** The Debian package of each tool, for the fix in the message. */
const PACKAGE_OF: Record<string, string> = {
  'apt-get': 'apt',
  'apt-cache': 'apt',
  dpkg: 'dpkg',
  'qemu-img': 'qemu-utils',
};

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `cmd args` (no shell); resolves with its exit code and output, rejects only when it cannot start. */
export function runTool(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        const pkg = PACKAGE_OF[cmd] ?? cmd;
        reject(new EnvironmentError(`mkimage pxe build needs ${cmd}, which is not installed: apt-get install ${pkg}`, 'E016'));
      } else reject(e);
    });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

/** The last few lines of a tool's stderr, for a message. */
export const lastLines = (s: string, n = 5): string => s.trim().split('\n').slice(-n).join('\n');
