// Cluster mode: the messages between the server process (the only owner of the state) and its HTTP workers.

import type { Diagnostic } from '../diagnostics.js';
import type { MachineRecord } from './state-file.js';

/** What a worker needs to serve, passed in its environment. */
export interface WorkerConfig {
  dir: string;
  cwd: string;
  host: string;
  port: number;
  natSources: string[];
}

export const WORKER_ENV = 'MKIMAGE_PXE_WORKER';

export type ToPrimary =
  /** the worker listens for messages: send it every record */
  | { op: 'hello' }
  | { op: 'ready' }
  | { op: 'startup-failed'; diagnostics: Diagnostic[] }
  | { op: 'begin'; id: number; mac: string }
  | { op: 'finish'; id: number; mac: string; token: string; outcome: 'installed' | 'failed'; tail: string }
  | { op: 'token'; id: number; token: string }
  | { op: 'closed' };

export type ToWorker =
  /** changed records (or all of them, first): always sent before the reply to the request that changed them */
  | { op: 'records'; records: MachineRecord[] }
  | { op: 'reply'; id: number; record?: MachineRecord; error?: string }
  | { op: 'close' };
