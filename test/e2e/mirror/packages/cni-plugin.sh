#!/bin/sh
# FAKE CNI plugin from kubernetes-cni 1.3.0: a stand-in from mkimage's e2e mirror (test/e2e/mirror). It answers the
# CNI VERSION command like the real plugins and fails every other one (no pod networking in the test bed).
if [ "${CNI_COMMAND:-}" = VERSION ]; then
  echo '{"cniVersion":"1.0.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0"]}'
  exit 0
fi
echo '{"cniVersion":"1.0.0","code":7,"msg":"FAKE CNI plugin (stand-in from the mkimage e2e mirror): not implemented"}'
exit 1
