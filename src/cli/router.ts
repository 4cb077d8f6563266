// `mkimage ikuai-gateway --router URL [--apply]`: push the gateway plan to an iKuai router through its API.
// Without --apply a dry run: log in (reading is harmless), show -> diff, print the exact calls; with --apply make
// them. The password comes from IKUAI_PASSWORD or a no-echo prompt, the 4.x token from IKUAI_TOKEN, never a flag.

import { error, hasErrors, type Diagnostic } from '../diagnostics.js';
import { loadAndLint, profileFor, rolePlan } from '../pipeline.js';
import type { ApiVersion, RouterClient } from '../router/api.js';
import { makeCalls, propose, type Proposal } from '../router/apply.js';
import { IkuaiV3Client } from '../router/client3.js';
import { IkuaiV4Client } from '../router/client4.js';
import { RouterError, routerErrorIn } from '../router/errors.js';
import { callsReport, diffReport, summary } from '../router/report.js';
import { askSecret } from '../router/secret-prompt.js';
import { parseFingerprint, routerAgent, type Trust } from '../router/tls.js';
import { routerPlan } from '../router/wanted.js';
import type { Io, Outcome } from './run.js';
import type { RenderFlags } from './commands.js';

export interface RouterFlags extends RenderFlags {
  router?: string;
  apply?: boolean;
  api?: 'auto' | '3' | '4';
  user?: string;
  insecure?: boolean;
  fingerprint?: string;
}

/** The Io of this command: where it reads IKUAI_PASSWORD/IKUAI_TOKEN and how it asks for a password. */
export interface RouterIo extends Io {
  /** default: process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** asks without echo; default: the terminal on stdin, when it is one */
  askSecret?: (question: string) => Promise<string | undefined>;
}

export const PASSWORD_ENV = 'IKUAI_PASSWORD';
export const TOKEN_ENV = 'IKUAI_TOKEN';

const GATEWAY_PROFILE = 'ikuai-gateway';

interface Settings {
  origin: string;
  api: ApiVersion;
  trust: Trust;
  user: string;
}

/** --router, --api, --fingerprint, --insecure -> settings, or the diagnostics saying how to fix them. */
function settingsOf(o: RouterFlags, env: RouterIo['env'] & object): Settings | Diagnostic[] {
  const diags: Diagnostic[] = [];
  if (o.router === undefined) {
    return [error('E005', '--apply needs --router <url> naming the iKuai web UI, e.g. --router https://192.168.66.1 ' +
      '(without --router, `mkimage ikuai-gateway` only writes the settings files to out/ikuai-gateway/)')];
  }
  let url: URL | undefined;
  try {
    url = new URL(o.router);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    diags.push(error('E007', `--router ${o.router} is not an http(s) URL: write it with its scheme, e.g. --router https://${o.router.replace(/^[a-z]+:\/\//i, '')}`));
  } else if (url.username !== '' || url.password !== '') {
    diags.push(error('E007', `--router must not carry a user or password (the URL is visible to every user of this machine): use --user and ${PASSWORD_ENV}`));
  } else if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    diags.push(error('E007', `--router ${o.router} has a path: give only the router's origin, e.g. --router ${url.origin}`));
  }
  let pin: string | undefined;
  if (o.fingerprint !== undefined) {
    pin = parseFingerprint(o.fingerprint);
    if (pin === undefined) diags.push(error('E007', `--fingerprint ${o.fingerprint} is not a SHA-256 fingerprint: write sha256: and 32 hex pairs, e.g. sha256:AB:CD:...:EF (mkimage prints it when it meets the certificate)`));
  }
  if (o.fingerprint !== undefined && o.insecure) {
    diags.push(error('E018', '--fingerprint and --insecure contradict each other: keep --fingerprint (it trusts exactly one certificate)'));
  }
  const api: ApiVersion = o.api === '4' || ((o.api ?? 'auto') === 'auto' && (env[TOKEN_ENV] ?? '') !== '') ? '4.x' : '3.x';
  if (api === '4.x' && (env[TOKEN_ENV] ?? '') === '') {
    diags.push(error('E021', `--api 4 needs an API token in ${TOKEN_ENV}: make one in the iKuai web UI (personal API tokens under the login settings) and export ${TOKEN_ENV}; or use --api 3 with ${PASSWORD_ENV}`));
  }
  if (diags.length > 0 || url === undefined) return diags;
  return { origin: url.origin, api, trust: { ...(pin !== undefined && { pin }), insecure: o.insecure === true }, user: o.user ?? 'admin' };
}

