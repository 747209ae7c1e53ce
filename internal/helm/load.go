package helm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/ignore"

	"polc.dev/polc/internal/module"
)

// Size caps of a chart, archive or directory. A chart over a cap does not load.
const (
	// MaxArchiveSize caps a packaged chart (.tgz) as stored.
	MaxArchiveSize = 32 << 20
	// MaxChartSize caps the decompressed size of all the files of a chart, subcharts included
	// (Helm's own cap).
	MaxChartSize = 100 << 20
	// MaxArchiveFileSize caps one decompressed file of an archive (Helm's own cap). Files of a
	// chart directory are capped by module.MaxFileSize.
	MaxArchiveFileSize = 5 << 20
	// MaxChartFiles caps the number of files of a chart, subcharts included.
	MaxChartFiles = 10000
	// maxNesting caps how deep subchart archives (charts/*.tgz) nest.
	maxNesting = 8
)

// LoadArchive loads a packaged chart (.tgz) from memory. It refuses archives over the size caps,
// entries that are not regular files or directories (symlinks, hard links, devices) and paths
// that are absolute or leave the chart; subchart archives in charts/ are checked the same way.
// Subcharts are ordered by name.
func LoadArchive(data []byte) (*chart.Chart, error) {
	if len(data) > MaxArchiveSize {
		return nil, fmt.Errorf("load chart archive: %d bytes, over the %d MiB limit", len(data), MaxArchiveSize>>20)
	}
	b := &budget{bytes: MaxChartSize, files: MaxChartFiles}
	files, err := readArchive(data, b, 0)
	if err != nil {
		return nil, fmt.Errorf("load chart archive: %w", err)
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load chart archive: %w", err)
	}
	sortDependencies(ch)
	return ch, nil
}

// budget is what is left of a chart's size and file caps while it loads.
type budget struct {
	bytes int64
	files int
}

// take charges one file of n bytes, or fails when a cap is exceeded.
func (b *budget) take(name string, n int64) error {
	b.files--
	if b.files < 0 {
		return fmt.Errorf("the chart has more than %d files", MaxChartFiles)
	}
	b.bytes -= n
	if b.bytes < 0 {
		return fmt.Errorf("%s: the chart's files are larger than the %d MiB limit", name, MaxChartSize>>20)
	}
	return nil
}

// readArchive reads the files of a gzipped tar archive whose entries sit in one top directory,
// as Helm packages charts, and returns them relative to that directory. Subchart archives among
// them are read too (and thrown away), so that their entries are checked as well.
func readArchive(data []byte, b *budget, depth int) ([]*archive.BufferedFile, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("subchart archives nest more than %d deep", maxNesting)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a gzipped archive: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var files []*archive.BufferedFile
	for {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		f, err := readEntry(tr, hd, b)
		if err != nil {
			return nil, err
		}
		if f == nil {
			continue
		}
		if isSubchartArchive(f.Name) {
			if _, err := readArchive(f.Data, b, depth+1); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, errors.New("no files in chart archive")
	}
	return files, nil
}

// readEntry reads one archive entry: a file relative to the top directory, or nil for
// directories and extended headers.
func readEntry(tr *tar.Reader, hd *tar.Header, b *budget) (*archive.BufferedFile, error) {
	switch hd.Typeflag {
	case tar.TypeDir, tar.TypeXGlobalHeader, tar.TypeXHeader:
		return nil, nil
	case tar.TypeReg:
	case tar.TypeSymlink, tar.TypeLink:
		return nil, fmt.Errorf("%s: links are not allowed in a chart archive", hd.Name)
	default:
		return nil, fmt.Errorf("%s: not a regular file (tar type %q)", hd.Name, hd.Typeflag)
	}
	name, err := entryName(hd.Name)
	if err != nil {
		return nil, err
	}
	if hd.Size > MaxArchiveFileSize {
		return nil, fmt.Errorf("%s: %d bytes, over the %d MiB limit of one file", hd.Name, hd.Size, MaxArchiveFileSize>>20)
	}
	if err := b.take(hd.Name, hd.Size); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(tr, hd.Size+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hd.Name, err)
	}
	if int64(len(data)) != hd.Size {
		return nil, fmt.Errorf("%s: size does not match its header", hd.Name)
	}
	return &archive.BufferedFile{Name: name, ModTime: hd.ModTime, Data: bytes.TrimPrefix(data, utf8BOM)}, nil
}

