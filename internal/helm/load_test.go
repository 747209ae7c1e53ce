package helm

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"polc.dev/polc/internal/module"
)

func TestLoadArchiveRefuses(t *testing.T) {
	chartYAML := minimal["Chart.yaml"]
	nested := tgz(t, entry{name: "sub/Chart.yaml", body: "apiVersion: v2\nname: sub\nversion: 0.1.0\n"},
		entry{name: "sub/templates/x.yaml", typ: tar.TypeSymlink, link: "/etc/passwd"})
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{name: "parent path", data: tgz(t, entry{name: "mini/Chart.yaml", body: chartYAML}, entry{name: "mini/../evil.yaml", body: "x"}), wantErr: "paths that leave the chart"},
		{name: "absolute path", data: tgz(t, entry{name: "/mini/Chart.yaml", body: chartYAML}), wantErr: "absolute paths"},
		{name: "symlink", data: tgz(t, entry{name: "mini/Chart.yaml", body: chartYAML}, entry{name: "mini/templates/x.yaml", typ: tar.TypeSymlink, link: "/etc/passwd"}), wantErr: "mini/templates/x.yaml: links are not allowed"},
		{name: "hard link", data: tgz(t, entry{name: "mini/Chart.yaml", body: chartYAML}, entry{name: "mini/values.yaml", typ: tar.TypeLink, link: "mini/Chart.yaml"}), wantErr: "links are not allowed"},
		{name: "device", data: tgz(t, entry{name: "mini/Chart.yaml", body: chartYAML}, entry{name: "mini/dev", typ: tar.TypeChar}), wantErr: "not a regular file"},
		{name: "symlink in a subchart archive", data: tgz(t, entry{name: "mini/Chart.yaml", body: chartYAML}, entry{name: "mini/charts/sub-0.1.0.tgz", body: string(nested)}), wantErr: "charts/sub-0.1.0.tgz: sub/templates/x.yaml: links are not allowed"},
		{name: "file over the cap", data: tgz(t, entry{name: "mini/Chart.yaml", body: chartYAML}, entry{name: "mini/big.txt", body: strings.Repeat("x", MaxArchiveFileSize+1)}), wantErr: "over the 5 MiB limit of one file"},
		{name: "file outside the chart directory", data: tgz(t, entry{name: "Chart.yaml", body: chartYAML}), wantErr: "must sit in the chart's directory"},
		{name: "not gzip", data: []byte("apiVersion: v2\n"), wantErr: "not a gzipped archive"},
		{name: "empty", data: tgz(t), wantErr: "no files in chart archive"},
		{name: "no Chart.yaml", data: tgz(t, entry{name: "mini/values.yaml", body: "a: 1\n"}), wantErr: "Chart.yaml file is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadArchive(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadArchiveTooManyFiles(t *testing.T) {
	entries := []entry{{name: "mini/Chart.yaml", body: minimal["Chart.yaml"]}}
	for i := range MaxChartFiles {
		entries = append(entries, entry{name: "mini/files/f" + strconv.Itoa(i)})
	}
	_, err := LoadArchive(tgz(t, entries...))
	if err == nil || !strings.Contains(err.Error(), "more than 10000 files") {
		t.Fatalf("error = %v", err)
	}
}

// writeFiles writes files under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadDir(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, with(demo,
		".helmignore", "ignored/\n*.bak\n",
		"ignored/secret.yaml", "not: loaded\n",
		"templates/old.yaml.bak", "{{ fail \"must be ignored\" }}",
	))
	// A symlink inside the repository is followed.
	if err := os.Symlink("deployment.yaml", filepath.Join(root, "templates", "linked.yaml")); err != nil {
		t.Fatal(err)
	}
	ch, err := LoadDir(root, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range ch.Templates {
		names = append(names, f.Name)
	}
	want := "templates/NOTES.txt templates/_helpers.tpl templates/capabilities.yaml templates/deployment.yaml templates/hook.yaml templates/linked.yaml templates/scoped.yaml templates/tests/test.yaml"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("templates = %s\nwant %s", got, want)
	}
	for _, f := range ch.Files {
		if strings.HasPrefix(f.Name, "ignored/") {
			t.Errorf("ignored file %s loaded", f.Name)
		}
	}
}

func TestLoadDirRefuses(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.yaml": "kind: Secret\n"})
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr string
		is      error
	}{
		{
			name: "symlink outside the repository",
			setup: func(t *testing.T, dir string) {
				if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(dir, "chart", "templates", "s.yaml")); err != nil {
					t.Fatal(err)
				}
			},
			is: module.ErrSymlinkOutside,
		},
		{
			name: "symlinked directory outside the repository",
			setup: func(t *testing.T, dir string) {
				if err := os.Symlink(outside, filepath.Join(dir, "chart", "templates", "out")); err != nil {
					t.Fatal(err)
				}
			},
			is: module.ErrSymlinkOutside,
		},
		{
			name: "fifo",
			setup: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "chart", "templates", "pipe.yaml"), 0o644); err != nil {
					t.Skip("mkfifo:", err)
				}
			},
			wantErr: "chart/templates/pipe.yaml: not a regular file",
		},
		{
			name: "file over the cap",
			setup: func(t *testing.T, dir string) {
				writeFiles(t, dir, map[string]string{"chart/big.txt": strings.Repeat("x", module.MaxFileSize+1)})
			},
			wantErr: "chart/big.txt",
		},
		{
			name:    "directory leaving the repository",
			setup:   func(t *testing.T, dir string) {},
			wantErr: "path leaves the repository",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{"chart/Chart.yaml": minimal["Chart.yaml"], "chart/templates/cm.yaml": "kind: ConfigMap\n"})
			tc.setup(t, root)
			dir := "chart"
			if tc.name == "directory leaving the repository" {
				dir = "../chart"
			}
			_, err := LoadDir(root, dir)
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.is != nil && !errors.Is(err, tc.is):
				t.Fatalf("error = %v, want %v", err, tc.is)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), root) {
				t.Errorf("error names the absolute path: %v", err)
			}
		})
	}
}