function passwordSource(io: RouterIo, env: NonNullable<RouterIo['env']>, s: Settings): () => Promise<string> {
  return async () => {
    const fromEnv = env[PASSWORD_ENV];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const question = `iKuai password for ${s.user} at ${s.origin}: `;
    const ask = io.askSecret ?? (process.stdin.isTTY ? (q: string) => askSecret(q, process.stdin, process.stderr) : undefined);
    const typed = ask === undefined ? undefined : await ask(question);
    if (typed === undefined || typed === '') {
      throw new RouterError('E021', `no router password: export ${PASSWORD_ENV} (never a flag: a command line is visible to every user of this machine), ` +
        'or run on a terminal to be asked for it');
    }
    return typed;
  };
}

function clientFor(io: RouterIo, env: NonNullable<RouterIo['env']>, s: Settings, agent: ReturnType<typeof routerAgent>): RouterClient {
  if (s.api === '4.x') return new IkuaiV4Client({ origin: s.origin, agent, token: async () => env[TOKEN_ENV] ?? '' });
  return new IkuaiV3Client({ origin: s.origin, agent, user: s.user, password: passwordSource(io, env, s) });
}

function resultOf(s: Settings, p: Proposal | undefined, applied: boolean, made: number): Record<string, unknown> {
  return {
    router: s.origin,
    api: s.api,
    applied,
    made,
    changes: (p?.changes ?? []).map((c) => ({ kind: c.wanted.kind, op: c.op, key: c.wanted.key, label: c.wanted.label, ...(c.row && { id: c.row.id }), changed: c.changed })),
    calls: (p?.calls ?? []).map(({ call }) => ({ method: call.method, path: call.path, body: call.body })),
  };
}

export async function ikuaiApply(io: RouterIo, o: RouterFlags): Promise<Outcome> {
  const env = io.env ?? process.env;
  const settings = settingsOf(o, env);
  if (Array.isArray(settings)) return { diagnostics: settings };

  const loaded = loadAndLint({ profilesDir: o.profiles, clusterFile: o.cluster, strict: o.strict, cwd: io.cwd });
  const diags = [...loaded.diagnostics];
  if (!loaded.inputs) return { diagnostics: diags, sources: loaded.sources };
  const profile = profileFor(loaded.inputs, GATEWAY_PROFILE, diags);
  const plan = profile && rolePlan(loaded.inputs, profile, diags);
  if (plan === undefined || plan.gateway === undefined || hasErrors(diags)) return { diagnostics: diags, sources: loaded.sources };
  const rp = routerPlan(plan);

  const say = (s: string) => {
    if (!o.json) io.out(s);
  };
  if (settings.origin.startsWith('http:') && !o.json) {
    io.err(`warning: ${settings.origin} is plain http: the ${settings.api === '4.x' ? 'API token' : 'password (the login carries it base64-encoded)'} ` +
      'crosses the LAN in clear, readable by anyone on it; prefer https:// with --fingerprint\n');
  }
  const agent = routerAgent(settings.trust);
  const client = clientFor(io, env, settings, agent);
  let proposal: Proposal | undefined;
  let made = 0;
  try {
    await client.login();
    say(`iKuai ${settings.api} API at ${settings.origin}${settings.api === '3.x' ? ` as ${settings.user}` : ''}; plan: profile ${plan.profile} of cluster ${plan.cluster.name}\n`);
    proposal = await propose(client, rp);
    say(diffReport(proposal, rp));
    if (proposal.conflicts.length > 0) {
      say('nothing was changed: resolve the conflict(s) below first\n');
      return { diagnostics: [...diags, ...proposal.conflicts], result: resultOf(settings, proposal, false, 0) };
    }
    say(callsReport(proposal, o.apply === true));
    if (o.apply) made = await makeCalls(client, proposal);
    say(summary(proposal, o.apply === true));
    return { diagnostics: diags, result: resultOf(settings, proposal, o.apply === true, made) };
  } catch (e) {
    const r = routerErrorIn(e);
    if (r === undefined) throw e;
    return { diagnostics: [...diags, error(r.code, r.message)], result: resultOf(settings, proposal, false, made) };
  } finally {
    await agent.close();
  }
}
