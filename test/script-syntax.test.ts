// Every shell script in a tree mkimage writes parses (the real `bash -n`, or `sh -n` for a #!/bin/sh one) before
// anything is written: a generated one that does not is mkimage's bug (E024, thrown: exit 1); a profile file that
// is a script and does not parse is the user's (E007 at the file). One shell runs per distinct script.

import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkScripts, writeTreeAtomic, type OutFile } from '../src/output.js';
import { installerScripts } from '../src/pxe/installer.js';
import { PACKAGE_ROOT } from '../src/template.js';
import { loadInputs } from '../src/profile/load.js';
import { syntaxProblem, syntaxProblems } from '../src/profile/shell.js';
import { renderRole } from '../src/pipeline.js';
import { scratchDirs } from './helpers/tmp.js';
import { tool } from './helpers/tools.js';

const scratch = scratchDirs('mkimage-syntax-');
/**
 * a line no other test's script has: this process's parse cache has not seen the script yet (a command, not a
 * comment: the cache leaves a script's leading comment lines out of its key)
 */
const fresh = () => `: ${Math.random().toString(36).slice(2)}\n`;

async function refused(files: OutFile[]): Promise<{ message: string; parent: string[] }> {
  const parent = scratch();
  const dest = join(parent, 'out');
  let message = '';
  await writeTreeAtomic(dest, files).then(
    () => {
      throw new Error('the tree was written');
    },
    (e: Error) => {
      message = e.message;
    },
  );
  return { message, parent: readdirSync(parent) };
}

/** bash and sh first on PATH as FAKES that count their runs, then run the real shell. */
function countingShells(): { path: string; log: string; runs: () => string[] } {
  const bin = scratch();
  const log = join(bin, 'runs');
  writeFileSync(log, '');
  for (const sh of ['bash', 'sh']) {
    writeFileSync(join(bin, sh), `#!${tool('bash')}\n# FAKE ${sh}: counts its runs\necho "${sh} $*" >>${log}\nexec ${tool(sh)} "$@"\n`);
    chmodSync(join(bin, sh), 0o755);
  }
  // a parse is "<shell> -n" (from standard input, or of the file a batched check wrote); the batch's own loop is no parse
  const parse = /^(bash|sh) -n(?: \S+)?$/;
  return {
    path: `${bin}:${process.env.PATH ?? ''}`,
    log,
    runs: () => readFileSync(log, 'utf8').split('\n').filter((l) => parse.test(l)).map((l) => l.split(' ').slice(0, 2).join(' ')),
  };
}

async function withPath<T>(path: string, f: () => Promise<T>): Promise<T> {
  const old = process.env.PATH;
  process.env.PATH = path;
  try {
    return await f();
  } finally {
    process.env.PATH = old;
  }
}

