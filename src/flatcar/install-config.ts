// The install config of a Flatcar node's LAN boot: the Ignition config (spec 3.3.0) `mkimage pxe serve` hands
// Flatcar's PXE live system (ignition.config.url on the kernel line). Built as an object with the emitter's helpers
// and serialised as JSON, like the node's own config. It writes the installer script (templates/pxe/flatcar-install.sh)
// and what it shares with the cloud-init installer (templates/pxe/installer-lib.sh) to /opt/mkimage/, and
// enables a oneshot unit that runs it: fetch the node's own config from the server under the install token, run
// `flatcar-install -d DISK -C CHANNEL -V VERSION -b SERVER/BASE -o '' -i FILE` (the OS image and its signature from
// the server, not the internet; flatcar-install still checks the signature with its built-in key), report /done (or
// /failed with the log tail, and no reboot), reboot. The token, the server and the disk come from the kernel line
// (mkimage.*), so the config itself holds no secret. The admin's SSH keys go to the live system's `core` user, to
// look at a failed install.

import { dataUrl } from '../emit/data-url.js';
import { checkIgnitionConfig } from '../emit/ignition-check.js';
import { IGNITION_SPEC, ignitionMode, type IgnitionConfig, type IgnitionFile } from '../emit/ignition.js';
import { header, renderTemplate, templateText } from '../template.js';

export const INSTALL_DIR = '/opt/mkimage';
export const INSTALL_SCRIPT = `${INSTALL_DIR}/flatcar-install.sh`;
export const INSTALLER_LIB = `${INSTALL_DIR}/installer-lib.sh`;
export const INSTALL_UNIT = 'mkimage-flatcar-install.service';
/** The live system's user (Flatcar's own). */
export const LIVE_USER = 'core';

export interface InstallConfigInput {
  /** the node's name: the live system's host name (DHCP and the router's lease list show it) */
  node: string;
  /** the release channel and version flatcar-install writes, the same as the PXE kernel's */
  channel: string;
  version: string;
  /** where the server has the OS image, relative to it (flatcar/amd64-usr): flatcar-install -b <server>/<base> */
  base: string;
  sshAuthorizedKeys: readonly string[];
}

function file(path: string, content: string, mode: string): IgnitionFile {
  const url = dataUrl(content);
  return { path, overwrite: true, mode: ignitionMode(mode), user: { name: 'root' }, group: { name: 'root' }, contents: { compression: url.compression, source: url.source } };
}

export function installerScript(channel: string, version: string, base: string): string {
  return renderTemplate('pxe/flatcar-install.sh', { channel, version, base });
}

export function installUnit(): string {
  return renderTemplate('pxe/mkimage-flatcar-install.service.mustache', { header: header('#'), script: INSTALL_SCRIPT });
}

export function renderInstallConfig(i: InstallConfigInput): { config: IgnitionConfig; text: string } {
  const config: IgnitionConfig = {
    ignition: { version: IGNITION_SPEC },
    passwd: { users: i.sshAuthorizedKeys.length > 0 ? [{ name: LIVE_USER, groups: [], sshAuthorizedKeys: [...i.sshAuthorizedKeys] }] : [] },
    storage: {
      files: [
        file('/etc/hostname', `${i.node}\n`, '0644'),
        file(INSTALLER_LIB, templateText('pxe/installer-lib.sh'), '0644'),
        file(INSTALL_SCRIPT, installerScript(i.channel, i.version, i.base), '0755'),
      ],
      links: [],
    },
    systemd: { units: [{ name: INSTALL_UNIT, enabled: true, contents: installUnit() }] },
  };
  const problems = checkIgnitionConfig(config);
  if (problems.length > 0) throw new Error(`internal: the install config of ${i.node} breaks Ignition's rules: ${problems.map((p) => `${p.jsonPath}: ${p.message}`).join('; ')}`);
  return { config, text: `${JSON.stringify(config, null, 2)}\n` };
}