// utf8BOM is dropped from the start of files, as Helm does.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// entryName returns the path of an archive entry relative to its top directory, or an error for
// a path that is absolute, leaves the chart, or is not inside a top directory.
func entryName(name string) (string, error) {
	if strings.Contains(name, `\`) {
		return "", fmt.Errorf("%s: backslashes are not allowed in chart archive paths", name)
	}
	if path.IsAbs(name) || (len(name) > 1 && name[1] == ':') {
		return "", fmt.Errorf("%s: absolute paths are not allowed in a chart archive", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%s: paths that leave the chart are not allowed in a chart archive", name)
		}
	}
	top, rest, ok := strings.Cut(path.Clean(name), "/")
	if !ok || top == "." || rest == "" {
		return "", fmt.Errorf("%s: chart archive entries must sit in the chart's directory", name)
	}
	if top == "Chart.yaml" {
		return "", errors.New("the chart archive holds Chart.yaml outside the chart's directory")
	}
	return rest, nil
}

// isSubchartArchive reports whether a chart file is a packaged subchart that Helm loads.
func isSubchartArchive(name string) bool {
	sub, ok := strings.CutPrefix(name, "charts/")
	return ok && !strings.Contains(sub, "/") && path.Ext(sub) == ".tgz" && strings.IndexAny(sub, "_.") != 0
}

// LoadDir loads an unpackaged chart from dir, a slash path relative to the repository root
// root. It reads only through module.Resolve and module.ReadFile, so paths and symlinks that
// leave root are refused, and files over module.MaxFileSize; it honours the chart's
// .helmignore as Helm does, refuses files that are not regular and caps the number and size of
// files. Subcharts are ordered by name.
func LoadDir(root, dir string) (*chart.Chart, error) {
	w := &dirWalk{root: root, dir: path.Clean(dir), budget: budget{bytes: MaxChartSize, files: MaxChartFiles}, seen: map[string]bool{}}
	if err := w.load(); err != nil {
		return nil, fmt.Errorf("load chart %s: %w", w.dir, err)
	}
	ch, err := loader.LoadFiles(w.files)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", w.dir, err)
	}
	sortDependencies(ch)
	return ch, nil
}

// dirWalk collects the files of a chart directory.
type dirWalk struct {
	root, dir string
	rules     *ignore.Rules
	budget    budget
	files     []*archive.BufferedFile
	// seen holds the real paths of the directories walked, so symlinked loops end.
	seen map[string]bool
}

// load reads the .helmignore rules and walks the chart directory.
func (w *dirWalk) load() error {
	w.rules = ignore.Empty()
	data, err := module.ReadFile(w.root, path.Join(w.dir, ignore.HelmIgnore))
	switch {
	case err == nil:
		if w.rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return fmt.Errorf("%s: %w", ignore.HelmIgnore, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	w.rules.AddDefaults()
	return w.walk("", 0)
}

// walk reads the directory rel (relative to the chart directory; "" is the chart directory).
func (w *dirWalk) walk(rel string, depth int) error {
	if depth > 32 {
		return fmt.Errorf("%s: directories nest too deep", rel)
	}
	abs, err := module.Resolve(w.root, path.Join(w.dir, rel))
	if err != nil {
		return err
	}
	if w.seen[abs] {
		return nil
	}
	w.seen[abs] = true
	entries, err := os.ReadDir(abs)
	if err != nil {
		return fmt.Errorf("read %s: %w", path.Join(w.dir, rel), unwrapPathError(err))
	}
	for _, e := range entries { // ReadDir sorts by name
		if err := w.entry(path.Join(rel, e.Name()), depth); err != nil {
			return err
		}
	}
	return nil
}

// entry reads one directory entry, following symlinks that stay inside the repository.
func (w *dirWalk) entry(rel string, depth int) error {
	repoRel := path.Join(w.dir, rel)
	abs, err := module.Resolve(w.root, repoRel)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("read %s: %w", repoRel, unwrapPathError(err))
	}
	if w.rules.Ignore(rel, fi) {
		return nil
	}
	switch {
	case fi.IsDir():
		return w.walk(rel, depth+1)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file", repoRel)
	}
	if err := w.budget.take(repoRel, fi.Size()); err != nil {
		return err
	}
	data, err := module.ReadFile(w.root, repoRel)
	if err != nil {
		return err
	}
	w.files = append(w.files, &archive.BufferedFile{Name: rel, ModTime: fi.ModTime(), Data: bytes.TrimPrefix(data, utf8BOM)})
	return nil
}

// unwrapPathError drops the absolute path of an *os.PathError, so that messages stay relative
// to the repository.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// sortDependencies orders the subcharts of ch, recursively, by name: Helm's loader adds them in
// map order.
func sortDependencies(ch *chart.Chart) {
	deps := slices.Clone(ch.Dependencies())
	slices.SortStableFunc(deps, func(a, b *chart.Chart) int { return strings.Compare(a.Name(), b.Name()) })
	ch.SetDependencies(deps...)
	for _, d := range deps {
		sortDependencies(d)
	}
}
