package infer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// TestReadTagsStaysInTheRepository: tags are read from .git/refs/tags only when it lies inside
// the repository; a .git/refs linked outside gives none.
func TestReadTagsStaysInTheRepository(t *testing.T) {
	outside := t.TempDir()
	testutil.WriteFiles(t, outside, map[string]string{"refs/tags/media-v9.9.9": "0\n"})
	root := testutil.WriteRepo(t, map[string]string{".git/HEAD": "ref: refs/heads/main\n", ".git/refs/tags/media-v1.2.3": "0\n"})
	require.Equal(t, tagSet{"media": {{"1.2.3", "media-v1.2.3"}}}, readTags(root))

	// A new repository: polc resolves each directory once per process.
	root = testutil.WriteRepo(t, map[string]string{".git/HEAD": "ref: refs/heads/main\n"})
	require.NoError(t, os.Symlink(filepath.Join(outside, "refs"), filepath.Join(root, ".git", "refs")))
	require.Empty(t, readTags(root))
}

// TestTagNames: a tag is split at the separator that leaves a version, whatever the name holds.
func TestTagNames(t *testing.T) {
	root := testutil.WriteRepo(t, map[string]string{".git/HEAD": "x\n",
		".git/packed-refs": "0 refs/tags/my-vault/v1.0.0\n0 refs/tags/web-v2.0.0-rc.10\n0 refs/tags/web-v2.0.0-rc.9\n"})
	tags := readTags(root)
	v, tag := tags.newest("my-vault")
	require.Equal(t, "1.0.0", v)
	require.Equal(t, "my-vault/v1.0.0", tag)
	v, _ = tags.newest("web")
	require.Equal(t, "2.0.0-rc.10", v, "pre-releases by semver precedence")
}
