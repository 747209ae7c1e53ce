package genfiles

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

const hdr = "# generated\n"

// gen recognises the test's generated files by their header.
func gen(_ string, data []byte) bool { return strings.HasPrefix(string(data), hdr) }

var pack = []File{
	{Path: "kustomization.yaml", Data: []byte(hdr + "resources: [a.yaml, sub/b.yaml]\n")},
	{Path: "a.yaml", Data: []byte(hdr + "a: 1\n")},
	{Path: "sub/b.yaml", Data: []byte(hdr + "b: 2\n")},
}

// tree returns every path below dir (directories with a trailing slash, symlinks with their
// target, other files with their contents), for comparing states.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return filepath.SkipAll
		}
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			out[rel+"/"] = ""
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			require.NoError(t, err)
			out[rel] = "-> " + target
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			out[rel] = string(data)
		default:
			out[rel] = d.Type().String()
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func paths(ds []Difference) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

func TestWriteAndDiff(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out", "policies")
	diff, err := Diff(dir, pack, gen)
	require.NoError(t, err)
	require.Equal(t, []string{"missing a.yaml", "missing kustomization.yaml", "missing sub/b.yaml"}, paths(diff))
	require.NoDirExists(t, dir, "Diff writes nothing")

	ch, err := Write(dir, pack, gen)
	require.NoError(t, err)
	require.Equal(t, []string{"a.yaml", "kustomization.yaml", "sub/b.yaml"}, sorted(ch.Written))
	diff, err = Diff(dir, pack, gen)
	require.NoError(t, err)
	require.Empty(t, diff)

	// Unchanged files are not rewritten; stale generated files go, with the directories they
	// leave empty; other files stay.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte("kind: Mine\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "old", "deeper"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "old", "deeper", "gone.yaml"), []byte(hdr), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(hdr+"edited"), 0o644))
	diff, err = Diff(dir, pack, gen)
	require.NoError(t, err)
	require.Equal(t, []string{"stale a.yaml", "extra old/deeper/gone.yaml"}, paths(diff))
	ch, err = Write(dir, pack, gen)
	require.NoError(t, err)
	require.Equal(t, Changes{Written: []string{"a.yaml"}, Removed: []string{"old/deeper/gone.yaml"}}, ch)
	got := tree(t, dir)
	require.Equal(t, map[string]string{"./": "", "a.yaml": string(pack[1].Data), "kustomization.yaml": string(pack[0].Data),
		"sub/": "", "sub/b.yaml": string(pack[2].Data), "mine.yaml": "kind: Mine\n"}, got)
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// TestWriteRefuses: every refusal happens before anything is written, and leaves the output
// directory (and whatever is outside it) exactly as it was.
func TestWriteRefuses(t *testing.T) {
	tests := []struct {
		name  string
		files []File
		setup func(t *testing.T, dir, outside string)
		want  error
		msg   string
	}{
		{name: "file symlink", setup: func(t *testing.T, dir, outside string) {
			require.NoError(t, os.Symlink(filepath.Join(outside, "target"), filepath.Join(dir, "a.yaml")))
		}, want: ErrSymlink, msg: "a.yaml: it is a symlink"},
		{name: "dangling file symlink", setup: func(t *testing.T, dir, outside string) {
			require.NoError(t, os.Symlink(filepath.Join(outside, "nothing-here"), filepath.Join(dir, "a.yaml")))
		}, want: ErrSymlink},
		{name: "symlink to a file inside", setup: func(t *testing.T, dir, _ string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte("mine"), 0o644))
			require.NoError(t, os.Symlink("mine.yaml", filepath.Join(dir, "kustomization.yaml")))
		}, want: ErrSymlink},
		{name: "directory symlink", setup: func(t *testing.T, dir, outside string) {
			require.NoError(t, os.Symlink(outside, filepath.Join(dir, "sub")))
		}, want: ErrSymlink, msg: "directory sub is a symlink"},
		{name: "FIFO", setup: func(t *testing.T, dir, _ string) {
			require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "a.yaml"), 0o644))
		}, want: ErrNotRegular},
		{name: "directory where a file goes", setup: func(t *testing.T, dir, _ string) {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "kustomization.yaml", "x"), 0o755))
		}, want: ErrNotRegular},
		{name: "file where a directory goes", setup: func(t *testing.T, dir, _ string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "sub"), []byte("a file"), 0o644))
		}, want: ErrNotDir},
		{name: "dot-dot path", files: []File{{Path: "../escaped.yaml", Data: []byte(hdr)}}, want: ErrBadPath},
		{name: "dot-dot inside", files: []File{{Path: "a/../../escaped.yaml", Data: []byte(hdr)}}, want: ErrBadPath},
		{name: "absolute path", files: []File{{Path: "/etc/escaped.yaml", Data: []byte(hdr)}}, want: ErrBadPath},
		{name: "line break", files: []File{{Path: "a\nb.yaml", Data: []byte(hdr)}}, want: ErrBadPath},
		{name: "temporary file name", files: []File{{Path: ".polc-tmp-x", Data: []byte(hdr)}}, want: ErrBadPath},
		{name: "file and directory", files: []File{{Path: "a", Data: []byte(hdr)}, {Path: "a/b", Data: []byte(hdr)}}, msg: "both as a file and as the directory"},
		{name: "twice", files: []File{{Path: "a", Data: []byte(hdr)}, {Path: "a", Data: []byte(hdr)}}, msg: "generated twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir, outside := filepath.Join(base, "out"), filepath.Join(base, "outside")
			require.NoError(t, os.Mkdir(dir, 0o755))
			require.NoError(t, os.Mkdir(outside, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(outside, "target"), []byte("not polc's"), 0o644))
			if tc.setup != nil {
				tc.setup(t, dir, outside)
			}
			files := tc.files
			if files == nil {
				files = pack
			}
			before := tree(t, base)
			// Write must refuse without opening special files (a FIFO would block it; go test's
			// -timeout stops a hang).
			_, err := Write(dir, files, gen)
			require.Error(t, err)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			}
			require.ErrorContains(t, err, tc.msg)
			require.Contains(t, err.Error(), "nothing written")
			require.Equal(t, before, tree(t, base), "a refused Write changed files")
		})
	}
}

