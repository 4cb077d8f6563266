#!/usr/bin/python3
# FAKE kubeadm v1.29.2: a stand-in from mkimage's e2e mirror (test/e2e/mirror), installed as /usr/bin/kubeadm by
# the stand-in kubeadm package. It is NOT Kubernetes: it checks its --config the way kubeadm 1.29 decodes it
# (kinds and apiVersions, the fields it knows), runs the preflight checks a test bed can meet, and writes the files
# the real one leaves (kubeconfigs, static pod manifests, kubelet config) so the first-boot script's paths run.
#
# Differences from the real kubeadm, on purpose:
# - `config images pull` checks that the CRI socket answers, then runs `docker pull` (the real one pulls through
#   the CRI socket, i.e. cri-dockerd -> Docker; the images end up in the same place). FAKE_KUBEADM_DOCKER names
#   another command for tests.
# - `init`/`join` need --config, and `init` refuses a config without an InitConfiguration (the real one warns
#   "Ignored YAML document" for a JoinConfiguration and goes on with defaults, failing later).
# - `join` does no discovery over the network (it validates the token and CA hash shapes only).
# - no certificates are generated: an absent CA is written as a STAND-IN text file.
#
# Every call is appended to /var/log/fake-kubeadm.calls (when writable: not for a non-root user) ("<n> exit=<code> <argv>") and its --config is copied to
# /var/log/fake-kubeadm.<n>.config. FAKE_KUBEADM_ROOT relocates every path (tests run it in a temp root);
# FAKE_KUBEADM_PROC replaces /proc for the preflight checks; FAKE_KUBEADM_NO_SYSTEMCTL=1 skips starting kubelet
# (set automatically under FAKE_KUBEADM_ROOT).

import base64
import ipaddress
import json
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys

import yaml

VERSION = "v1.29.2"
KUBEADM_API = "kubeadm.k8s.io/v1beta3"
KUBELET_API = "kubelet.config.k8s.io/v1beta1"
KUBEPROXY_API = "kubeproxy.config.k8s.io/v1alpha1"
DEFAULT_REPO = "registry.k8s.io"
COREDNS_TAG = "v1.11.1"
PAUSE_TAG = "3.9"
ETCD_TAG = "3.5.10-0"
TOKEN_RE = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
HASH_RE = re.compile(r"^sha256:[a-f0-9]{64}$")

ROOT = os.environ.get("FAKE_KUBEADM_ROOT", "")
PROC = os.environ.get("FAKE_KUBEADM_PROC", "/proc")
DOCKER = shlex.split(os.environ.get("FAKE_KUBEADM_DOCKER", "docker"))
NO_SYSTEMCTL = os.environ.get("FAKE_KUBEADM_NO_SYSTEMCTL", "1" if ROOT else "") == "1"

CALLS = ROOT + "/var/log/fake-kubeadm.calls"

KNOWN_FIELDS = {
    "InitConfiguration": {"apiVersion", "kind", "bootstrapTokens", "nodeRegistration", "localAPIEndpoint",
                          "certificateKey", "skipPhases", "patches"},
    "ClusterConfiguration": {"apiVersion", "kind", "etcd", "networking", "kubernetesVersion",
                             "controlPlaneEndpoint", "apiServer", "controllerManager", "scheduler", "dns",
                             "certificatesDir", "imageRepository", "featureGates", "clusterName"},
    "JoinConfiguration": {"apiVersion", "kind", "nodeRegistration", "caCertPath", "discovery", "controlPlane",
                          "skipPhases", "patches"},
}
NODE_REGISTRATION_FIELDS = {"name", "criSocket", "taints", "kubeletExtraArgs", "ignorePreflightErrors",
                            "imagePullPolicy"}
KUBEADM_KINDS = {"InitConfiguration", "ClusterConfiguration", "JoinConfiguration", "ResetConfiguration"}


class Fail(Exception):
    pass


def p(path):
    return ROOT + path


def out(*lines):
    for line in lines:
        print(line)


def warn(msg):
    print("W1201 00:00:00.000000    1234 " + msg, file=sys.stderr)


