#!/bin/sh
# FAKE crictl v1.29.0: a stand-in from mkimage's e2e mirror (test/e2e/mirror), installed as /usr/bin/crictl by the
# stand-in cri-tools package. Only the version is implemented; it talks to no runtime.
case "${1:-}" in
  --version | -v) echo "crictl version v1.29.0"; exit 0 ;;
esac
echo 'time="2024-01-01T00:00:00Z" level=fatal msg="FAKE crictl (stand-in): only --version is implemented"' >&2
exit 1