// TestOutputDirSymlink: an output directory that is a symlink is refused by Write and Diff, and
// nothing is written where it points.
func TestOutputDirSymlink(t *testing.T) {
	base := t.TempDir()
	elsewhere := filepath.Join(base, "elsewhere")
	require.NoError(t, os.Mkdir(elsewhere, 0o755))
	repo := filepath.Join(base, "repo")
	require.NoError(t, os.Mkdir(repo, 0o755))
	dir := filepath.Join(repo, "policies")
	require.NoError(t, os.Symlink(elsewhere, dir))

	_, err := Write(dir, pack, gen)
	require.ErrorIs(t, err, ErrSymlink)
	require.ErrorContains(t, err, dir)
	_, err = Diff(dir, pack, gen)
	require.ErrorIs(t, err, ErrSymlink)
	require.ErrorIs(t, CheckOutputDir(repo, dir), ErrSymlink)
	entries, err := os.ReadDir(elsewhere)
	require.NoError(t, err)
	require.Empty(t, entries, "written through the symlinked output directory")
}

func TestCheckOutputDir(t *testing.T) {
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	elsewhere := filepath.Join(base, "elsewhere")
	for _, d := range []string{filepath.Join(repo, "docs"), filepath.Join(repo, "real"), elsewhere} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(repo, "link")))
	require.NoError(t, os.Symlink("real", filepath.Join(repo, "inner-link")))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "file"), nil, 0o644))
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(base, "outside-link")))
	tests := []struct {
		dir  string
		want error
	}{
		{dir: "docs/modules"},
		{dir: "new/deeper"},
		{dir: "link", want: ErrSymlink},
		{dir: "link/modules", want: ErrSymlink},
		{dir: "inner-link/modules", want: ErrSymlink},
		{dir: "file/modules", want: ErrNotDir},
		{dir: "../elsewhere/out"},
		{dir: "../outside-link", want: ErrSymlink},
		{dir: "../outside-link/sub"}, // outside the repository: chosen by the user, only the directory itself is checked
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			err := CheckOutputDir(repo, filepath.Join(repo, filepath.FromSlash(tc.dir)))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, "output directory")
		})
	}
}

