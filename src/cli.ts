#!/usr/bin/env node
// Commander wiring only: parse arguments, call a function, print diagnostics, set the exit code.
// Exit codes: 0 ok; 2 bad input (diagnostics, usage); 3 environment (a tool or a download missing);
// a failing `packer build` passes its own code through; 1 is an mkimage bug.

import { Command, CommanderError, Option } from 'commander';
import { EXIT, type Io, runCommand } from './cli/run.js';
import * as cmd from './cli/commands.js';
import { pxeBuild } from './cli/pxe-build.js';
import { pxeReset, pxeServe, pxeStatus } from './cli/pxe-serve.js';
import { ikuaiApply } from './cli/router.js';
import { closedPipeTolerant } from './cli/stdio.js';

export function buildProgram(io: Io): Command {
  const program = new Command('mkimage')
    .description('Kubernetes node role profiles -> golden VM images (Packer) and first-boot seeds (cloud-init NoCloud)')
    .version(cmd.VERSION)
    .showHelpAfterError('(run mkimage --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();
  program.addHelpText(
    'after',
    `
Examples:
  mkimage control-plane                  render out/control-plane/ from the embedded default profiles
  mkimage worker --mode full             seeds for stock cloud images (no Packer bake)
  mkimage control-plane --build          render, fetch artifacts, then run packer build
  mkimage validate --strict              load and lint; warnings fail too
  mkimage plan worker --node worker1     print one node's plan (secrets redacted)
  mkimage cluster init                   generate the CAs and bootstrap token up front
  mkimage control-plane --profiles ./my-profiles --cluster ./my-cluster.yaml

Exit codes: 0 ok, 2 bad input, 3 missing tool or download, packer's own code on a failed build.`,
  );

  const common = (c: Command) =>
    c
      .option('--profiles <dir>', 'role profiles directory (default: the embedded profiles)')
      .option('--cluster <file>', 'cluster inventory (default: the embedded example cluster)')
      .option('--secrets <dir>', 'cluster secrets directory (default: clusters/<name>/secrets)')
      .option('--strict', 'treat lint warnings as errors')
      .option('--json', 'machine-readable output on stdout');

  for (const role of ['control-plane', 'worker']) {
    common(program.command(role))
      .description(`render out/${role}/: per-node seeds (user-data, meta-data, network-config, seed.iso), plans and the Packer build`)
      .option('--out <dir>', `output directory (default: out/${role})`)
      .addOption(new Option('--mode <mode>', 'baked: seeds for the golden image; full: seeds that install everything on a stock cloud image').choices(['baked', 'full']).default('baked'))
      .option('--build', 'fetch the artifacts and run packer build after rendering')
      .option('--packer-version <v>', 'target Packer version (default: the installed packer; without one, 1.7+ is assumed)')
      .addOption(new Option('--accelerator <a>', 'QEMU accelerator for the build').choices(['kvm', 'tcg']))
      .option('--offline', 'use only the cache or a bundle for artifacts')
      .option('--bundle <file>', 'read artifacts from a bundle made by `mkimage bundle`')
      .action((o) => runCommand(io, o, () => cmd.render(io, role, o)));
  }
  common(program.command('ikuai-gateway'))
    .description('render out/ikuai-gateway/: the router settings (static DHCP leases, DNS, port mappings, PXE); with --router, push them through the router API')
    .option('--out <dir>', 'output directory (default: out/ikuai-gateway)')
    .option('--router <url>', 'the iKuai web address, e.g. https://192.168.66.1: compare its settings with the plan and print the calls (a dry run)')
    .option('--apply', 'with --router: make the calls (password from IKUAI_PASSWORD or a prompt; 4.x token from IKUAI_TOKEN)')
    .addOption(new Option('--api <version>', 'router API: 3 (/Action, also on 4.x), 4 (REST with a token), auto').choices(['auto', '3', '4']).default('auto'))
    .option('--user <name>', 'router login (3.x API)', 'admin')
    .option('--fingerprint <sha256>', "trust the router's self-signed TLS certificate with this SHA-256 fingerprint")
    .option('--insecure', 'trust any TLS certificate the router presents (prefer --fingerprint)')
    .action((o) => runCommand(io, o, () => (o.router !== undefined || o.apply ? ikuaiApply(io, o) : cmd.render(io, 'ikuai-gateway', o))));
  common(program.command('render'))
    .description('render any profile by name (for custom profiles in --profiles)')
    .argument('<profile>')
    .option('--out <dir>')
    .addOption(new Option('--mode <mode>').choices(['baked', 'full']).default('baked'))
    .action((profile, o) => runCommand(io, o, () => cmd.render(io, profile, o)));

  common(program.command('validate'))
    .description('load, check and lint the profiles and the cluster; write nothing')
    .action((o) => runCommand(io, o, () => cmd.validate(io, o)));

  common(program.command('plan'))
    .description('print the node plan of a role (or of one node) as JSON; secret contents are redacted')
    .argument('<role>')
    .option('--node <name>', 'the plan of one node, with its boot-phase files')
    .action((role, o) => runCommand(io, o, () => cmd.plan(io, role, o)));

  program
    .command('schema')
    .description('print the JSON Schema of the profile or the cluster format')
    .addArgument(new Command().createArgument('[kind]', 'profile or cluster').choices(['profile', 'cluster']).default('profile'))
    .action((kind) => runCommand(io, {}, () => cmd.schema(io, kind)));

  const cluster = program.command('cluster').description('cluster secrets and bootstrap');
  common(cluster.command('init'))
    .description('generate the CAs, service-account keys and bootstrap token, before any VM boots')
    .option('--force', 'replace existing secrets (every seed must then be rendered again)')
    .action((o) => runCommand(io, o, () => cmd.clusterInit(io, o)));
  common(cluster.command('token'))
    .description('rotate the bootstrap token and every node token derived from it (render the seeds again afterwards); --node prints one node\'s `kubeadm token create` instead')
    .option('--ttl <duration>', 'token lifetime, e.g. 24h0m0s')
    .option('--node <name>', 'rotate nothing: print the command that registers this node\'s join token on a control plane')
    .action((o) => runCommand(io, o, () => cmd.clusterToken(io, o)));
  common(cluster.command('join-command'))
    .description('print the classic `kubeadm join` line')
    .action((o) => runCommand(io, o, () => cmd.joinCommand(io, o)));
  common(cluster.command('status'))
    .description("read a node's first-boot markers over SSH")
    .argument('<node>')
    .option('--user <user>', 'SSH user (default: the cluster admin user)')
    .option('-i, --identity <file>', 'SSH private key')
    .option('--host <host>', "address SSH reaches the node at (default: the node's inventory address)")
    .option('--port <port>', 'SSH port (default: 22)')
    .option('--known-hosts <file>', 'known_hosts file (a new node is recorded on first contact)')
    .action((node, o) => runCommand(io, o, () => cmd.clusterStatus(io, node, o)));

  const pxe = program.command('pxe').description('LAN boot: workers install the golden image from the network and join');
  common(pxe.command('build'))
    .description('write out/pxe/: the golden image as raw.gz, the installer kernel and initramfs, iPXE boot files, seeds, dnsmasq.conf')
    .option('--out <dir>', 'output directory (default: out/pxe)')
    .option('--image <file>', 'the worker golden image, qcow2 or raw (default: the newest under images/<cluster>/worker/)')
    .option('--no-image', 'leave the image out (serve can start without it)')
    .option('--server <url>', 'the URL nodes reach `mkimage pxe serve` at (default: http://${next-server}:8080)')
    .option('--role <role>', 'the role whose nodes boot from the LAN', 'worker')
    .action((o) => runCommand(io, o, () => pxeBuild(io, o)));
  const serveFlags = (c: Command) =>
    common(c)
      .option('--dir <dir>', 'the directory `mkimage pxe build` wrote (default: out/pxe)')
      .option('--state <file>', 'per-machine install state (default: clusters/<cluster>/pxe-state.json)');
  serveFlags(pxe.command('serve'))
    .description('serve iPXE scripts, the installer, the image and the seeds over HTTP, and track each machine')
    .option('--listen <host:port>', 'address to listen on', '0.0.0.0:8080')
    .option('--dhcp-proxy', 'also run dnsmasq as a proxyDHCP + TFTP server beside the router (needs root)')
    .option('--nat-source <addr...>', 'a NAT address that may fetch any installing node\'s seed (the path token still gates it)')
    .option('--workers <n>', 'HTTP worker processes (default: one per core; 1 serves in one process)')
    .action((o) => runCommand(io, o, () => pxeServe(io, o)));
  serveFlags(pxe.command('status'))
    .description('show each LAN-boot machine: pending, installing, installed or failed')
    .action((o) => runCommand(io, o, () => pxeStatus(io, o)));
  serveFlags(pxe.command('retry'))
    .description('let a failed machine install again on its next boot')
    .argument('<node>')
    .action((node, o) => runCommand(io, o, () => pxeReset(io, node, 'retry', o)));
  serveFlags(pxe.command('reinstall'))
    .description('wipe and install an installed machine again on its next network boot')
    .argument('<node>')
    .action((node, o) => runCommand(io, o, () => pxeReset(io, node, 'reinstall', o)));

  common(program.command('fetch'))
    .description('fetch and verify every artifact into the cache, recording unpinned sha256 sums in mkimage.lock')
    .option('--offline', 'use only the cache or a bundle')
    .option('--bundle <file>', 'read artifacts from a bundle')
    .action((o) => runCommand(io, o, () => cmd.fetch(io, o)));

  common(program.command('bundle'))
    .description('write one tar holding every artifact and mkimage.lock, for air-gapped builds')
    .option('--out <file>', 'bundle path', 'mkimage-bundle.tar')
    .option('--offline', 'use only the cache')
    .action((o) => runCommand(io, o, () => cmd.bundle(io, o)));

  return program;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.input;
    }
    throw e;
  }
  return io.exitCode;
}

const isMain = process.argv[1] !== undefined && import.meta.url === (await import('node:url')).pathToFileURL((await import('node:fs')).realpathSync(process.argv[1])).href;
if (isMain) {
  const err = closedPipeTolerant(process.stderr);
  const io: Io = {
    out: closedPipeTolerant(process.stdout),
    err,
    color: process.stderr.isTTY === true && !process.env.NO_COLOR,
    tty: process.stderr.isTTY === true,
    cwd: process.cwd(),
    exitCode: 0,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      err(`mkimage: internal error (a bug; please report it with this output):\n${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = EXIT.bug;
    },
  );
}