describe('writeTreeAtomic parses every shell script before it writes', () => {
  it('a .sh entry that bash cannot parse: E024 naming it and what bash said; nothing written, no temp tree', async () => {
    const r = await refused([
      { path: 'packer/mkimage.pkr.hcl', content: 'build {}\n' },
      { path: 'packer/scripts/bake.sh', content: `#!/bin/bash\n${fresh()}set -euo pipefail\nif true; then\n  echo never closed\n`, mode: 0o755 },
    ]);
    expect(r.message).toMatch(/^E024: internal: mkimage generated packer\/scripts\/bake\.sh, which does not parse \(bash -n: line \d+: syntax error: unexpected end of file\); nothing was written\. This is a bug in mkimage/);
    expect(r.parent).toEqual([]);
  });

  it('an entry with a bash #! line and no .sh name is checked too (the first-boot script, through env)', async () => {
    const r = await refused([{ path: 'rootfs/usr/local/sbin/mkimage-firstboot', content: `#!/usr/bin/env bash\n${fresh()}case x in\n`, mode: 0o755 }]);
    expect(r.message).toContain('mkimage generated rootfs/usr/local/sbin/mkimage-firstboot, which does not parse (bash -n: ');
  });

  it('a #!/bin/sh entry is parsed by sh: bash-only syntax there is refused (the busybox init)', async () => {
    const r = await refused([{ path: 'init', content: `#!/bin/sh\n${fresh()}function wait_for { :; }\n`, mode: 0o755 }]);
    expect(r.message).toMatch(/mkimage generated init, which does not parse \(sh -n: /);
    // the same text as bash is fine
    const dest = join(scratch(), 'out');
    await writeTreeAtomic(dest, [{ path: 'init.bash', content: `#!/bin/bash\n${fresh()}function wait_for { :; }\n` }]);
    expect(readdirSync(dest)).toEqual(['init.bash']);
  });

  it('a sourced library says its shell on its first line (# shellcheck shell=sh): sh parses it', async () => {
    const r = await refused([{ path: 'etc/mkimage/lib.sh', content: `# shellcheck shell=sh\n${fresh()}disks=(a b)\n` }]);
    expect(r.message).toMatch(/mkimage generated etc\/mkimage\/lib\.sh, which does not parse \(sh -n: /);
  });

  it('the LAN-boot installer\'s scripts (/init, the udhcpc script, the shared library) are all parsed by sh', () => {
    const shells = countingShells();
    const s = installerScripts();
    const old = process.env.PATH;
    process.env.PATH = shells.path;
    try {
      // what buildInitramfs checks before it packs them (a nonce each: this process may have parsed them already)
      checkScripts([{ path: 'init', content: s.init + fresh() }, { path: 'etc/mkimage/udhcpc.script', content: s.udhcpc + fresh() }, { path: 'etc/mkimage/installer-lib.sh', content: s.lib + fresh() }]);
    } finally {
      process.env.PATH = old;
    }
    expect(shells.runs()).toEqual(['sh -n', 'sh -n', 'sh -n']);
  });

  it('other files (YAML, a python #! script, binary) are not parsed as shell', async () => {
    const dest = join(scratch(), 'out');
    await writeTreeAtomic(dest, [
      { path: 'user-data', content: '#cloud-config\nruncmd: [ "if true; then" ]\n' },
      { path: 'tool', content: '#!/usr/bin/python3\nif True: (\n' },
      { path: 'seed.iso', content: new Uint8Array([0, 1, 2, 0x28]) },
    ]);
    expect(readdirSync(dest).sort()).toEqual(['seed.iso', 'tool', 'user-data']);
  });

  it('one shell per distinct script, however many files carry it, and none for a script already parsed', async () => {
    const shells = countingShells();
    const script = `#!/bin/bash\n${fresh()}echo "node $1"\n`;
    const files: OutFile[] = Array.from({ length: 1000 }, (_, i) => ({ path: `seeds/node${i}/run.sh`, content: script }));
    files.push({ path: 'init', content: `#!/bin/sh\n${fresh()}echo init\n` });
    await withPath(shells.path, () => writeTreeAtomic(join(scratch(), 'out'), files));
    expect(shells.runs()).toEqual(['bash -n', 'sh -n']);
    await withPath(shells.path, () => writeTreeAtomic(join(scratch(), 'out'), files));
    expect(shells.runs()).toEqual(['bash -n', 'sh -n']);
  });

  it('a real render parses its scripts (bake, pre-pull, self-check, clean-up, first boot) with few shells', async () => {
    const shells = countingShells();
    const cwd = scratch();
    const r = await withPath(shells.path, () => renderRole({ role: 'control-plane', cwd, packerVersion: '1.6.6' }));
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const checks = shells.runs().filter((l) => l === 'bash -n' || l === 'sh -n');
    // the profile commands (checked at load) plus the tree's distinct scripts: a handful, not one per node
    expect(checks.length).toBeGreaterThanOrEqual(5);
    expect(checks.length).toBeLessThan(15);
    expect(existsSync(join(cwd, 'out/control-plane/packer/scripts/bake.sh'))).toBe(true);
  });
});

/** bash first on PATH as a FAKE whose `-n` refuses any script containing `marker` (else the real bash runs). */
function refusingBash(marker: string): string {
  const bin = scratch();
  writeFileSync(join(bin, 'bash'), [
    `#!${tool('bash')}`,
    `# FAKE bash: "bash -n [FILE]" (a file, or standard input) fails as a syntax error when the script contains ${marker}`,
    'if [ "${1:-}" = -n ]; then',
    `  src=\${2:-}; [ -n "$src" ] || { src=${bin}/stdin.$$; cat >"$src"; }`,
    `  if grep -qF -- ${JSON.stringify(marker)} "$src"; then echo "$src: line 1: syntax error: unexpected end of file" >&2; exit 2; fi`,
    `  exec ${tool('bash')} -n "$src"`,
    'fi',
    `exec ${tool('bash')} "$@"`,
    '',
  ].join('\n'));
  chmodSync(join(bin, 'bash'), 0o755);
  return `${bin}:${process.env.PATH ?? ''}`;
}

describe('scripts carried inside user-data (--mode full) are parsed too', () => {
  it('a file\'s carried script that does not parse: E024 naming the file and the script\'s path on the node; nothing written', async () => {
    const r = await refused([
      { path: 'seeds/n1/user-data', content: '#cloud-config\n', scripts: [{ path: '/var/lib/mkimage/bake.sh', text: `#!/bin/bash\n${fresh()}if true; then\n` }] },
    ]);
    expect(r.message).toMatch(/^E024: internal: mkimage generated seeds\/n1\/user-data: \/var\/lib\/mkimage\/bake\.sh, which does not parse \(bash -n: line 4: syntax error: unexpected end of file\)/);
    expect(r.parent).toEqual([]);
  });

  it('a carried file that is no script (a unit, a YAML file) is not parsed', async () => {
    const dest = join(scratch(), 'out');
    await writeTreeAtomic(dest, [{ path: 'user-data', content: '#cloud-config\n', scripts: [{ path: '/etc/motd', text: 'if true; then\n' }] }]);
    expect(readdirSync(dest)).toEqual(['user-data']);
  });

  it('per-node scripts that differ only in their leading comment lines are parsed once; a change below them is parsed again', async () => {
    const shells = countingShells();
    const body = `${fresh()}echo bake\n`;
    const seed = (node: string, text: string): OutFile => ({ path: `seeds/${node}/user-data`, content: '#cloud-config\n', scripts: [{ path: '/var/lib/mkimage/bake.sh', text }] });
    const files = Array.from({ length: 50 }, (_, i) => seed(`n${i}`, `#!/bin/bash\n# bake phase for node n${i}\n${body}`));
    await withPath(shells.path, () => writeTreeAtomic(join(scratch(), 'out'), files));
    expect(shells.runs()).toEqual(['bash -n']);
    // the same comment with other code under it is another script
    await withPath(shells.path, () => writeTreeAtomic(join(scratch(), 'out'), [seed('n0', `#!/bin/bash\n# bake phase for node n0\n${body}echo more\n`)]));
    expect(shells.runs()).toEqual(['bash -n', 'bash -n']);
  });

  it('a real --mode full render parses the bake script its user-data carries: refused by bash, nothing is written', async () => {
    const cwd = scratch();
    // only the user-data's bake script says "for node ..." (the Packer tree's is "for role worker")
    const r = await withPath(refusingBash('mkimage bake phase for node'), () => renderRole({ role: 'worker', cwd, mode: 'full' }).then(
      () => 'rendered',
      (e: Error) => e.message,
    ));
    expect(r).toContain('E024: internal: mkimage generated seeds/worker1/user-data: /var/lib/mkimage/bake.sh, which does not parse (bash -n: ');
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('syntaxProblems: many scripts parsed by one process', () => {
  it('finds the one that does not parse among many, in bash and sh, and says what the single check says', () => {
    const shells = countingShells();
    const scripts = [
      { text: 'echo a\n', shell: 'bash' as const },
      { text: 'if true; then\n  echo b\n', shell: 'bash' as const },
      { text: 'list=(a b)\n', shell: 'sh' as const },
      { text: 'list=(a b)\n', shell: 'bash' as const },
      { text: 'case x in\n  x) echo x ;;\nesac\n', shell: 'sh' as const },
    ];
    const old = process.env.PATH;
    process.env.PATH = shells.path;
    let got: Array<string | undefined>;
    try {
      got = syntaxProblems(scripts);
    } finally {
      process.env.PATH = old;
    }
    expect(got.map((p) => p !== undefined)).toEqual([false, true, true, false, false]);
    expect(got[1]).toBe(syntaxProblem(scripts[1]!.text, 'bash'));
    expect(got[2]).toBe(syntaxProblem(scripts[2]!.text, 'sh'));
    expect(got[1]).toMatch(/syntax error/);
    // one parse each, all under a single batch shell started from node
    expect(shells.runs()).toEqual(['bash -n', 'bash -n', 'sh -n', 'bash -n', 'sh -n']);
    expect(readFileSync(shells.log, 'utf8').split('\n').filter((l) => l.startsWith('bash -c '))).toHaveLength(1);
  });
});

describe('a profile file that is a shell script and does not parse', () => {
  const load = (path: string, content: string) => {
    const dir = scratch();
    writeFileSync(join(dir, 'control-plane.yaml'), 'version: 1\nrole: control-plane\n');
    writeFileSync(join(dir, 'worker.yaml'), `version: 1\nrole: worker\nfiles:\n  - path: ${path}\n    mode: '0755'\n    content: ${JSON.stringify(content)}\n`);
    return loadInputs({ profilesDir: dir, clusterFile: join(PACKAGE_ROOT, 'profiles/cluster.yaml'), cwd: dir });
  };

  it.each([
    ['a .sh file', '/usr/local/bin/tune.sh', 'echo "unclosed\n', 'bash'],
    ['a #!/bin/bash file', '/usr/local/bin/tune', '#!/bin/bash\nfor x in a b; do\n', 'bash'],
    ['a #!/bin/sh file with bash syntax', '/usr/local/bin/tune', '#!/bin/sh\nlist=(a b)\n', 'sh'],
  ])('%s is E007 at its content, naming the file', (_, path, content, shell) => {
    const r = load(path, content);
    expect(r.inputs).toBeUndefined();
    const d = r.diagnostics.filter((x) => x.severity === 'error');
    expect(d.map((x) => `${x.code} ${x.file}:${x.line}`)).toEqual(['E007 worker.yaml:6']);
    expect(d[0]!.message).toContain(`files[0] ${path} is a ${shell} script that does not parse (`);
  });

  it('a script that parses, and a file that is not a script, load', () => {
    expect(load('/usr/local/bin/ok.sh', 'echo "fine"\n').diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(load('/etc/motd', 'if true; then\n').diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });
});