// TestDiffSpecialFiles: --check never opens special files or follows symlinks, so a symlink to
// /dev/zero or a FIFO returns promptly as a difference, whether polc generates that path or not.
func TestDiffSpecialFiles(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{name: "symlink to /dev/zero", setup: func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, "kustomization.yaml")))
			require.NoError(t, os.Symlink("/dev/zero", filepath.Join(dir, "kustomization.yaml")))
		}, want: []string{"unsafe kustomization.yaml: it " + ErrSymlink.Error()}},
		{name: "FIFO", setup: func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, "kustomization.yaml")))
			require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "kustomization.yaml"), 0o644))
		}, want: []string{"unsafe kustomization.yaml: it " + ErrNotRegular.Error() + " (a FIFO)"}},
		{name: "directory symlink", setup: func(t *testing.T, dir string) {
			require.NoError(t, os.RemoveAll(filepath.Join(dir, "sub")))
			require.NoError(t, os.Symlink("/dev", filepath.Join(dir, "sub")))
		}, want: []string{"unsafe sub/b.yaml: directory sub " + ErrSymlink.Error()}},
		{name: "too large", setup: func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), make([]byte, MaxFileSize+1), 0o644))
		}, want: []string{"unsafe kustomization.yaml: it is larger than the 4 MiB limit"}}, // unread, so not known to be polc's
		{name: "special files that are not generated are skipped", setup: func(t *testing.T, dir string) {
			require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o644))
			require.NoError(t, os.Symlink("/dev/zero", filepath.Join(dir, "zero.yaml")))
			require.NoError(t, os.Symlink("/", filepath.Join(dir, "root")))
			f, err := os.Create(filepath.Join(dir, "huge.yaml"))
			require.NoError(t, err)
			require.NoError(t, f.Truncate(MaxFileSize+1))
			require.NoError(t, f.Close())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Write(dir, pack, gen)
			require.NoError(t, err)
			tc.setup(t, dir)
			// Diff must not open special files (a FIFO would block it; go test's -timeout stops a hang).
			diff, err := Diff(dir, pack, gen)
			require.NoError(t, err)
			require.Equal(t, tc.want, paths(diff))
		})
	}
}

// TestWriteFailureLeavesNoPartialState: a failure after some files are written to temporary
// files leaves the directory as it was: no temporary file, no new directory, no new file.
func TestWriteFailureLeavesNoPartialState(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "new", "policies")
	testHookBeforeCommit = func() error { return errors.New("disk full") }
	t.Cleanup(func() { testHookBeforeCommit = nil })

	_, err := Write(dir, pack, gen)
	require.ErrorContains(t, err, "disk full")
	require.Equal(t, map[string]string{"./": ""}, tree(t, base), "the directories Write created are removed")

	// Over an existing pack: the old files stay as they were.
	testHookBeforeCommit = nil
	old := []File{{Path: "kustomization.yaml", Data: []byte(hdr + "old\n")}, {Path: "gone.yaml", Data: []byte(hdr)}}
	_, err = Write(dir, old, gen)
	require.NoError(t, err)
	before := tree(t, base)
	testHookBeforeCommit = func() error { return errors.New("disk full") }
	_, err = Write(dir, pack, gen)
	require.ErrorContains(t, err, "disk full")
	require.Equal(t, before, tree(t, base))
}

