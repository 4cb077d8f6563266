#!/bin/sh
# FAKE kubelet v1.29.2: a stand-in from mkimage's e2e mirror (test/e2e/mirror), installed as /usr/bin/kubelet by the
# stand-in kubelet package. Like the real one under the packaged unit it exits 1 while /var/lib/kubelet/config.yaml
# (written by kubeadm init/join) is missing, so systemd restarts it every 10 s; once the file exists it stays up
# (it runs no pods). FAKE_KUBELET_ROOT relocates the path (tests).
config=/var/lib/kubelet/config.yaml
for arg in "$@"; do
  case $arg in
    --version | --version=true) echo "Kubernetes v1.29.2"; exit 0 ;;
    --config=*) config=${arg#--config=} ;;
  esac
done
if [ ! -f "${FAKE_KUBELET_ROOT:-}$config" ]; then
  echo "E0101 00:00:00.000000    1234 run.go:74] \"command failed\" err=\"failed to load kubelet config file, path: $config, error: failed to load Kubelet config file $config, error failed to read kubelet config file \\\"$config\\\", error: open $config: no such file or directory\"" >&2
  exit 1
fi
echo "I0101 00:00:00.000000    1234 server.go:487] \"FAKE kubelet v1.29.2 running (stand-in: runs no pods)\" config=\"$config\""
exec sleep infinity
