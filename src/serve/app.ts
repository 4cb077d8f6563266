// Everything a route handler reads: the loaded layout, the machines' state, the logger and the options.

import type { Logger } from './log.js';
import type { ServeLayout } from './layout.js';
import type { MachineStore } from './machine-store.js';

export interface ServeApp {
  layout: ServeLayout;
  store: MachineStore;
  log: Logger;
  /** addresses that may fetch any installing node's seed (a NAT in front of the machines) */
  natSources: ReadonlySet<string>;
  /** true once the server is shutting down (/healthz answers 503) */
  closing: boolean;
}
