// What the apply needs from a router API, whatever its version: log in, show a kind's rows, and the exact call
// that adds or edits one entry (printed in a dry run, sent with --apply).

import type { Kind, RouterRow, Wanted } from './records.js';

export type ApiVersion = '3.x' | '4.x';

export interface RouterCall {
  method: 'POST' | 'PUT';
  /** path under the router's origin: "/Action/call", "/api/v4.0/network/dhcp/static/3" */
  path: string;
  body: Record<string, unknown>;
  /** for messages: "dhcp_static add" */
  what: string;
}

export interface RouterClient {
  readonly api: ApiVersion;
  /** 3.x: POST /Action/login; 4.x: take the API token. E021 when refused. */
  login(): Promise<void>;
  /** every row of a kind (all pages) */
  list(kind: Kind): Promise<RouterRow[]>;
  addCall(w: Wanted): RouterCall;
  /** the whole record of `row` with the wanted fields set, and its id */
  editCall(w: Wanted, row: RouterRow): RouterCall;
  /** make the call; on an expired session log in again once and repeat it */
  send(call: RouterCall): Promise<void>;
}

/** One call as a dry run prints it: `POST /Action/call {"func_name":...}`. */
export function formatCall(c: RouterCall): string {
  return `${c.method} ${c.path} ${JSON.stringify(c.body)}`;
}