func TestCreate(t *testing.T) {
	files := []File{{Path: "modules/apps/x/module.yaml", Data: []byte("m")}, {Path: "modules/apps/x/kustomization.yaml", Data: []byte("k")}}
	tests := []struct {
		name     string
		setup    func(t *testing.T, root, outside string)
		existing Existing
		hook     error
		created  []string
		skipped  []string
		want     error
		msg      string
	}{
		{name: "new", created: []string{"modules/apps/x/module.yaml", "modules/apps/x/kustomization.yaml"}},
		{name: "refuse existing", existing: RefuseExisting, want: ErrExists, setup: func(t *testing.T, root, _ string) {
			require.NoError(t, os.MkdirAll(filepath.Join(root, "modules/apps/x"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(root, "modules/apps/x/kustomization.yaml"), []byte("mine"), 0o644))
		}},
		{name: "skip existing", existing: SkipExisting, created: []string{"modules/apps/x/module.yaml"}, skipped: []string{"modules/apps/x/kustomization.yaml"},
			setup: func(t *testing.T, root, _ string) {
				require.NoError(t, os.MkdirAll(filepath.Join(root, "modules/apps/x"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(root, "modules/apps/x/kustomization.yaml"), []byte("mine"), 0o644))
			}},
		{name: "dangling symlink is never written through", existing: SkipExisting, created: []string{"modules/apps/x/kustomization.yaml"}, skipped: []string{"modules/apps/x/module.yaml"},
			setup: func(t *testing.T, root, outside string) {
				require.NoError(t, os.MkdirAll(filepath.Join(root, "modules/apps/x"), 0o755))
				require.NoError(t, os.Symlink(filepath.Join(outside, "new"), filepath.Join(root, "modules/apps/x/module.yaml")))
			}},
		{name: "symlinked directory", existing: SkipExisting, want: ErrSymlink, msg: "directory modules/apps is a symlink", setup: func(t *testing.T, root, outside string) {
			require.NoError(t, os.MkdirAll(filepath.Join(root, "modules"), 0o755))
			require.NoError(t, os.Symlink(outside, filepath.Join(root, "modules/apps")))
		}},
		{name: "file where a directory goes", want: ErrNotDir, setup: func(t *testing.T, root, _ string) {
			require.NoError(t, os.WriteFile(filepath.Join(root, "modules"), nil, 0o644))
		}},
		{name: "failure before the commit", hook: errors.New("disk full"), msg: "disk full"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			root, outside := filepath.Join(base, "repo"), filepath.Join(base, "outside")
			require.NoError(t, os.Mkdir(root, 0o755))
			require.NoError(t, os.Mkdir(outside, 0o755))
			if tc.setup != nil {
				tc.setup(t, root, outside)
			}
			if tc.hook != nil {
				testHookBeforeCommit = func() error { return tc.hook }
				t.Cleanup(func() { testHookBeforeCommit = nil })
			}
			before := tree(t, base)
			created, skipped, err := Create(root, files, tc.existing)
			if tc.want != nil || tc.msg != "" {
				if tc.want != nil {
					require.ErrorIs(t, err, tc.want)
				}
				require.ErrorContains(t, err, tc.msg)
				require.Equal(t, before, tree(t, base), "a failed Create changed files")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.created, created)
			require.Equal(t, tc.skipped, skipped)
			after := tree(t, base)
			for _, f := range files {
				key := filepath.Join("repo", filepath.FromSlash(f.Path))
				if contains(tc.created, f.Path) {
					require.Equal(t, string(f.Data), after[key])
				} else {
					require.Equal(t, before[key], after[key], "an existing file changed")
				}
			}
			entries, err := os.ReadDir(outside)
			require.NoError(t, err)
			require.Empty(t, entries, "written outside the repository")
			for p := range after {
				require.NotContains(t, p, tempPrefix, "a temporary file is left")
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestCheckLabel(t *testing.T) {
	for name, ok := range map[string]bool{
		"media": true, "storage-core": true, "a1": true, "1a": true, strings.Repeat("a", 63): true,
		"": false, "../../../escaped/owned": false, "a\nb": false, "A": false, "a_b": false, "-a": false, "a-": false,
		"a.b": false, strings.Repeat("a", 64): false, "a b": false, "[x](y)": false,
	} {
		err := CheckLabel(name)
		if ok {
			require.NoError(t, err, name)
		} else {
			require.ErrorIs(t, err, ErrBadName, name)
		}
	}
}

func TestMarkdown(t *testing.T) {
	tests := []struct{ in, text, code string }{
		{in: "plain words, 1.0.0 (and more)", text: "plain words, 1.0.0 (and more)", code: "plain words, 1.0.0 (and more)"},
		{in: "longhorn.io", text: "longhorn.io", code: "`longhorn.io`"},
		{in: "modules/apps/media", text: "modules/apps/media", code: "`modules/apps/media`"},
		{in: "[click](https://evil)", text: `\[click\](https://evil)`, code: `\[click\](https://evil)`},
		{in: "<img src=x>", text: `\<img src=x\>`, code: `\<img src=x\>`},
		{in: "a`b", text: "a\\`b", code: "a\\`b"},
		{in: "a | b", text: `a \| b`, code: `a \| b`},
		{in: "line\nbreak\r\n\tand tab", text: "line break and tab"},
		{in: "*bold* _em_ ~~s~~ $m$ &amp; \\", text: `\*bold\* \_em\_ \~\~s\~\~ \$m\$ \&amp; \\`},
		{in: "OAUTH2_PROXY_CLIENT_ID", text: "OAUTH2_PROXY_CLIENT_ID", code: "`OAUTH2_PROXY_CLIENT_ID`"},
		{in: "# heading", text: `\# heading`},
		{in: "- item", text: `\- item`},
		{in: "---", text: `\---`},
		{in: "1. item", text: `1\. item`},
		{in: "12) item", text: `12\) item`},
		{in: "bell\x07", text: "bell\uFFFD"},
		{in: "", text: ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.text, MarkdownText(tc.in))
			if tc.code != "" {
				require.Equal(t, tc.code, MarkdownCode(tc.in))
			}
		})
	}
}
