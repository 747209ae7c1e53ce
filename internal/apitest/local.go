package apitest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// AssetsEnv is the environment variable that names the directory of the etcd and kube-apiserver
// binaries (the controller-runtime envtest convention).
const AssetsEnv = "KUBEBUILDER_ASSETS"

// ControlPlane is an etcd and a kube-apiserver started by polc on 127.0.0.1, with all their
// state in one private temporary directory.
type ControlPlane struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	dir    string
	etcd   string // etcd's data directory, possibly in memory outside dir
	procs  []*exec.Cmd
	done   []chan struct{}
}

// FindBinary returns the path of the binary name: in $KUBEBUILDER_ASSETS, else next to the running
// executable (where `make e2e` builds kube-apiserver beside polc), else on PATH.
func FindBinary(name string) (string, error) {
	var dirs []string
	if d := os.Getenv(AssetsEnv); d != "" {
		dirs = append(dirs, d)
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in $%s, next to polc, or on PATH: set %s to a directory with etcd and kube-apiserver (setup-envtest), or pass --kubeconfig", name, AssetsEnv, AssetsEnv)
}

// StartLocal starts etcd and kube-apiserver on free loopback ports and waits until the API server
// is ready, for at most wait. Progress goes to progress. Stop stops both and removes their state.
func StartLocal(ctx context.Context, progress io.Writer, wait time.Duration) (cp *ControlPlane, err error) {
	etcdBin, err := FindBinary("etcd")
	if err != nil {
		return nil, err
	}
	apiBin, err := FindBinary("kube-apiserver")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "polc-test-")
	if err != nil {
		return nil, err
	}
	cp = &ControlPlane{dir: dir, etcd: filepath.Join(dir, "etcd")}
	defer func() {
		if err != nil {
			cp.Stop()
			cp = nil
		}
	}()
	// etcd's fsyncs cost nothing when its data lives in memory.
	if shm, err := os.MkdirTemp("/dev/shm", "polc-test-etcd-"); err == nil {
		cp.etcd = shm
	}
	ports, err := freePorts(3)
	if err != nil {
		return cp, err
	}
	p, err := writePKI(dir)
	if err != nil {
		return cp, err
	}
	t0 := time.Now()
	client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	if err := cp.start("etcd", etcdBin, "--name", "polc", "--data-dir", cp.etcd,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "polc="+peer); err != nil {
		return cp, err
	}
	server := "https://127.0.0.1:" + strconv.Itoa(ports[2])
	if err := cp.start("kube-apiserver", apiBin, "--etcd-servers", client,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(ports[2]),
		"--cert-dir", filepath.Join(dir, "apiserver"),
		"--tls-cert-file", p.cert, "--tls-private-key-file", p.key,
		"--token-auth-file", p.tokens, "--authorization-mode", "RBAC", "--anonymous-auth=false",
		"--service-account-issuer", server, "--service-account-key-file", p.saPub,
		"--service-account-signing-key-file", p.saKey,
		"--service-cluster-ip-range", "10.0.0.0/24", "--endpoint-reconciler-type", "none",
		"--allow-privileged=true", "--profiling=false"); err != nil {
		return cp, err
	}
	cp.Config = &rest.Config{Host: server, BearerToken: p.token, TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM}}
	fmt.Fprintf(progress, "polc test: starting etcd and kube-apiserver on 127.0.0.1 (state in %s)\n", dir)
	if err := cp.waitReady(ctx, p, wait); err != nil {
		return cp, err
	}
	fmt.Fprintf(progress, "polc test: local control plane ready in %.1fs\n", time.Since(t0).Seconds())
	return cp, nil
}

// start starts a process with its output in dir/NAME.log.
func (cp *ControlPlane) start(name, bin string, args ...string) error {
	log, err := os.Create(filepath.Join(cp.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = cp.dir
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	cp.procs = append(cp.procs, cmd)
	cp.done = append(cp.done, done)
	return nil
}

// waitReady polls /readyz until it answers 200, for at most wait, failing early when a process exits.
func (cp *ControlPlane) waitReady(ctx context.Context, p pki, wait time.Duration) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(wait)
	for {
		for i, d := range cp.done {
			select {
			case <-d:
				return fmt.Errorf("%s exited; its log: %s", filepath.Base(cp.procs[i].Path), filepath.Join(cp.dir, filepath.Base(cp.procs[i].Path)+".log"))
			default:
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cp.Config.Host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+p.token)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver not ready after %s", wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Stop stops the processes (SIGTERM, SIGKILL after 10 seconds), newest first, and removes the
// state directory.
func (cp *ControlPlane) Stop() error {
	var errs []error
	for i := len(cp.procs) - 1; i >= 0; i-- {
		cmd, done := cp.procs[i], cp.done[i]
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				errs = append(errs, fmt.Errorf("%s (pid %d) did not stop", cmd.Path, cmd.Process.Pid))
			}
		}
	}
	cp.procs, cp.done = nil, nil
	if err := os.RemoveAll(cp.etcd); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(cp.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// freePorts returns n distinct loopback ports that nothing listened on a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// pki is the files and secrets of a local control plane.
type pki struct {
	cert, key, saPub, saKey, tokens string
	caPEM                           []byte
	token                           string
}

// writePKI writes a CA, the API server's serving pair for 127.0.0.1, the service-account key pair
// and a token file with one administrator into dir, readable only by the user.
func writePKI(dir string) (pki, error) {
	p := pki{cert: filepath.Join(dir, "apiserver.crt"), key: filepath.Join(dir, "apiserver.key"),
		saPub: filepath.Join(dir, "sa.pub"), saKey: filepath.Join(dir, "sa.key"), tokens: filepath.Join(dir, "tokens.csv")}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "polc-test-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return p, err
	}
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return p, err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return p, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return p, err
	}
	p.token = hex.EncodeToString(tok)
	files := map[string][]byte{
		p.cert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		p.tokens: []byte(p.token + ",polc-test-admin,polc-test-admin,system:masters\n"),
	}
	for path, k := range map[string]*ecdsa.PrivateKey{p.key: srvKey, p.saKey: saKey} {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return p, err
		}
		files[path] = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return p, err
	}
	files[p.saPub] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	for path, b := range files {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return p, err
		}
	}
	return p, nil
}
