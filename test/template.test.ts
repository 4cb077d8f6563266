// The template engine's promises, each checked so that breaking it fails a test: a missing view key is an
// error (never an empty string), nothing is HTML-escaped, and the shipped templates refuse a view with a key left out.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Mustache from 'mustache';
import { PACKAGE_ROOT, renderString, renderTemplate, TemplateError } from '../src/template.js';

describe('renderString', () => {
  it.each([
    ['a top-level name', 'ExecStart={{bin}}\n', {}, '{{bin}}'],
    ['a dotted name', 'x={{a.b}}\n', { a: {} }, '{{a.b}}'],
    ['a name inside a section item', '{{#ports}}{{port}}/{{proto}}\n{{/ports}}', { ports: [{ port: 1 }] }, '{{proto}}'],
    ['an inverted section', '{{^enabled}}off{{/enabled}}', {}, '{{enabled}}'],
    ['an unescaped name', 'x={{&raw}}', {}, '{{raw}}'],
  ])('%s missing from the view is a TemplateError naming it', (_, template, view, name) => {
    expect(() => renderString(template, view, 't.mustache')).toThrow(TemplateError);
    expect(() => renderString(template, view, 't.mustache')).toThrow(`template t.mustache: no value for ${name}`);
  });

  it('plain Mustache would have printed an empty string for the same view (what the check prevents)', () => {
    expect(Mustache.render('ExecStart={{bin}}\n', {})).toBe('ExecStart=\n');
  });

  it('escapes nothing: shell, HCL and unit syntax come out as written', () => {
    const v = { cmd: `a && b > "/tmp/x" <'y'> \`z\` &amp;` };
    expect(renderString('{{cmd}}', v)).toBe(v.cmd);
  });

  it('an empty list renders its section zero times and needs none of its items\' fields', () => {
    expect(renderString('[{{#items}}{{name}},{{/items}}]', { items: [] })).toBe('[]');
    expect(renderString('[{{#items}}{{name}},{{/items}}]', { items: [{ name: 'a' }, { name: 'b' }] })).toBe('[a,b,]');
  });

  it('false and 0 are values (present keys), not missing ones', () => {
    expect(renderString('{{#on}}yes{{/on}}{{^on}}no{{/on}} {{n}}', { on: false, n: 0 })).toBe('no 0');
  });
});

describe('the shipped templates are strict too', () => {
  it('templates/systemd/cri-docker.service.mustache refuses a view missing any one of its keys', () => {
    const text = readFileSync(join(PACKAGE_ROOT, 'templates/systemd/cri-docker.service.mustache'), 'utf8');
    const names = [...new Set([...text.matchAll(/\{\{[#^&]?\s*([A-Za-z_][\w.]*)\s*\}\}/g)].map((m) => m[1] as string))];
    expect(names.length).toBeGreaterThan(0);
    const full = Object.fromEntries(names.map((n) => [n, 'x']));
    expect(() => renderTemplate('systemd/cri-docker.service.mustache', full)).not.toThrow();
    for (const n of names) {
      const { [n]: _, ...less } = full;
      expect(() => renderTemplate('systemd/cri-docker.service.mustache', less), n).toThrow(`no value for {{${n}}}`);
    }
  });
});
