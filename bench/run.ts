// `npm run bench`: every benchmark, each measured against its reference tool in the same run. Figures and ratios
// are printed; benchmarks are never part of the test run.

import { benchRender } from './render.bench.js';
import { benchIso } from './iso.bench.js';
import { benchFetch } from './fetch.bench.js';
import { benchPxeServe } from './pxe-serve.bench.js';

const benches = [benchRender, benchIso, benchFetch, benchPxeServe];
let failed = 0;
for (const b of benches) {
  try {
    const r = await b();
    console.log(`# ${r.name}\n${r.lines.map((l) => `  ${l}`).join('\n')}\n`);
  } catch (e) {
    failed++;
    console.log(`# ${b.name} could not run: ${(e as Error).message}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
