// FAKE cri-dockerd 0.3.9: a stand-in for Mirantis/cri-dockerd, built by the e2e mirror (test/e2e/mirror) as a
// real, statically linked Go binary so that the image self-check meets what a real build meets (Go runtime
// symbol names such as `runtime.entersyscallblock` match the bootstrap-token pattern; issue 7).
//
// What it does, faithful to cri-dockerd 0.3.9 where the tests touch it:
//   - `--version` prints "cri-dockerd 0.3.9 (fake)" and exits 0;
//   - accepts the flags the packaged unit passes (`--container-runtime-endpoint fd:// --network-plugin=cni
//     --pod-infra-container-image=...`) and the other common ones; an unknown flag exits 1;
//   - connects to the Docker API (--docker-endpoint, default unix:///var/run/docker.sock), GET /version, logs the
//     Docker version and refuses ApiVersion >= 1.44 (Docker 25+: the real 0.3.9 breaks there, Mirantis/cri-dockerd#299,
//     at the first image inspect; the fake fails at start so the breakage is visible at once);
//   - listens where the real one does: the socket systemd passes (LISTEN_FDS=1, LISTEN_PID, fd 3) for
//     `--container-runtime-endpoint fd://`, else the unix socket named by the endpoint (default
//     /var/run/cri-dockerd.sock);
//   - tells systemd READY=1 on $NOTIFY_SOCKET (the unit is Type=notify).
// What it does NOT do: it is not a CRI server. Connections are accepted and closed without a gRPC answer.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const version = "0.3.9"

func logf(level, format string, args ...interface{}) {
	// logrus text format, as cri-dockerd logs
	fmt.Fprintf(os.Stderr, "time=%q level=%s msg=%q\n", time.Now().UTC().Format(time.RFC3339), level, fmt.Sprintf(format, args...))
}

func fatalf(format string, args ...interface{}) {
	logf("fatal", format, args...)
	os.Exit(1)
}

type dockerVersion struct {
	Version    string `json:"Version"`
	APIVersion string `json:"ApiVersion"`
}

func dockerClient(endpoint string) (*http.Client, string, error) {
	switch {
	case strings.HasPrefix(endpoint, "unix://"):
		path := strings.TrimPrefix(endpoint, "unix://")
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}, "http://docker", nil
	case strings.HasPrefix(endpoint, "tcp://"):
		return &http.Client{Timeout: 10 * time.Second}, "http://" + strings.TrimPrefix(endpoint, "tcp://"), nil
	}
	return nil, "", fmt.Errorf("unsupported docker endpoint %q", endpoint)
}

func getDockerVersion(endpoint string) (dockerVersion, error) {
	var v dockerVersion
	client, base, err := dockerClient(endpoint)
	if err != nil {
		return v, err
	}
	resp, err := client.Get(base + "/version")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return v, err
	}
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("GET /version: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("GET /version: %v", err)
	}
	return v, nil
}

// apiAtLeast reports whether the API version "1.44" style string v is >= major.minor.
func apiAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 2)
	if len(parts) != 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// listener returns the socket systemd passed (socket activation) or a new unix socket at path.
func listener(endpoint string) (net.Listener, error) {
	if endpoint == "fd://" || strings.HasPrefix(endpoint, "fd://") {
		pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID"))
		n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
		if pid != os.Getpid() || n < 1 {
			return nil, fmt.Errorf("%s given but systemd passed no socket (LISTEN_PID=%q LISTEN_FDS=%q)", endpoint, os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"))
		}
		f := os.NewFile(3, "LISTEN_FD_3")
		l, err := net.FileListener(f)
		f.Close()
		return l, err
	}
	if !strings.HasPrefix(endpoint, "unix://") {
		return nil, fmt.Errorf("unsupported container runtime endpoint %q (want fd:// or unix://PATH)", endpoint)
	}
	path := strings.TrimPrefix(endpoint, "unix://")
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return net.Listen("unix", path)
}

func notifyReady() {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		logf("warning", "sd_notify: %v", err)
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("READY=1")); err != nil {
		logf("warning", "sd_notify: %v", err)
	}
}

func main() {
	fs := flag.NewFlagSet("cri-dockerd", flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "Prints the version of cri-dockerd")
	endpoint := fs.String("container-runtime-endpoint", "unix:///var/run/cri-dockerd.sock", "The endpoint of backend runtime service")
	dockerEndpoint := fs.String("docker-endpoint", "unix:///var/run/docker.sock", "Use this for the docker endpoint to communicate with.")
	networkPlugin := fs.String("network-plugin", "", "The name of the network plugin to be invoked for various events in kubelet/pod lifecycle.")
	podInfra := fs.String("pod-infra-container-image", "registry.k8s.io/pause:3.9", "The image whose network/ipc namespaces containers in each pod will use")
	fs.String("cni-bin-dir", "/opt/cni/bin", "A comma-separated list of full paths of directories in which to search for CNI plugin binaries.")
	fs.String("cni-conf-dir", "/etc/cni/net.d", "The full path of the directory in which to search for CNI config files")
	fs.String("cni-cache-dir", "/var/lib/cni/cache", "The full path of the directory in which CNI should store cache files.")
	fs.String("cri-dockerd-root-directory", "/var/lib/cri-dockerd", "Path to the cri-dockerd root directory.")
	fs.String("log-level", "info", "The log level for cri-docker")
	fs.String("hairpin-mode", "promiscuous-bridge", "How should kubelet setup hairpin NAT.")
	fs.String("runtime-cgroups", "", "Optional absolute name of cgroups to create and run the runtime in.")
	fs.String("image-pull-progress-deadline", "1m0s", "If no pulling progress is made before this deadline, the image pulling will be cancelled.")
	fs.Int("network-plugin-mtu", 0, "The MTU to be passed to the network plugin")
	fs.Bool("ipv6-dual-stack", false, "Enable IPv6 dual stack support")
	fs.Bool("buildinfo", false, "Prints the build information about cri-dockerd")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(1)
	}
	if *showVersion {
		fmt.Printf("cri-dockerd %s (fake)\n", version)
		return
	}
	logf("info", "Connecting to docker on the Endpoint %s", *dockerEndpoint)
	logf("info", "FAKE cri-dockerd %s (stand-in from the mkimage e2e mirror; not a CRI server)", version)

	// Docker may still be coming up (socket-activated docker.service): a few tries, then fail like the real one.
	var dv dockerVersion
	var err error
	for try := 1; try <= 5; try++ {
		if dv, err = getDockerVersion(*dockerEndpoint); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		fatalf("failed to get docker version from %s: %v", *dockerEndpoint, err)
	}
	logf("info", "Docker version %s, API version %s", dv.Version, dv.APIVersion)
	if apiAtLeast(dv.APIVersion, 1, 44) {
		fatalf("Docker %s (API %s) is not supported by cri-dockerd %s: Docker 25+ dropped the image VirtualSize field it reads (Mirantis/cri-dockerd#299; fixed in 0.3.10)", dv.Version, dv.APIVersion, version)
	}
	logf("info", "Hairpin mode is set; network plugin %q; pod infra container image %q", *networkPlugin, *podInfra)

	l, err := listener(*endpoint)
	if err != nil {
		fatalf("failed to listen: %v", err)
	}
	logf("info", "Start cri-dockerd grpc backend (fake: accepts and closes connections) on %s", l.Addr())
	notifyReady()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sig
		logf("info", "received %v, shutting down", s)
		l.Close()
		os.Exit(0)
	}()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Temporary() {
				continue
			}
			fatalf("accept: %v", err)
		}
		conn.Close()
	}
}
