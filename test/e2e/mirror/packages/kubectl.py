#!/usr/bin/python3
# FAKE kubectl v1.29.2: a stand-in from mkimage's e2e mirror (test/e2e/mirror), installed as /usr/bin/kubectl by
# the stand-in kubectl package. There is no API server behind it: it needs a kubeconfig like the real one
# (--kubeconfig, $KUBECONFIG or ~/.kube/config, else "connection to the server localhost:8080 was refused"),
# checks that `apply -f FILE` gets YAML documents with apiVersion/kind/metadata.name and keeps a copy of each
# applied file, and answers `taint`, `get`, `version`, `wait`, `label` plausibly.
# Calls go to /var/log/fake-kubectl.calls (when writable) ("<n> exit=<code> <argv>"), applied files to
# /var/log/fake-kubectl.applied.<n>.yaml. FAKE_KUBECTL_ROOT relocates those paths (tests).

import os
import shlex
import shutil
import socket
import sys

import yaml

VERSION = "v1.29.2"
ROOT = os.environ.get("FAKE_KUBECTL_ROOT", "")
CALLS = ROOT + "/var/log/fake-kubectl.calls"


class Fail(Exception):
    pass


def split(argv):
    flags, pos, i = {}, [], 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and a != "-":
            name, eq, val = a.lstrip("-").partition("=")
            if name in ("f", "filename", "kubeconfig", "o", "output", "n", "namespace", "for", "timeout", "l", "selector", "context") and not eq:
                i += 1
                val = argv[i] if i < len(argv) else ""
            flags.setdefault(name, []).append(val)
        else:
            pos.append(a)
        i += 1
    return flags, pos


def kubeconfig(flags):
    path = (flags.get("kubeconfig") or [None])[-1] or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    if not os.path.isfile(path):
        raise Fail("The connection to the server localhost:8080 was refused - did you specify the right host or port?")
    with open(path) as f:
        cfg = yaml.safe_load(f) or {}
    clusters = cfg.get("clusters") or []
    if not clusters or not (clusters[0].get("cluster") or {}).get("server"):
        raise Fail("error: invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment variable")
    return cfg


def resource(doc):
    api = doc.get("apiVersion", "")
    group = api.split("/")[0] if "/" in api else ""
    return "%s%s/%s" % (doc["kind"].lower(), "." + group if group else "", doc["metadata"]["name"])


def cmd_apply(flags, pos, n):
    files = flags.get("f") or flags.get("filename")
    if not files:
        raise Fail("error: must specify one of -f and -k")
    kubeconfig(flags)
    lines = []
    for k, path in enumerate(files):
        text = sys.stdin.read() if path == "-" else open(path).read()
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as e:
            raise Fail("error: error parsing %s: error converting YAML to JSON: %s" % (path, str(e).replace("\n", " ")))
        if not docs:
            raise Fail("error: no objects passed to apply")
        for d in docs:
            if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind"):
                raise Fail("error: error validating \"%s\": error validating data: [apiVersion not set, kind not set]; if you choose to ignore these errors, turn validation off with --validate=false" % path)
            if not (d.get("metadata") or {}).get("name"):
                raise Fail("error: error when retrieving current configuration of %s: resource name may not be empty" % d["kind"])
            lines.append("%s created" % resource(d))
        with open(ROOT + "/var/log/fake-kubectl.applied.%d%s.yaml" % (n, "" if k == 0 else "." + str(k)), "w") as f:
            f.write(text)
    print("\n".join(lines))


def cmd_taint(flags, pos):
    kubeconfig(flags)
    if len(pos) < 3 or pos[0] not in ("node", "nodes", "no"):
        raise Fail("error: at least one taint update is required")
    removing = all(t.endswith("-") for t in pos[2:])
    print("node/%s %s" % (pos[1], "untainted" if removing else "tainted"))


def cmd_get(flags, pos):
    kubeconfig(flags)
    what = pos[0] if pos else ""
    if what in ("node", "nodes", "no"):
        print("NAME%sSTATUS   ROLES           AGE   VERSION" % (" " * 12))
        print("%-16sReady    control-plane   1m    %s" % (socket.gethostname(), VERSION))
    elif what:
        print("No resources found", file=sys.stderr)
    else:
        raise Fail("You must specify the type of resource to get.")


def cmd_version(flags, pos):
    print("Client Version: %s" % VERSION)
    print("Kustomize Version: v5.0.4-0.20230601165947-6ce0bf390ce3")
    if "client" not in flags:
        kubeconfig(flags)
        print("Server Version: %s" % VERSION)


def main(argv):
    try:
        os.makedirs(os.path.dirname(CALLS), exist_ok=True)
    except OSError:
        pass
    try:
        with open(CALLS) as f:
            n = sum(1 for _ in f) + 1
    except OSError:
        n = 1
    code = 0
    flags, pos = split(argv)
    try:
        cmd, rest = (pos[0], pos[1:]) if pos else ("", [])
        if cmd == "apply":
            cmd_apply(flags, rest, n)
        elif cmd == "taint":
            cmd_taint(flags, rest)
        elif cmd == "get":
            cmd_get(flags, rest)
        elif cmd == "version":
            cmd_version(flags, rest)
        elif cmd in ("wait", "label", "annotate", "cluster-info"):
            kubeconfig(flags)
            print("FAKE kubectl: %s accepted" % cmd)
        elif cmd == "":
            print("FAKE kubectl %s (stand-in from mkimage's e2e mirror)" % VERSION)
        else:
            raise Fail('error: unknown command "%s" for "kubectl"' % cmd)
    except Fail as e:
        print(str(e), file=sys.stderr)
        code = 1
    except OSError as e:
        print("error: %s" % e, file=sys.stderr)
        code = 1
    try:
        with open(CALLS, "a") as f:
            f.write("%d exit=%d %s\n" % (n, code, " ".join(shlex.quote(a) for a in ["kubectl"] + argv)))
    except OSError:
        pass  # not root: recording is best effort, the command's answer is not
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