def write(path, content, mode):
    full = p(path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    tmp = full + ".tmp"
    with open(tmp, "w") as f:
        f.write(content)
    os.chmod(tmp, mode)
    os.replace(tmp, full)


# ---------------------------------------------------------------- flags


def parse_flags(args, known):
    """known: flag name -> True if it takes a value. Returns (flags, positional)."""
    flags, pos = {}, []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and a != "-":
            name, eq, val = a.lstrip("-").partition("=")
            if name == "v" or name.startswith("v") and name[1:].isdigit():
                i += 1
                continue
            if name not in known:
                raise Fail("unknown flag: %s\nTo see the stack trace of this error execute with --v=5 or higher" % a.split("=")[0])
            if known[name]:
                if not eq:
                    i += 1
                    if i >= len(args):
                        raise Fail("flag needs an argument: --%s" % name)
                    val = args[i]
                flags.setdefault(name, []).append(val)
            else:
                flags[name] = [val or "true"]
        else:
            pos.append(a)
        i += 1
    return flags, pos


def one(flags, name, default=None):
    v = flags.get(name)
    return v[-1] if v else default


def no_mixing(flags, allowed):
    mixed = sorted(k for k in flags if k != "config" and k not in allowed)
    if "config" in flags and mixed:
        raise Fail("can not mix '--config' with arguments %s" % json.dumps(mixed).replace('"', ""))


# ---------------------------------------------------------------- config


def load_config(path, wanted):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise Fail('unable to read config from "%s" : open %s: %s' % (path, path, (e.strerror or "").lower()))
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise Fail("error converting YAML to JSON: %s" % str(e).replace("\n", " "))
    found = {}
    for d in docs:
        if not isinstance(d, dict):
            raise Fail("couldn't interpret the config document: not a mapping")
        api, kind = d.get("apiVersion"), d.get("kind")
        if not api or not kind:
            raise Fail("invalid configuration for GroupVersionKind /, Kind=: kind and apiVersion is mandatory information that must be specified")
        group = api.split("/")[0]
        if group == "kubeadm.k8s.io":
            if api in ("kubeadm.k8s.io/v1beta1", "kubeadm.k8s.io/v1beta2"):
                raise Fail('your configuration file uses an old API spec: "%s". Please use kubeadm v1.22 instead and run \'kubeadm config migrate --old-config old.yaml --new-config new.yaml\', which will write the new, similar spec using a newer API version.' % api)
            if api != KUBEADM_API or kind not in KUBEADM_KINDS:
                raise Fail('no kind "%s" is registered for version "%s" in scheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"' % (kind, api))
        elif kind == "KubeletConfiguration":
            if api != KUBELET_API:
                raise Fail('no kind "KubeletConfiguration" is registered for version "%s"' % api)
        elif kind == "KubeProxyConfiguration":
            if api != KUBEPROXY_API:
                raise Fail('no kind "KubeProxyConfiguration" is registered for version "%s"' % api)
        if kind in found:
            raise Fail('duplicate %s found in the supplied config' % kind)
        if kind not in wanted:
            warn('[config] WARNING: Ignored YAML document with GroupVersionKind %s, Kind=%s' % (api, kind))
            continue
        for field in sorted(set(d) - KNOWN_FIELDS.get(kind, set(d))):
            warn('strict decoding error: unknown field "%s"' % field)
        nr = d.get("nodeRegistration")
        if isinstance(nr, dict):
            for field in sorted(set(nr) - NODE_REGISTRATION_FIELDS):
                warn('strict decoding error: unknown field "nodeRegistration.%s"' % field)
            extra = nr.get("kubeletExtraArgs", {})
            if not isinstance(extra, dict) or not all(isinstance(v, str) for v in extra.values()):
                raise Fail("nodeRegistration.kubeletExtraArgs: Invalid value: a map of string to string is required")
        found[kind] = d
    return found


def cluster_defaults(cc):
    cc = dict(cc or {})
    cc.setdefault("kubernetesVersion", "")
    if not cc["kubernetesVersion"]:
        warn('could not fetch a Kubernetes version from the internet: unable to get URL "https://dl.k8s.io/release/stable-1.txt"')
        warn("falling back to the local client version: %s" % VERSION)
        cc["kubernetesVersion"] = VERSION
    v = str(cc["kubernetesVersion"])
    if not v.startswith("v"):
        v = "v" + v
    m = re.match(r"^v1\.(\d+)\.\d+$", v)
    if not m:
        raise Fail('couldn\'t parse Kubernetes version "%s"' % cc["kubernetesVersion"])
    if int(m.group(1)) < 28:
        raise Fail("this version of kubeadm only supports deploying clusters with the control plane version >= 1.28.0. Current version: %s" % v)
    if int(m.group(1)) > 29:
        raise Fail("the specified version to deploy (%s) is greater than the kubeadm version (%s)" % (v, VERSION))
    cc["kubernetesVersion"] = v
    cc["imageRepository"] = cc.get("imageRepository") or DEFAULT_REPO
    net = dict(cc.get("networking") or {})
    net.setdefault("serviceSubnet", "10.96.0.0/12")
    net.setdefault("dnsDomain", "cluster.local")
    cc["networking"] = net
    cc.setdefault("certificatesDir", "/etc/kubernetes/pki")
    cc.setdefault("clusterName", "kubernetes")
    return cc


def images(cc):
    repo, tag = cc["imageRepository"], cc["kubernetesVersion"]
    dns = cc.get("dns") or {}
    etcd = (cc.get("etcd") or {}).get("local") or {}
    dns_repo = dns.get("imageRepository") or (repo + "/coredns" if repo == DEFAULT_REPO else repo)
    result = ["%s/%s:%s" % (repo, c, tag) for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")]
    result.append("%s/coredns:%s" % (dns_repo, dns.get("imageTag") or COREDNS_TAG))
    result.append("%s/pause:%s" % (repo, PAUSE_TAG))
    if not (cc.get("etcd") or {}).get("external"):
        result.append("%s/etcd:%s" % (etcd.get("imageRepository") or repo, etcd.get("imageTag") or ETCD_TAG))
    return result


def cri_socket(nr):
    sock = (nr or {}).get("criSocket") or ""
    if not sock:
        raise Fail("nodeRegistration.criSocket is not set: found multiple CRI endpoints on the host. Please define which one do you wish to use by setting the 'criSocket' field in the kubeadm configuration file: unix:///var/run/containerd/containerd.sock, unix:///var/run/cri-dockerd.sock")
    if not sock.startswith("unix://"):
        warn('Usage of CRI endpoints without URL scheme is deprecated and can cause kubelet errors in the future. Automatically prepending scheme "unix" to the "criSocket" with value "%s". Please update your configuration!' % sock)
        sock = "unix://" + sock
    return sock


# ---------------------------------------------------------------- preflight


def preflight(checks, ignored):
    ignored = {x.lower() for x in ignored}
    errors = []
    for name, problem in checks:
        if problem is None:
            continue
        if "all" in ignored or name.lower() in ignored:
            print("\t[WARNING %s]: %s" % (name, problem), file=sys.stderr)
        else:
            errors.append("\t[ERROR %s]: %s" % (name, problem))
    if errors:
        raise Fail("[preflight] Some fatal errors occurred:\n%s\n[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`\nerror execution phase preflight" % "\n".join(errors))


def check_cri(sock):
    """The real kubeadm makes a CRI call on the socket. The fake connects and waits until the runtime takes the
    connection (the stand-in cri-dockerd accepts and closes it): a socket systemd holds for a cri-dockerd that
    never comes up (docker down, the service failed) times out here, as the real check does."""
    path = p(sock[len("unix://"):])
    what = None
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            what = "connect: not a socket"
    except OSError:
        what = "connect: no such file or directory"
    if what is None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(float(os.environ.get("FAKE_KUBEADM_CRI_TIMEOUT", "10")))
        try:
            s.connect(path)
            s.recv(1)  # EOF (or bytes) once the runtime has accepted the connection
            return None
        except socket.timeout:
            what = "context deadline exceeded"
        except OSError as e:
            what = "connect: %s" % (e.strerror or e).lower() if e.strerror else str(e)
        finally:
            s.close()
    return ('container runtime is not running: output: time="2024-02-14T00:00:00Z" level=fatal msg="validate service connection: '
            'validate CRI v1 runtime API for endpoint \\"%s\\": rpc error: code = Unavailable desc = connection error: '
            'desc = \\"transport: Error while dialing: dial unix %s: %s\\""\n, error: exit status 1' % (sock, sock[len("unix://"):], what))


def check_ip_forward():
    path = PROC + "/sys/net/ipv4/ip_forward"
    try:
        with open(path) as f:
            value = f.read().strip()
    except OSError:
        return "%s does not exist" % path
    return None if value == "1" else "%s contents are not set to 1" % path


def check_swap(kubelet):
    if (kubelet or {}).get("failSwapOn") is False:
        return None
    try:
        with open(PROC + "/swaps") as f:
            lines = [l for l in f.read().splitlines()[1:] if l.strip()]
    except OSError:
        return None
    return "running with swap on is not supported. Please disable swap" if lines else None


def file_available(path):
    return "%s already exists" % path if os.path.exists(p(path)) else None


def dir_available(path):
    full = p(path)
    return "%s is not empty" % path if os.path.isdir(full) and os.listdir(full) else None


def ignored_list(nr, flags):
    lst = list((nr or {}).get("ignorePreflightErrors") or [])
    for v in flags.get("ignore-preflight-errors", []):
        lst += [x for x in v.split(",") if x]
    return lst


# ---------------------------------------------------------------- files kubeadm writes


def ca_data(pki):
    try:
        with open(p(pki + "/ca.crt"), "rb") as f:
            return base64.b64encode(f.read()).decode()
    except OSError:
        return ""


def kubeconfig(cluster, server, user, cadata):
    return yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": cadata}}],
        "contexts": [{"name": "%s@%s" % (user, cluster), "context": {"cluster": cluster, "user": user}}],
        "current-context": "%s@%s" % (user, cluster),
        "preferences": {},
        "users": [{"name": user, "user": {
            "client-certificate-data": base64.b64encode(b"STAND-IN client certificate (fake kubeadm)").decode(),
            "client-key-data": base64.b64encode(b"STAND-IN client key (fake kubeadm)").decode()}}],
    }, sort_keys=False)


