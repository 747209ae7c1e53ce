// Package hermetic closes the polc process to the outside, as defence in depth behind the checks
// that keep remote references out of rendering: polc reads untrusted repositories, and no value
// read from one may make it open a connection or start a program.
//
// Enter, called once by main before any command runs:
//   - replaces the default HTTP transport (which kustomize's remote loader and any library
//     using http.DefaultClient fall back to) with one that refuses every request;
//   - resolves git, the one program polc starts (for --changed-since), to an absolute path, and
//     then empties PATH, so that no library can find another program (kustomize's git cloner
//     looks git up in PATH, and finds nothing).
package hermetic

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
)

// ErrNetwork is the error of every HTTP request made after Enter.
var ErrNetwork = errors.New("polc does not use the network")

// refusing is an http.RoundTripper that refuses every request.
type refusing struct{}

// RoundTrip refuses the request.
func (refusing) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), ErrNetwork)
}

// network is the default transport as the process started, before Enter replaced it.
var network = http.DefaultTransport

// Network returns the transport that reaches the network, for the one command that may use it
// (polc charts pull).
func Network() http.RoundTripper { return network }

// Transport is the transport installed by Enter.
var Transport http.RoundTripper = refusing{}

var (
	mu      sync.Mutex
	gitPath string
	entered bool
)

// Enter closes the process to the network and to programs other than git. It is idempotent.
func Enter() {
	mu.Lock()
	defer mu.Unlock()
	if entered {
		return
	}
	entered = true
	http.DefaultTransport = Transport
	http.DefaultClient = &http.Client{Transport: Transport}
	if p, err := exec.LookPath("git"); err == nil {
		gitPath = p
	}
	os.Setenv("PATH", "")
}

// Git returns the git program to run: the absolute path resolved by Enter, or "git" (looked up in
// PATH) in a process that did not call Enter, such as a test. An empty string means git was not
// found when Enter ran.
func Git() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if !entered {
		return exec.LookPath("git")
	}
	if gitPath == "" {
		return "", errors.New("git is not installed (it is needed for --changed-since)")
	}
	return gitPath, nil
}
