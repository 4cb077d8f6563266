// systemd units: cri-dockerd's service + socket (rendered from templates/systemd, after the v0.3.9 packaging
// units, with the pause image kubeadm expects and the CNI network plugin), and the packaged units to enable.
// Bake enables everything and starts nothing: the first boot starts them through the enablement.

import { header, renderTemplate } from '../template.js';
import type { PlanUnit } from './types.js';

export const UNIT_DIR = '/usr/lib/systemd/system';
export const CRI_DOCKERD_BINARY = '/usr/bin/cri-dockerd';
/** What kubeadm and kubelet are told; %t/cri-dockerd.sock in the socket unit is /run/cri-dockerd.sock. */
export const CRI_SOCKET = 'unix:///var/run/cri-dockerd.sock';
/** The sockets the two runtime units listen on once started (/var/run is /run). */
export const CRI_SOCKET_PATH = '/run/cri-dockerd.sock';
export const DOCKER_SOCKET_PATH = '/run/docker.sock';

/** `binary`: where cri-dockerd is installed (Flatcar: /opt/bin, its /usr is read-only). */
export function criDockerService(podInfraImage: string, binary = CRI_DOCKERD_BINARY): string {
  return renderTemplate('systemd/cri-docker.service.mustache', {
    header: header('#'),
    binary,
    podInfraImage,
  });
}

/** kubelet.service and kubeadm's 10-kubeadm.conf drop-in, as the Kubernetes packages ship them (Flatcar has none). */
export const kubeletService = () => renderTemplate('systemd/kubelet.service.mustache', { header: header('#') });
export const kubeadmKubeletDropin = () => renderTemplate('systemd/10-kubeadm.conf.mustache', { header: header('#') });

export function criDockerSocket(): string {
  return renderTemplate('systemd/cri-docker.socket.mustache', { header: header('#') });
}

/** Sorted by name. */
export function planUnits(podInfraImage: string): PlanUnit[] {
  const written = (name: string, content: string): PlanUnit => ({
    name,
    path: `${UNIT_DIR}/${name}`,
    content,
    enable: true,
    start: false,
    phase: 'bake',
  });
  const packaged = (name: string): PlanUnit => ({ name, enable: true, start: false, phase: 'bake' });
  // Docker and cri-dockerd's socket are started where units are started (--mode full: before first boot, which
  // kubeadm needs; After= only orders). A baked image starts them through their enablement at boot.
  const started = (u: PlanUnit, ready: string): PlanUnit => ({ ...u, start: true, ready, phase: u.phase });
  return [
    written('cri-docker.service', criDockerService(podInfraImage)),
    started(written('cri-docker.socket', criDockerSocket()), CRI_SOCKET_PATH),
    started(packaged('docker.service'), DOCKER_SOCKET_PATH),
    packaged('kubelet.service'),
  ];
}
