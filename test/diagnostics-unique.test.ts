// uniqueDiagnostics: the one de-duplication the loader (Loader.result), the lints (lintInputs) and `validate` use.

import { describe, expect, it } from 'vitest';
import { error, uniqueDiagnostics, warning, type Diagnostic } from '../src/diagnostics.js';
import { lintInputs } from '../src/profile/lint.js';
import { loadInputs } from '../src/profile/load.js';

describe('uniqueDiagnostics', () => {
  it('keeps the first of equal diagnostics, whatever the order of their fields, and sorts by file, line, column, code', () => {
    const a = error('E006', 'bad', { file: 'b.yaml', line: 3, col: 5 });
    const same: Diagnostic = { col: 5, line: 3, file: 'b.yaml', message: 'bad', code: 'E006', severity: 'error' };
    const earlier = error('E003', 'unknown key', { file: 'a.yaml', line: 9, col: 1 });
    expect(uniqueDiagnostics([a, same, earlier, a])).toEqual([earlier, a]);
    expect(uniqueDiagnostics([a, same])[0]).toBe(a);
  });

  it('keeps diagnostics that differ in severity, code, position or message', () => {
    const base = { file: 'p.yaml', line: 1, col: 1 };
    const all = [
      error('E006', 'x', base),
      warning('W101', 'x', base),
      error('E007', 'x', base),
      error('E006', 'x', { ...base, col: 2 }),
      error('E006', 'y', base),
      error('E006', 'x'),
    ];
    expect(uniqueDiagnostics(all)).toHaveLength(all.length);
  });

  it('is idempotent on what the shipped inputs load and lint to', () => {
    const r = loadInputs();
    expect(r.inputs).toBeDefined();
    const lints = lintInputs(r.inputs!);
    expect(uniqueDiagnostics([...lints, ...lints])).toEqual(lints);
    expect(uniqueDiagnostics([...r.diagnostics, ...r.diagnostics])).toEqual(r.diagnostics);
  });
});
