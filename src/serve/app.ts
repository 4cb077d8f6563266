// Everything a route handler reads: the loaded layout, the state store, the logger and the options.

import type { Logger } from './log.js';
import type { ServeLayout } from './layout.js';
import type { StateStore } from './state-store.js';

export interface ServeApp {
  layout: ServeLayout;
  store: StateStore;
  log: Logger;
  /** addresses that may fetch any installing node's seed (a NAT in front of the machines) */
  natSources: ReadonlySet<string>;
  /** true once the server is shutting down (/healthz answers 503) */
  closing: boolean;
}