def endpoint(host_port, bind_port):
    if not host_port:
        return None
    if host_port.startswith("["):
        return host_port if "]:" in host_port else "%s:%d" % (host_port, bind_port)
    return host_port if ":" in host_port else "%s:%d" % (host_port, bind_port)


def static_pod(name, image, command, host_ip=None):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"creationTimestamp": None, "labels": {"component": name, "tier": "control-plane"},
                     "name": name, "namespace": "kube-system"},
        "spec": {"containers": [{"command": command, "image": image, "imagePullPolicy": "IfNotPresent", "name": name}],
                 "hostNetwork": True, "priority": 2000001000, "priorityClassName": "system-node-critical"},
        "status": {},
    }
    if host_ip:
        pod["metadata"]["annotations"] = {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": host_ip}
    return yaml.safe_dump(pod, sort_keys=False)


def write_control_plane(cc, adv, port, node_name):
    imgs = {i.split("/")[-1].split(":")[0]: i for i in images(cc)}
    pki = cc["certificatesDir"]
    net = cc["networking"]
    m = "/etc/kubernetes/manifests/"
    write(m + "etcd.yaml", static_pod("etcd", imgs["etcd"], [
        "etcd", "--advertise-client-urls=https://%s:2379" % adv, "--data-dir=/var/lib/etcd",
        "--listen-client-urls=https://127.0.0.1:2379,https://%s:2379" % adv, "--name=%s" % node_name,
        "--cert-file=%s/etcd/server.crt" % pki]), 0o600)
    api_cmd = ["kube-apiserver", "--advertise-address=%s" % adv, "--secure-port=%d" % port,
               "--client-ca-file=%s/ca.crt" % pki, "--etcd-servers=https://127.0.0.1:2379",
               "--service-cluster-ip-range=%s" % net["serviceSubnet"], "--authorization-mode=Node,RBAC"]
    write(m + "kube-apiserver.yaml", static_pod("kube-apiserver", imgs["kube-apiserver"], api_cmd, "%s:%d" % (adv, port)), 0o600)
    cm_cmd = ["kube-controller-manager", "--kubeconfig=/etc/kubernetes/controller-manager.conf",
              "--cluster-name=%s" % cc["clusterName"], "--service-cluster-ip-range=%s" % net["serviceSubnet"]]
    if net.get("podSubnet"):
        cm_cmd += ["--allocate-node-cidrs=true", "--cluster-cidr=%s" % net["podSubnet"]]
    write(m + "kube-controller-manager.yaml", static_pod("kube-controller-manager", imgs["kube-controller-manager"], cm_cmd), 0o600)
    write(m + "kube-scheduler.yaml", static_pod("kube-scheduler", imgs["kube-scheduler"], [
        "kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf"]), 0o600)


def write_kubelet(kubelet_doc, cc, sock, nr, pause):
    kc = {"apiVersion": KUBELET_API, "kind": "KubeletConfiguration"}
    kc.update({
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": cc["certificatesDir"] + "/ca.crt"}},
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "systemd",
        "clusterDNS": [str(ipaddress.ip_network(cc["networking"]["serviceSubnet"], strict=False)[10])],
        "clusterDomain": cc["networking"]["dnsDomain"],
        "rotateCertificates": True,
        "staticPodPath": "/etc/kubernetes/manifests",
    })
    kc.update({k: v for k, v in (kubelet_doc or {}).items() if k not in ("apiVersion", "kind")})
    write("/var/lib/kubelet/config.yaml", yaml.safe_dump(kc, sort_keys=True), 0o644)
    args = ["--container-runtime-endpoint=%s" % sock, "--pod-infra-container-image=%s" % pause]
    args += ["--%s=%s" % (k, v) for k, v in sorted(((nr or {}).get("kubeletExtraArgs") or {}).items())]
    write("/var/lib/kubelet/kubeadm-flags.env", 'KUBELET_KUBEADM_ARGS="%s"\n' % " ".join(args), 0o644)


def start_kubelet():
    out("[kubelet-start] Starting the kubelet")
    if NO_SYSTEMCTL or shutil.which("systemctl") is None:
        return
    r = subprocess.run(["systemctl", "restart", "kubelet.service"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        warn("[kubelet-start] WARNING: unable to start the kubelet: %s" % r.stdout.strip())


def stand_in_ca(pki):
    if not os.path.exists(p(pki + "/ca.crt")):
        out('[certs] Generating "ca" certificate and key (STAND-IN: the fake writes no real certificate)')
        write(pki + "/ca.crt", "STAND-IN ca.crt written by the fake kubeadm\n", 0o644)
        write(pki + "/ca.key", "STAND-IN ca.key written by the fake kubeadm\n", 0o600)
        return
    with open(p(pki + "/ca.crt")) as f:
        if "-----BEGIN CERTIFICATE-----" not in f.read():
            raise Fail("[certs] failure loading ca certificate authority: couldn't load the certificate file %s/ca.crt: data does not contain any valid RSA or ECDSA certificates" % pki)
    if not os.path.exists(p(pki + "/ca.key")):
        raise Fail("[certs] %s/ca.crt exists without ca.key: external CA mode needs every certificate (not supported by the fake)" % pki)
    out("[certs] Using existing ca certificate authority")


# ---------------------------------------------------------------- commands


def cmd_version(args):
    flags, _ = parse_flags(args, {"output": True, "o": True})
    fmt = one(flags, "output") or one(flags, "o") or ""
    info = {"major": "1", "minor": "29", "gitVersion": VERSION, "gitCommit": "4b8e819355d791d96b7e9d9efe4cbafae2311c88",
            "gitTreeState": "clean", "buildDate": "2024-02-14T10:39:04Z", "goVersion": "go1.21.7",
            "compiler": "gc", "platform": "linux/amd64"}
    if fmt == "short":
        out(VERSION)
    elif fmt == "json":
        out(json.dumps({"clientVersion": info}, indent=2))
    elif fmt == "yaml":
        out(yaml.safe_dump({"clientVersion": info}, sort_keys=False).rstrip())
    elif fmt == "":
        out('kubeadm version: &version.Info{Major:"1", Minor:"29", GitVersion:"%s", GitCommit:"%s", GitTreeState:"clean", BuildDate:"%s", GoVersion:"go1.21.7", Compiler:"gc", Platform:"linux/amd64"}'
            % (VERSION, info["gitCommit"], info["buildDate"]))
    else:
        raise Fail('invalid output format: %s' % fmt)
    return 0


def images_from(flags):
    no_mixing(flags, {"output", "o", "allow-missing-template-keys", "show-managed-fields"})
    if "config" in flags:
        docs = load_config(one(flags, "config"), {"InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration", "JoinConfiguration"})
        cc = cluster_defaults(docs.get("ClusterConfiguration"))
        nr = (docs.get("InitConfiguration") or docs.get("JoinConfiguration") or {}).get("nodeRegistration")
    else:
        cc = cluster_defaults({"kubernetesVersion": one(flags, "kubernetes-version", ""),
                               "imageRepository": one(flags, "image-repository", "")})
        nr = {"criSocket": one(flags, "cri-socket", "")}
    return cc, nr


def cmd_config(args):
    if args[:1] != ["images"] or len(args) < 2 or args[1] not in ("list", "pull"):
        raise Fail('unknown command "%s" for "kubeadm config"' % " ".join(args[:2]))
    flags, pos = parse_flags(args[2:], {"config": True, "kubernetes-version": True, "image-repository": True,
                                        "cri-socket": True, "output": True, "o": True, "feature-gates": True,
                                        "allow-missing-template-keys": False, "show-managed-fields": False})
    if pos:
        raise Fail('unknown command "%s" for "kubeadm config images %s"' % (pos[0], args[1]))
    cc, nr = images_from(flags)
    imgs = images(cc)
    if args[1] == "list":
        out(*imgs)
        return 0
    # the real pull goes through the CRI socket (cri-dockerd -> Docker): it must answer, as for init
    sock = cri_socket(nr) if "config" in flags or (nr or {}).get("criSocket") else None
    if sock:
        problem = check_cri(sock)
        if problem:
            raise Fail("failed to create new CRI image service: %s\nTo see the stack trace of this error execute with --v=5 or higher" % problem)
    for img in imgs:
        r = subprocess.run(DOCKER + ["pull", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise Fail("failed to pull image %s: output: %s, error: exit status %d\nTo see the stack trace of this error execute with --v=5 or higher" % (img, r.stdout.strip(), r.returncode))
        out("[config/images] Pulled %s" % img)
    return 0


def cmd_init(args):
    flags, pos = parse_flags(args, {"config": True, "skip-token-print": False, "upload-certs": False,
                                    "ignore-preflight-errors": True, "skip-phases": True, "dry-run": False,
                                    "skip-certificate-key-print": False, "certificate-key": True,
                                    "apiserver-advertise-address": True, "pod-network-cidr": True,
                                    "kubernetes-version": True, "cri-socket": True, "node-name": True,
                                    "image-repository": True, "control-plane-endpoint": True})
    if pos:
        raise Fail('unknown command "%s" for "kubeadm init"' % pos[0])
    no_mixing(flags, {"ignore-preflight-errors", "dry-run", "skip-phases", "upload-certs",
                      "skip-certificate-key-print", "skip-token-print", "certificate-key"})
    if "config" not in flags:
        raise Fail("the fake kubeadm needs --config (flags-only init is not implemented)")
    docs = load_config(one(flags, "config"), {"InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"})
    init = docs.get("InitConfiguration")
    if init is None:
        raise Fail("no InitConfiguration found in the supplied config %s (the fake refuses to go on with defaults)" % one(flags, "config"))
    cc = cluster_defaults(docs.get("ClusterConfiguration"))
    nr = init.get("nodeRegistration") or {}
    sock = cri_socket(nr)
    lep = init.get("localAPIEndpoint") or {}
    adv = lep.get("advertiseAddress")
    port = int(lep.get("bindPort") or 6443)
    if not adv:
        raise Fail("localAPIEndpoint.advertiseAddress is not set (the real kubeadm would pick the default route's address; the fake needs it)")
    try:
        ipaddress.ip_address(adv)
    except ValueError:
        raise Fail('localAPIEndpoint.advertiseAddress: Invalid value: "%s": couldn\'t use "%s" as "apiserver-advertise-address", must be ipv4 or ipv6 address' % (adv, adv))
    for t in init.get("bootstrapTokens") or []:
        if not TOKEN_RE.match(str(t.get("token", ""))):
            raise Fail('bootstrapTokens[0].token: Invalid value: "%s": the bootstrap token is invalid' % t.get("token"))
    node_name = nr.get("name") or os.uname().nodename
    out("[init] Using Kubernetes version: %s" % cc["kubernetesVersion"], "[preflight] Running pre-flight checks")
    checks = [("CRI", check_cri(sock)), ("FileContent--proc-sys-net-ipv4-ip_forward", check_ip_forward()),
              ("Swap", check_swap(docs.get("KubeletConfiguration")))]
    for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        checks.append(("FileAvailable--etc-kubernetes-manifests-%s.yaml" % c, file_available("/etc/kubernetes/manifests/%s.yaml" % c)))
    checks.append(("DirAvailable--var-lib-etcd", dir_available("/var/lib/etcd")))
    preflight(checks, ignored_list(nr, flags))
    if "dry-run" in flags:
        out("[dryrun] Would write the control-plane files")
        return 0
    pki = cc["certificatesDir"]
    out('[certs] Using certificateDir folder "%s"' % pki)
    stand_in_ca(pki)
    cadata = ca_data(pki)
    local = "https://%s:%d" % (adv, port)
    shared = "https://" + (endpoint(cc.get("controlPlaneEndpoint"), port) or "%s:%d" % (adv, port))
    out('[kubeconfig] Using kubeconfig folder "/etc/kubernetes"')
    for name, server, user in (("admin.conf", shared, "kubernetes-admin"), ("super-admin.conf", shared, "kubernetes-super-admin"),
                               ("kubelet.conf", shared, "system:node:" + node_name),
                               ("controller-manager.conf", local, "system:kube-controller-manager"),
                               ("scheduler.conf", local, "system:kube-scheduler")):
        out('[kubeconfig] Writing "%s" kubeconfig file' % name)
        write("/etc/kubernetes/" + name, kubeconfig(cc["clusterName"], server, user, cadata), 0o600)
    out('[etcd] Creating static Pod manifest for local etcd in "/etc/kubernetes/manifests"')
    write_control_plane(cc, adv, port, node_name)
    pause = "%s/pause:%s" % (cc["imageRepository"], PAUSE_TAG)
    write_kubelet(docs.get("KubeletConfiguration"), cc, sock, nr, pause)
    out('[kubelet-start] Writing kubelet environment file with flags to file "/var/lib/kubelet/kubeadm-flags.env"',
        '[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"')
    start_kubelet()
    out("", "Your Kubernetes control-plane has initialized successfully!", "",
        "To start using your cluster, you need to run the following as a regular user:", "",
        "  mkdir -p $HOME/.kube", "  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config",
        "  sudo chown $(id -u):$(id -g) $HOME/.kube/config", "")
    if "skip-token-print" not in flags:
        tokens = init.get("bootstrapTokens") or []
        if tokens:
            out("Then you can join any number of worker nodes by running the following on each as root:", "",
                "kubeadm join %s --token %s \\" % (shared[len("https://"):], tokens[0].get("token")),
                "\t--discovery-token-ca-cert-hash sha256:<hash>")
    return 0


def cmd_join(args):
    flags, pos = parse_flags(args, {"config": True, "ignore-preflight-errors": True, "skip-phases": True,
                                    "dry-run": False, "token": True, "discovery-token-ca-cert-hash": True,
                                    "cri-socket": True, "node-name": True, "control-plane": False,
                                    "certificate-key": True})
    no_mixing(flags, {"ignore-preflight-errors", "dry-run", "skip-phases", "certificate-key"})
    if "config" not in flags:
        raise Fail("the fake kubeadm needs --config (flags-only join is not implemented)")
    if pos:
        raise Fail("can not mix '--config' with arguments %s" % json.dumps(pos).replace('"', ""))
    docs = load_config(one(flags, "config"), {"JoinConfiguration"})
    jc = docs.get("JoinConfiguration")
    if jc is None:
        raise Fail("no JoinConfiguration found in the supplied config")
    nr = jc.get("nodeRegistration") or {}
    sock = cri_socket(nr)
    disc = (jc.get("discovery") or {})
    bt = disc.get("bootstrapToken") or {}
    if not bt and not disc.get("file"):
        raise Fail("discovery: Invalid value: \"\": bootstrapToken or file must be set")
    if bt:
        if not TOKEN_RE.match(str(bt.get("token", ""))):
            raise Fail('discovery.bootstrapToken.token: Invalid value: "%s": the bootstrap token is invalid' % bt.get("token"))
        if not bt.get("apiServerEndpoint"):
            raise Fail("discovery.bootstrapToken.apiServerEndpoint: Invalid value: \"\": discovery.bootstrapToken.apiServerEndpoint or discovery.file must be set")
        hashes = bt.get("caCertHashes") or []
        if not hashes and not bt.get("unsafeSkipCAVerification"):
            raise Fail("discovery.bootstrapToken.caCertHashes: Invalid value: \"\": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue")
        for h in hashes:
            if not HASH_RE.match(str(h)):
                raise Fail('discovery.bootstrapToken.caCertHashes: Invalid value: "%s": invalid hash, expected "format:hex-value"' % h)
    server = "https://" + (bt.get("apiServerEndpoint") or "file-discovery")
    cp = jc.get("controlPlane")
    node_name = nr.get("name") or os.uname().nodename
    out("[preflight] Running pre-flight checks")
    checks = [("CRI", check_cri(sock)), ("FileContent--proc-sys-net-ipv4-ip_forward", check_ip_forward()),
              ("Swap", check_swap(None)),
              ("FileAvailable--etc-kubernetes-kubelet.conf", file_available("/etc/kubernetes/kubelet.conf")),
              ("FileAvailable--etc-kubernetes-bootstrap-kubelet.conf", file_available("/etc/kubernetes/bootstrap-kubelet.conf"))]
    pki = "/etc/kubernetes/pki"
    if cp is None:
        checks.append(("FileAvailable--etc-kubernetes-pki-ca.crt", file_available(pki + "/ca.crt")))
    preflight(checks, ignored_list(nr, flags))
    cc = cluster_defaults({"kubernetesVersion": VERSION})
    if cp is not None:
        missing = [f for f in ("ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key",
                               "etcd/ca.crt", "etcd/ca.key") if not os.path.exists(p(pki + "/" + f))]
        if missing:
            raise Fail("error execution phase preflight: \nOne or more conditions for hosting a new control plane instance is not satisfied.\n\n[failure loading certificate for CA: couldn't load the certificate file %s/%s: open %s/%s: no such file or directory]" % (pki, missing[0], pki, missing[0]))
        lep = cp.get("localAPIEndpoint") or {}
        adv = lep.get("advertiseAddress")
        port = int(lep.get("bindPort") or 6443)
        if not adv:
            raise Fail("controlPlane.localAPIEndpoint.advertiseAddress is not set (the fake needs it)")
        out("[certs] Using the existing \"ca\" certificate and key")
        for name, srv, user in (("admin.conf", server, "kubernetes-admin"),
                                ("controller-manager.conf", "https://%s:%d" % (adv, port), "system:kube-controller-manager"),
                                ("scheduler.conf", "https://%s:%d" % (adv, port), "system:kube-scheduler")):
            write("/etc/kubernetes/" + name, kubeconfig("kubernetes", srv, user, ca_data(pki)), 0o600)
        write_control_plane(cc, adv, port, node_name)
    else:
        write(pki + "/ca.crt", "STAND-IN cluster CA fetched by the fake kubeadm's (simulated) discovery from %s\n" % server, 0o644)
    write("/etc/kubernetes/kubelet.conf", kubeconfig("kubernetes", server, "system:node:" + node_name, ca_data(pki)), 0o600)
    write_kubelet(None, cc, sock, nr, "%s/pause:%s" % (cc["imageRepository"], PAUSE_TAG))
    out('[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"')
    start_kubelet()
    out("", "This node has joined the cluster:", "* Certificate signing request was sent to apiserver and a response was received.",
        "* The Kubelet was informed of the new secure connection details.", "",
        "Run 'kubectl get nodes' on the control-plane to see this node join the cluster.")
    return 0


def cmd_reset(args):
    flags, _ = parse_flags(args, {"force": False, "f": False, "cri-socket": True, "cleanup-tmp-dir": False,
                                  "ignore-preflight-errors": True, "kubeconfig": True, "cert-dir": True,
                                  "skip-phases": True, "dry-run": False, "config": True})
    if "force" not in flags and "f" not in flags:
        print("[reset] Are you sure you want to proceed? [y/N]: ", end="", flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise Fail("aborted reset operation")
    cert_dir = one(flags, "cert-dir", "/etc/kubernetes/pki")
    out("[reset] Stopping the kubelet service", "[reset] Unmounting mounted directories in \"/var/lib/kubelet\"")
    for d in ("/etc/kubernetes/manifests", "/var/lib/kubelet", cert_dir, "/var/lib/etcd"):
        full = p(d)
        if os.path.isdir(full):
            for e in os.listdir(full):
                t = os.path.join(full, e)
                shutil.rmtree(t) if os.path.isdir(t) and not os.path.islink(t) else os.remove(t)
    out("[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet %s]" % cert_dir)
    for f in ("admin.conf", "super-admin.conf", "kubelet.conf", "bootstrap-kubelet.conf", "controller-manager.conf", "scheduler.conf"):
        if os.path.exists(p("/etc/kubernetes/" + f)):
            os.remove(p("/etc/kubernetes/" + f))
    out("[reset] Deleting files: [/etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/controller-manager.conf /etc/kubernetes/scheduler.conf]")
    return 0


COMMANDS = {"version": cmd_version, "config": cmd_config, "init": cmd_init, "join": cmd_join, "reset": cmd_reset}


def record_start(argv):
    try:
        os.makedirs(os.path.dirname(CALLS), exist_ok=True)
    except OSError:
        pass
    try:
        with open(CALLS) as f:
            n = sum(1 for _ in f) + 1
    except OSError:
        n = 1
    for i, a in enumerate(argv):
        cfg = a[len("--config="):] if a.startswith("--config=") else (argv[i + 1] if a == "--config" and i + 1 < len(argv) else None)
        if cfg:
            try:
                shutil.copyfile(cfg, p("/var/log/fake-kubeadm.%d.config" % n))
            except OSError:
                pass
    return n


def main(argv):
    n = record_start(argv)
    code = 1
    try:
        if not argv or argv[0] in ("-h", "--help", "help"):
            out("FAKE kubeadm %s (stand-in from mkimage's e2e mirror): version, config images list|pull, init, join, reset" % VERSION)
            code = 0
        elif argv[0] not in COMMANDS:
            raise Fail('unknown command "%s" for "kubeadm"\nRun \'kubeadm --help\' for usage.' % argv[0])
        else:
            code = COMMANDS[argv[0]](argv[1:])
    except Fail as e:
        print(str(e), file=sys.stderr)
        code = 1
    finally:
        try:
            with open(CALLS, "a") as f:
                f.write("%d exit=%d %s\n" % (n, code, " ".join(shlex.quote(a) for a in ["kubeadm"] + argv)))
        except OSError:
            pass  # not root (e.g. `kubeadm version` as a user): the real one needs no log, so neither does the call
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
