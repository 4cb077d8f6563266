// The first-boot script runs for real under bash. kubeadm, kubectl, curl and sleep are FAKES on PATH (no
// kubeadm binary or API server can exist here): each records its argv and fails on demand, and the kubeadm fake
// creates and removes the files the real one does (admin.conf, kubelet.conf, manifests, and pki on reset).

import { describe, it, expect } from 'vitest';
import { mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync, chmodSync, statSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { firstbootScript, firstbootBakeItems, FIRSTBOOT_SCRIPT } from '../src/firstboot/files.js';
import { kubeVipManifest } from '../src/cluster/kube-vip.js';
import type { NodePlan } from '../src/plan/types.js';
import { fixturePlan } from './fixtures/plan.js';
import { run, tool } from './helpers/tools.js';
import { verifyUnits } from './helpers/systemd-root.js';
import { FIXTURE_SECRETS, privateSecretsCopy } from './helpers/secrets.js';
import { loadInputs } from '../src/profile/load.js';
import { nodePlans } from '../src/pipeline.js';
import { loadSecrets } from '../src/cluster/secrets.js';
import type { Diagnostic } from '../src/diagnostics.js';
import { PACKAGE_ROOT } from '../src/template.js';
import { mkimage } from './helpers/cli.js';
import { scratchDirs } from './helpers/tmp.js';

const tmp = scratchDirs('mkimage-');

const FAKE_KUBEADM = `#!/bin/bash
# FAKE kubeadm: records calls; mimics the files real kubeadm writes and removes.
echo "kubeadm $*" >> "$CALLS"
K="$MKIMAGE_ROOT/etc/kubernetes"
case "$1" in
  init)
    mkdir -p "$K/manifests"; touch "$K/manifests/kube-apiserver.yaml"
    [ "\${FAKE_FAIL:-}" = init ] && { echo "[preflight] fake failure: port 6443 is in use" >&2; exit 1; }
    [ -f "$K/pki/ca.key" ] || { echo "fake kubeadm: expected the seeded CA at $K/pki/ca.key" >&2; exit 3; }
    # the InitConfiguration's bootstrapTokens become the tokens the cluster knows
    [ -n "\${FAKE_REGISTERED:-}" ] && sed -n 's/^ *- token: *//p' "$3" >> "$FAKE_REGISTERED"
    echo "apiVersion: v1" > "$K/admin.conf"; touch "$K/kubelet.conf" ;;
  token)
    # kubeadm token create ID.SECRET --ttl D --description TEXT: registers the token
    [ "$2" = create ] && printf '%s\\n' "$3" >> "$FAKE_REGISTERED" ;;
  join)
    # preflight, as the real one: files a join writes must not exist yet (a worker has no seeded CA either)
    for f in kubelet.conf bootstrap-kubelet.conf; do
      [ -e "$K/$f" ] && { echo "[preflight] FileAvailable--etc-kubernetes-$f: /etc/kubernetes/$f already exists" >&2; exit 1; }
    done
    if ! grep -q '^BOOTSTRAP=join-control-plane' "$K/mkimage/bootstrap.env" && [ -e "$K/pki/ca.crt" ]; then
      echo "[preflight] FileAvailable--etc-kubernetes-pki-ca.crt: /etc/kubernetes/pki/ca.crt already exists" >&2; exit 1
    fi
    [ "\${FAKE_FAIL:-}" = join ] && { echo "error execution phase preflight: couldn't validate the identity of the API Server: connection refused" >&2; exit 1; }
    # discovery, as the real one words it (cmd/kubeadm/app/discovery/token/token.go): the join token must be one the
    # cluster registered (FAKE_REGISTERED: one id.secret a line, from init's bootstrapTokens and \`kubeadm token create\`)
    if [ -n "\${FAKE_REGISTERED:-}" ]; then
      tok=$(sed -n 's/^ *token: *//p' "$3" | head -n 1); id=\${tok%%.*}
      if ! grep -q "^$id\\." "$FAKE_REGISTERED" 2>/dev/null; then
        echo "error execution phase preflight: couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID \\"$id\\"" >&2
        echo "To see the stack trace of this error execute with --v=5 or higher" >&2; exit 1
      fi
      grep -qx "$tok" "$FAKE_REGISTERED" || { echo "error execution phase preflight: couldn't validate the identity of the API Server: failed to verify JWS signature of received cluster info object, can't trust this API Server" >&2; exit 1; }
    fi
    # TLS bootstrap: discovery wrote the CA and the bootstrap kubeconfig, then the kubelet never got its cert
    mkdir -p "$K/pki"; touch "$K/pki/ca.crt" "$K/bootstrap-kubelet.conf"
    [ "\${FAKE_FAIL:-}" = tls ] && { echo "error execution phase kubelet-start: timed out waiting for the condition" >&2; exit 1; }
    rm -f "$K/bootstrap-kubelet.conf"; touch "$K/kubelet.conf" ;;
  reset)
    rm -rf "$K/manifests" "$K/pki" "$K/admin.conf" "$K/kubelet.conf" "$K/bootstrap-kubelet.conf" ;;
esac
`;
const FAKE_KUBECTL = `#!/bin/bash
# FAKE kubectl: records calls (and the KUBECONFIG it was given).
echo "kubectl $* KUBECONFIG=$KUBECONFIG" >> "$CALLS"
`;
const FAKE_CURL = `#!/bin/bash
# FAKE curl for the readiness probe: fails FAKE_API_DOWN times, then succeeds.
echo "curl $*" >> "$CALLS"
n=$(cat "$STATE_DIR/curl-count" 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > "$STATE_DIR/curl-count"
[ "$n" -le "\${FAKE_API_DOWN:-0}" ] && exit 7
exit 0
`;
const FAKE_SLEEP = `#!/bin/bash
echo "sleep $*" >> "$CALLS"
`;

const CALICO = `          containers:
            - name: calico-node
              env:
                # - name: CALICO_IPV4POOL_CIDR
                #   value: "192.168.0.0/16"
`;

interface Node {
  root: string;
  calls: string;
  bin: string;
  state: string;
}

function makeNode(bootstrap: string, extraEnv = ''): Node {
  const root = tmp('firstboot');
  const bin = join(root, 'fakebin');
  const state = join(root, 'fakestate');
  mkdirSync(bin);
  mkdirSync(state);
  for (const [name, body] of Object.entries({ kubeadm: FAKE_KUBEADM, kubectl: FAKE_KUBECTL, curl: FAKE_CURL, sleep: FAKE_SLEEP })) {
    writeFileSync(join(bin, name), body);
    chmodSync(join(bin, name), 0o755);
  }
  mkdirSync(join(root, 'etc/kubernetes/mkimage'), { recursive: true });
  writeFileSync(
    join(root, 'etc/kubernetes/mkimage/bootstrap.env'),
    `BOOTSTRAP=${bootstrap}\nAPI_ENDPOINT=192.168.66.11:6443\nNODE_NAME=node-a\nPOD_SUBNET=10.244.0.0/16\n${extraEnv}`,
  );
  writeFileSync(join(root, 'etc/kubernetes/mkimage/kubeadm.yaml'), 'kind: InitConfiguration\n');
  if (bootstrap !== 'join') {
    mkdirSync(join(root, 'etc/kubernetes/pki'), { recursive: true });
    writeFileSync(join(root, 'etc/kubernetes/pki/ca.crt'), 'CERT');
    writeFileSync(join(root, 'etc/kubernetes/pki/ca.key'), 'KEY');
  }
  mkdirSync(join(root, 'usr/share/mkimage'), { recursive: true });
  writeFileSync(join(root, 'usr/share/mkimage/calico.yaml'), CALICO);
  writeFileSync(join(root, 'firstboot.sh'), firstbootScript());
  return { root, calls: join(root, 'calls.log'), bin, state };
}

function boot(n: Node, env: Record<string, string> = {}) {
  const r = spawnSync(tool('bash'), [join(n.root, 'firstboot.sh')], {
    encoding: 'utf8',
    env: {
      PATH: `${n.bin}:/usr/bin:/bin`,
      MKIMAGE_ROOT: n.root,
      CALLS: n.calls,
      STATE_DIR: n.state,
      ...env,
    },
  });
  const calls = existsSync(n.calls) ? readFileSync(n.calls, 'utf8').trim().split('\n') : [];
  return { status: r.status, out: r.stdout + r.stderr, calls };
}

const done = (n: Node) => join(n.root, 'var/lib/mkimage/firstboot.done');
const failed = (n: Node) => join(n.root, 'var/lib/mkimage/firstboot.failed');

/** The kube-vip manifest mkimage seeds on a control plane of a kube-vip cluster (init: super-admin.conf). */
function kubeVipSeed(bootstrap: 'init' | 'join-control-plane'): string {
  const plan: NodePlan = fixturePlan(true);
  plan.cluster.controlPlaneHA = 'kube-vip';
  plan.cluster.controlPlaneEndpoint = '192.168.66.10:6443';
  return kubeVipManifest(plan, { ...plan.node!, bootstrap });
}

function seedKubeVip(n: Node, bootstrap: 'init' | 'join-control-plane'): string {
  const path = join(n.root, 'etc/kubernetes/manifests/kube-vip.yaml');
  mkdirSync(join(n.root, 'etc/kubernetes/manifests'), { recursive: true });
  writeFileSync(path, kubeVipSeed(bootstrap), { mode: 0o600 });
  return path;
}

describe('first-boot script', () => {
  it('is shellcheck-clean', () => {
    const dir = tmp('sc');
    writeFileSync(join(dir, 'firstboot.sh'), firstbootScript());
    const r = run('shellcheck', ['-f', 'gcc', join(dir, 'firstboot.sh')]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('does not hold multi-user.target: Type=exec (a oneshot WantedBy=multi-user.target holds it), active after success', () => {
    const unit = firstbootBakeItems().units[0]!.content!;
    expect(unit).toMatch(/^Type=exec$/m);
    expect(unit).not.toMatch(/^Type=oneshot$/m);
    expect(unit).toMatch(/^RemainAfterExit=yes$/m);
    expect(unit).toMatch(/^WantedBy=multi-user.target$/m);
  });

  it('has a unit that passes systemd-analyze verify with no warnings', () => {
    const { units } = firstbootBakeItems();
    const r = verifyUnits(units.map((u) => ({ path: u.path!, content: u.content! })));
    expect(r.warnings).toEqual([]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('is baked as an executable with an enabled unit, and carries no secrets', () => {
    const { files, units } = firstbootBakeItems();
    expect(files[0]).toMatchObject({ path: FIRSTBOOT_SCRIPT, mode: '0755', phase: 'bake' });
    expect(units[0]).toMatchObject({ name: 'mkimage-firstboot.service', enable: true, phase: 'bake' });
    expect(units[0]?.content).toContain(`ExecStart=${FIRSTBOOT_SCRIPT}`);
    expect(units[0]?.content).toContain('ConditionPathExists=!/var/lib/mkimage/firstboot.done');
    expect(files[0]?.content).not.toMatch(/PRIVATE KEY|[a-z0-9]{6}\.[a-z0-9]{16}/);
  });

  it('init: runs kubeadm init, writes the admin kubeconfig, applies Calico with the pod subnet, marks success', () => {
    const n = makeNode('init');
    const r = boot(n);
    expect(r.status, r.out).toBe(0);
    expect(r.calls[0]).toBe(`kubeadm init --config ${n.root}/etc/kubernetes/mkimage/kubeadm.yaml --skip-token-print`);
    expect(r.calls).toContain(`kubectl apply -f ${n.root}/var/lib/mkimage/calico.yaml KUBECONFIG=${n.root}/etc/kubernetes/admin.conf`);
    const calico = readFileSync(join(n.root, 'var/lib/mkimage/calico.yaml'), 'utf8');
    expect(calico).toContain('                - name: CALICO_IPV4POOL_CIDR\n                  value: "10.244.0.0/16"\n');
    expect(readFileSync(join(n.root, 'root/.kube/config'), 'utf8')).toBe('apiVersion: v1\n');
    expect(statSync(join(n.root, 'root/.kube/config')).mode & 0o777).toBe(0o600);
    expect(existsSync(done(n))).toBe(true);
    expect(existsSync(failed(n))).toBe(false);
    expect(r.calls.some((c) => c.startsWith('kubectl taint'))).toBe(false);
    expect(readFileSync(join(n.root, 'var/log/mkimage-firstboot.log'), 'utf8')).toContain('node node-a: init via 192.168.66.11:6443');
  });

  it('init on a one-node cluster removes the control-plane taint', () => {
    const n = makeNode('init', 'SINGLE_NODE=1\n');
    const r = boot(n);
    expect(r.status, r.out).toBe(0);
    expect(r.calls).toContain(
      `kubectl taint nodes node-a node-role.kubernetes.io/control-plane:NoSchedule- KUBECONFIG=${n.root}/etc/kubernetes/admin.conf`,
    );
  });

  it('join: waits for an API server that is down at first, with backoff, then joins', () => {
    const n = makeNode('join');
    const r = boot(n, { FAKE_API_DOWN: '3' });
    expect(r.status, r.out).toBe(0);
    expect(r.calls.filter((c) => c.startsWith('curl')).length).toBe(4);
    expect(r.calls.filter((c) => c.startsWith('sleep'))).toEqual(['sleep 2', 'sleep 4', 'sleep 8']);
    expect(r.calls.at(-1)).toBe(`kubeadm join --config ${n.root}/etc/kubernetes/mkimage/kubeadm.yaml`);
    expect(r.calls.findIndex((c) => c.startsWith('kubeadm join'))).toBeGreaterThan(r.calls.findIndex((c) => c.startsWith('curl')));
    expect(existsSync(done(n))).toBe(true);
  });

  it('join: gives up after the bound and leaves a failure marker naming the step', () => {
    const n = makeNode('join');
    const r = boot(n, { FAKE_API_DOWN: '1000', WAIT_SECONDS: '0' });
    expect(r.status).not.toBe(0);
    expect(r.calls.some((c) => c.startsWith('kubeadm join'))).toBe(false);
    const marker = readFileSync(failed(n), 'utf8');
    expect(marker).toMatch(/^reason: wait for the API server failed \(exit 1\)\nphase: first boot\ncommand: wait_for_api \(returned 1\)\n/);
    expect(existsSync(done(n))).toBe(false);
  });

  it('join that fails leaves a failure marker with the reason and the last log lines', () => {
    const n = makeNode('join');
    const r = boot(n, { FAKE_FAIL: 'join' });
    expect(r.status).toBe(1);
    const marker = readFileSync(failed(n), 'utf8');
    expect(marker).toMatch(/^reason: kubeadm join failed \(exit 1\)\nphase: first boot\ncommand: kubeadm join --config "\$CONFIG"\nnode: node-a\n/);
    // the script's own message names the failed step and its command
    expect(r.out).toContain('mkimage-firstboot: FAILED at step "kubeadm join": kubeadm join --config "$CONFIG" (exit 1)');
    expect(marker).toContain("couldn't validate the identity of the API Server");
    expect(statSync(failed(n)).mode & 0o777).toBe(0o600);
    expect(existsSync(done(n))).toBe(false);
  });

  it('a rerun after success is a no-op', () => {
    const n = makeNode('init');
    expect(boot(n).status).toBe(0);
    const before = readFileSync(n.calls, 'utf8');
    const r = boot(n);
    expect(r.status).toBe(0);
    expect(r.out).toContain('already done');
    expect(readFileSync(n.calls, 'utf8')).toBe(before);
  });

  it('a rerun after a half-done init resets, restores the seeded PKI, then inits; a clean retry does not reset', () => {
    const n = makeNode('init');
    const first = boot(n, { FAKE_FAIL: 'init' }); // power loss / failure mid-init: manifests exist, no marker
    expect(first.status).toBe(1);
    expect(readFileSync(failed(n), 'utf8')).toContain('reason: kubeadm init failed');
    const r = boot(n);
    expect(r.status, r.out).toBe(0);
    const after = r.calls.slice(first.calls.length);
    expect(after[0]).toBe('kubeadm reset --force --cri-socket unix:///var/run/cri-dockerd.sock');
    expect(after[1]).toMatch(/^kubeadm init /); // the fake init fails unless the seeded CA is back
    expect(readFileSync(join(n.root, 'etc/kubernetes/pki/ca.key'), 'utf8')).toBe('KEY');
    expect(existsSync(failed(n))).toBe(false);
    expect(existsSync(done(n))).toBe(true);

    const clean = makeNode('init');
    expect(boot(clean).calls.some((c) => c.includes('reset'))).toBe(false);
  });

  it('a worker whose join failed in TLS bootstrap resets (bootstrap-kubelet.conf, unseeded pki/ca.crt) and joins on the next boot', () => {
    const n = makeNode('join');
    const first = boot(n, { FAKE_FAIL: 'tls' });
    expect(first.status).toBe(1);
    expect(readFileSync(failed(n), 'utf8')).toContain('timed out waiting for the condition');
    expect(existsSync(join(n.root, 'etc/kubernetes/bootstrap-kubelet.conf'))).toBe(true);
    const r = boot(n);
    expect(r.status, r.out).toBe(0);
    const after = r.calls.slice(first.calls.length).filter((c) => c.startsWith('kubeadm'));
    expect(after).toEqual(['kubeadm reset --force --cri-socket unix:///var/run/cri-dockerd.sock', `kubeadm join --config ${n.root}/etc/kubernetes/mkimage/kubeadm.yaml`]);
    expect(existsSync(done(n))).toBe(true);
    expect(existsSync(failed(n))).toBe(false);
    // kubeadm's own ca.crt was never mistaken for a seeded one
    expect(existsSync(join(n.root, 'var/lib/mkimage/pki-seed'))).toBe(false);
  });

  it('a joining control plane: the seeded pki/ca.crt is no partial state, and is restored after a reset', () => {
    const n = makeNode('join-control-plane');
    expect(boot(n, { FAKE_FAIL: 'join' }).status).toBe(1);
    const clean = boot(n);
    expect(clean.status, clean.out).toBe(0);
    expect(clean.calls.some((c) => c.includes('reset'))).toBe(false);

    const m = makeNode('join-control-plane');
    expect(boot(m, { FAKE_FAIL: 'tls' }).status).toBe(1);
    const r = boot(m);
    expect(r.status, r.out).toBe(0);
    expect(r.calls).toContain('kubeadm reset --force --cri-socket unix:///var/run/cri-dockerd.sock');
    expect(readFileSync(join(m.root, 'etc/kubernetes/pki/ca.key'), 'utf8')).toBe('KEY');
  });

  it('a node with no seed fails with a marker that says to attach the seed', () => {
    const n = makeNode('join');
    spawnSync('rm', ['-f', join(n.root, 'etc/kubernetes/mkimage/bootstrap.env')]);
    const r = boot(n);
    expect(r.status).toBe(1);
    expect(r.out).toContain('attach this node');
    expect(readFileSync(failed(n), 'utf8')).toMatch(/^reason: read .*bootstrap.env failed/);
  });

  it('kube-vip init: a seeded kube-vip manifest is no partial state; after init it switches to admin.conf', () => {
    const n = makeNode('init');
    const manifest = seedKubeVip(n, 'init');
    expect(readFileSync(manifest, 'utf8')).toContain('path: /etc/kubernetes/super-admin.conf\n');
    const r = boot(n);
    expect(r.status, r.out).toBe(0);
    expect(r.calls.some((c) => c.includes('reset'))).toBe(false);
    expect(r.calls[0]).toMatch(/^kubeadm init /);
    // now exactly what a joining control plane is seeded with: the same pod on admin.conf
    expect(readFileSync(manifest, 'utf8')).toBe(kubeVipSeed('join-control-plane'));
    expect(statSync(manifest).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(n.root, 'etc/kubernetes/manifests')).sort()).toEqual(['kube-apiserver.yaml', 'kube-vip.yaml']);
    expect(readFileSync(join(n.root, 'var/log/mkimage-firstboot.log'), 'utf8')).toContain('kube-vip now uses /etc/kubernetes/admin.conf');
    expect(existsSync(join(n.root, 'var/lib/mkimage/kube-vip-seed.yaml'))).toBe(false);
    expect(existsSync(done(n))).toBe(true);
  });

  it('kube-vip join-control-plane: joins without a reset and leaves its admin.conf manifest alone', () => {
    const n = makeNode('join-control-plane');
    const manifest = seedKubeVip(n, 'join-control-plane');
    const r = boot(n);
    expect(r.status, r.out).toBe(0);
    expect(r.calls.some((c) => c.includes('reset'))).toBe(false);
    expect(r.calls.at(-1)).toBe(`kubeadm join --config ${n.root}/etc/kubernetes/mkimage/kubeadm.yaml`);
    expect(readFileSync(manifest, 'utf8')).toBe(kubeVipSeed('join-control-plane'));
  });

  it('kube-vip: a rerun after a half-done init restores the seeded manifest that kubeadm reset removed', () => {
    const n = makeNode('init');
    const manifest = seedKubeVip(n, 'init');
    expect(boot(n, { FAKE_FAIL: 'init' }).status).toBe(1);
    const r = boot(n);
    expect(r.status, r.out).toBe(0);
    expect(r.calls).toContain('kubeadm reset --force --cri-socket unix:///var/run/cri-dockerd.sock');
    expect(readFileSync(manifest, 'utf8')).toBe(kubeVipSeed('join-control-plane'));
  });
});

describe('the failure marker for other phases (firstboot.sh --run-phase / --mark-failed)', () => {
  function phaseRun(n: Node, args: string[]) {
    const r = spawnSync(tool('bash'), [join(n.root, 'firstboot.sh'), ...args], {
      encoding: 'utf8',
      env: { PATH: `${n.bin}:/usr/bin:/bin`, MKIMAGE_ROOT: n.root, CALLS: n.calls, STATE_DIR: n.state },
    });
    return { status: r.status, out: r.stdout + r.stderr };
  }
  const installLog = (n: Node) => join(n.root, 'var/log/mkimage-install.log');
  function failingInstall(n: Node): string {
    const script = join(n.root, 'install.sh');
    writeFileSync(script, [
      'set -e',
      "printf 'mkimage[bake]: %s\\n' 'repositories'",
      "printf 'mkimage[bake]: %s\\n' 'packages'",
      "echo 'E: Unable to locate package kubelet' >&2",
      'exit 100',
      '',
    ].join('\n'));
    return script;
  }

  it('a failing install: the command\'s exit code, and a marker naming the phase, the step, the command and its output', () => {
    const n = makeNode('join');
    const script = failingInstall(n);
    const r = phaseRun(n, ['--run-phase', 'install', installLog(n), '--', 'bash', script]);
    expect(r.status).toBe(100);
    expect(r.out).toContain('E: Unable to locate package kubelet');
    const marker = readFileSync(failed(n), 'utf8');
    expect(marker).toMatch(new RegExp(`^reason: packages failed \\(exit 100\\)\\nphase: install\\ncommand: bash ${script.replace(/[.]/g, '\\.')}\\nnode: node-a\\n`));
    expect(marker).toContain(`--- last log lines (${installLog(n)}) ---\n`);
    expect(marker).toContain('E: Unable to locate package kubelet');
    expect(statSync(failed(n)).mode & 0o777).toBe(0o600);
    expect(readFileSync(installLog(n), 'utf8')).toContain('mkimage[bake]: packages');
  });

  it('takes the step from a phase script\'s FAILED line; a later success clears only its own phase\'s marker', () => {
    const n = makeNode('join');
    const script = join(n.root, 'bake.sh');
    writeFileSync(script, "printf 'mkimage[bake]: FAILED step \"%s\": %s (exit %s)\\n' 'kubernetes repository key' 'curl -fsSL https://x/Release.key' 6 >&2\nexit 6\n");
    expect(phaseRun(n, ['--run-phase', 'install', installLog(n), '--', 'bash', script]).status).toBe(6);
    expect(readFileSync(failed(n), 'utf8')).toMatch(/^reason: kubernetes repository key failed \(exit 6\)\nphase: install\n/);
    expect(phaseRun(n, ['--run-phase', 'other', installLog(n), '--', 'true']).status).toBe(0);
    expect(existsSync(failed(n))).toBe(true);
    expect(phaseRun(n, ['--run-phase', 'install', installLog(n), '--', 'true']).status).toBe(0);
    expect(existsSync(failed(n))).toBe(false);
  });

  it('--mark-failed writes the same format', () => {
    const n = makeNode('join');
    mkdirSync(join(n.root, 'var/log'), { recursive: true });
    writeFileSync(installLog(n), 'line one\nline two\n');
    const r = phaseRun(n, ['--mark-failed', 'install', 'download cri-dockerd', '22', installLog(n), 'curl', '-fsSL', 'https://example.test/a b']);
    expect(r.status).toBe(0);
    expect(readFileSync(failed(n), 'utf8')).toBe(
      `reason: download cri-dockerd failed (exit 22)\nphase: install\ncommand: curl -fsSL https://example.test/a\\ b\nnode: node-a\n--- last log lines (${installLog(n)}) ---\nline one\nline two\n`,
    );
  });

  it('a bad invocation is a usage error (exit 2)', () => {
    const n = makeNode('join');
    expect(phaseRun(n, ['--run-phase', 'install']).status).toBe(2);
    expect(phaseRun(n, ['--bogus']).status).toBe(2);
  });
});

/** A node root holding exactly the boot-phase files of `nodeName`'s real plan (shipped profiles, fixture secrets). */
async function seededNode(
  role: 'control-plane' | 'worker',
  nodeName: string,
  o: { clusterFile?: string; secretsDir?: string } = {},
): Promise<Node & { plan: NodePlan }> {
  const loaded = loadInputs(o.clusterFile !== undefined ? { clusterFile: o.clusterFile } : {});
  const inputs = loaded.inputs!;
  const secretsDir = o.secretsDir ?? (await privateSecretsCopy(FIXTURE_SECRETS, join(tmp('fb-secrets'), 's')));
  const diags: Diagnostic[] = [];
  const [plan] = nodePlans(inputs, inputs.profiles.get(role)!, await loadSecrets(secretsDir), diags, nodeName);
  expect(diags.filter((d) => d.severity === 'error')).toEqual([]);
  const n = makeNode('init');
  // replace the hand-written seed with the real one
  rmSync(join(n.root, 'etc/kubernetes'), { recursive: true, force: true });
  for (const f of plan!.files.filter((x) => x.phase === 'boot')) {
    mkdirSync(dirname(join(n.root, f.path)), { recursive: true });
    writeFileSync(join(n.root, f.path), f.content, { mode: parseInt(f.mode, 8) });
  }
  return { ...n, plan: plan! };
}

describe('first-boot script fed the seed files the pipeline emits (bootstrap.env, kubeadm.yaml, PKI), not hand-written ones', () => {
  it('init with the real cp1 seed: kubeadm init on the emitted config, Calico with the cluster pod subnet, the CA-key copy removed after success', async () => {
    const n = await seededNode('control-plane', 'cp1');
    const env = readFileSync(join(n.root, 'etc/kubernetes/mkimage/bootstrap.env'), 'utf8');
    expect(env).toMatch(/^BOOTSTRAP=init$/m);
    const r = boot(n);
    expect(r.status, r.out).toBe(0);
    expect(r.calls[0]).toMatch(new RegExp(`^kubeadm init --config ${n.root}/\\S+kubeadm\\.yaml --skip-token-print$`));
    const calico = readFileSync(join(n.root, 'var/lib/mkimage/calico.yaml'), 'utf8');
    expect(calico).toContain(`value: "${n.plan.cluster.podSubnet}"`);
    expect(n.plan.cluster.podSubnet).toBe('10.244.0.0/16');
    // the seeded CA key was copied aside for a reset; after success no second copy of it stays on disk
    expect(existsSync(join(n.root, 'var/lib/mkimage/pki-seed'))).toBe(false);
    expect(existsSync(done(n))).toBe(true);
  });

  it('refuses to apply Calico when the manifest does not take the pod subnet (a changed upstream shape would give 192.168.0.0/16)', async () => {
    const n = await seededNode('control-plane', 'cp1');
    writeFileSync(join(n.root, 'usr/share/mkimage/calico.yaml'), '          env:\n            - name: CALICO_IPV4POOL_IPIP\n              value: "Always"\n');
    const r = boot(n);
    expect(r.status).not.toBe(0);
    expect(r.calls.some((c) => c.startsWith('kubectl apply'))).toBe(false);
    expect(readFileSync(failed(n), 'utf8')).toMatch(/^reason: apply Calico failed/);
    expect(existsSync(done(n))).toBe(false);
  });

  it('join with the real worker1 seed: the wait backs off 2, 4, 8, 16 and then at most 30 s', async () => {
    const n = await seededNode('worker', 'worker1');
    expect(readFileSync(join(n.root, 'etc/kubernetes/mkimage/bootstrap.env'), 'utf8')).toMatch(/^BOOTSTRAP=join$/m);
    expect(existsSync(join(n.root, 'etc/kubernetes/pki/ca.key')), 'a worker seed holds no CA key').toBe(false);
    const r = boot(n, { FAKE_API_DOWN: '7' });
    expect(r.status, r.out).toBe(0);
    expect(r.calls.filter((c) => c.startsWith('sleep'))).toEqual(['sleep 2', 'sleep 4', 'sleep 8', 'sleep 16', 'sleep 30', 'sleep 30', 'sleep 30']);
    expect(r.calls.at(-1)).toMatch(new RegExp(`^kubeadm join --config ${n.root}/\\S+kubeadm\\.yaml$`));
    expect(existsSync(done(n))).toBe(true);
  });
});

describe('per-node join tokens through the first boot (the fake kubeadm knows only the tokens the cluster registered)', () => {
  const WORKER3 = '  - name: worker3\n    role: worker\n    mac: "52:54:00:66:00:23"\n    ip: 192.168.66.23/24\n    gateway: 192.168.66.1\n\n';

  /** A secrets dir, the registry of tokens the (fake) cluster knows, and cp1 booted from its real seed. */
  async function initialisedCluster() {
    const dir = tmp('fb-tokens');
    const secretsDir = await privateSecretsCopy(FIXTURE_SECRETS, join(dir, 's'));
    const registered = join(dir, 'registered-tokens');
    const cp1 = await seededNode('control-plane', 'cp1', { secretsDir });
    const r = boot(cp1, { FAKE_REGISTERED: registered });
    expect(r.status, r.out).toBe(0);
    return { dir, secretsDir, registered, cp1 };
  }

  it("the real worker seeds join with their own tokens, which the real cp1 seed's kubeadm init registered", async () => {
    const c = await initialisedCluster();
    const known = readFileSync(c.registered, 'utf8').trim().split('\n');
    expect(known).toHaveLength(3); // the cluster token and one per worker
    for (const name of ['worker1', 'worker2']) {
      const w = await seededNode('worker', name, { secretsDir: c.secretsDir });
      const r = boot(w, { FAKE_REGISTERED: c.registered });
      expect(r.status, r.out).toBe(0);
      expect(r.out).not.toContain('join token');
      expect(existsSync(done(w))).toBe(true);
    }
  });

  it('a node added after kubeadm init: kubeadm refuses its token, the script names the fix, and following it makes the join work', async () => {
    const c = await initialisedCluster();
    const clusterFile = join(c.dir, 'cluster.yaml');
    writeFileSync(clusterFile, readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8').replace('# High availability', `${WORKER3}# High availability`));
    const w3 = await seededNode('worker', 'worker3', { clusterFile, secretsDir: c.secretsDir });
    const failedBoot = boot(w3, { FAKE_REGISTERED: c.registered });
    expect(failedBoot.status).toBe(1);
    expect(failedBoot.out).toContain('could not find a JWS signature in the cluster-info ConfigMap for token ID');
    const fix = /^mkimage-firstboot: the join token of node worker3 \(token id ([a-z0-9]{6})\) expired or was never registered with the cluster: where you render, run "(mkimage cluster token --node worker3)" and run the "kubeadm token create \.\.\." command it prints on a control plane, then restart mkimage-firstboot\.service here/m.exec(failedBoot.out);
    expect(fix, failedBoot.out).not.toBeNull();
    // the marker carries the fix as well (its last log lines), under the step that failed
    const marker = readFileSync(failed(w3), 'utf8');
    expect(marker).toMatch(/^reason: kubeadm join failed \(exit 1\)\n/);
    expect(marker).toContain('run "mkimage cluster token --node worker3"');

    // follow it: the command mkimage prints, run on the control plane (the same fake kubeadm), then boot again
    const printed = await mkimage(c.dir, ...fix![2]!.split(' ').slice(1), '--cluster', clusterFile, '--secrets', c.secretsDir);
    expect(printed.code, printed.err).toBe(0);
    const command = printed.out.trim();
    expect(command).toMatch(new RegExp(`^kubeadm token create ${fix![1]}\\.[a-z0-9]{16} --ttl 4h0m0s --description "mkimage join token for node worker3"$`));
    const onControlPlane = spawnSync(tool('bash'), ['-c', command], { encoding: 'utf8', env: { PATH: `${c.cp1.bin}:/usr/bin:/bin`, CALLS: c.cp1.calls, FAKE_REGISTERED: c.registered, MKIMAGE_ROOT: c.cp1.root } });
    expect(onControlPlane.status, onControlPlane.stderr).toBe(0);
    const again = boot(w3, { FAKE_REGISTERED: c.registered });
    expect(again.status, again.out).toBe(0);
    expect(existsSync(done(w3))).toBe(true);
    expect(existsSync(failed(w3))).toBe(false);
  });

  it('a token with a registered id but another secret (a seed from before a rotation) is refused the same way', async () => {
    const c = await initialisedCluster();
    const w1 = await seededNode('worker', 'worker1', { secretsDir: c.secretsDir });
    const known = readFileSync(c.registered, 'utf8');
    const own = /token: ([a-z0-9]{6})\.([a-z0-9]{16})/.exec(readFileSync(join(w1.root, 'etc/kubernetes/mkimage/kubeadm.yaml'), 'utf8'))!;
    writeFileSync(c.registered, known.replace(`${own[1]}.${own[2]}`, `${own[1]}.${'0'.repeat(16)}`));
    const r = boot(w1, { FAKE_REGISTERED: c.registered });
    expect(r.status).toBe(1);
    expect(r.out).toContain('failed to verify JWS signature of received cluster info object');
    expect(r.out).toContain('mkimage-firstboot: the join token of node worker1 expired or was never registered with the cluster: where you render, run "mkimage cluster token --node worker1"');
  });

  it('other join failures get no token advice', () => {
    const n = makeNode('join');
    const r = boot(n, { FAKE_FAIL: 'join' });
    expect(r.status).toBe(1);
    expect(r.out).not.toContain('join token');
  });
});
