package module

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// MaxFileSize caps every file polc reads, so a huge or endless file cannot exhaust memory.
const MaxFileSize = 4 << 20

// ConfigFile is the repository configuration file name.
const ConfigFile = "polc.yaml"

// MetadataFile is the module metadata file name.
const MetadataFile = "module.yaml"

// ReadFile reads rel (slash-separated, relative to root) and refuses paths or symlinks that leave
// root, non-regular files and files over MaxFileSize. Errors name the relative path.
func ReadFile(root, rel string) ([]byte, error) {
	abs, err := Resolve(root, rel)
	if err != nil {
		return nil, err
	}
	// Stat before opening: opening a FIFO or a device for reading can block forever.
	if st, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, unwrapPath(err))
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", rel)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, unwrapPath(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", rel)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, unwrapPath(err))
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read %s: file is larger than the %d MiB limit", rel, MaxFileSize>>20)
	}
	return data, nil
}

// ErrLeavesRepo and ErrSymlinkOutside are wrapped by the errors of paths that Resolve refuses.
var (
	ErrLeavesRepo     = errors.New("path leaves the repository")
	ErrSymlinkOutside = errors.New("symlink points outside the repository (not followed)")
)

// Resolve returns the absolute path of rel under root after following symlinks, or an error when
// the path leaves root (wrapping ErrLeavesRepo or ErrSymlinkOutside).
func Resolve(root, rel string) (string, error) {
	clean := path.Clean(filepath.ToSlash(rel))
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%s: %w", rel, ErrLeavesRepo)
	}
	abs := filepath.Join(root, filepath.FromSlash(clean))
	real, err := resolvePath(abs)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", rel, unwrapPath(err))
	}
	realRoot, err := realPath(root)
	if err != nil {
		return "", fmt.Errorf("resolve repository root: %w", err)
	}
	if real != realRoot && !strings.HasPrefix(real, realRoot+string(filepath.Separator)) {
		return "", fmt.Errorf("%s: %w", rel, ErrSymlinkOutside)
	}
	return real, nil
}

// resolvePath resolves the symlinks of abs. Directories are resolved once per process (realPath):
// Resolve runs for every file polc and kustomize read, and resolving each path component again
// for every file costs more system calls than reading the files.
func resolvePath(abs string) (string, error) {
	dir, base := filepath.Split(abs)
	if base == "" || dir == "" {
		return filepath.EvalSymlinks(abs)
	}
	realDir, err := realPath(filepath.Clean(dir))
	if err != nil {
		return "", err
	}
	p := filepath.Join(realDir, base)
	fi, err := os.Lstat(p)
	if err != nil {
		return "", err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return filepath.EvalSymlinks(p)
	}
	return p, nil
}

// realRoots memoises resolved directories (repository roots and the directories of files read).
var realRoots sync.Map

// realPath returns root with symlinks resolved, once per path and process.
func realPath(root string) (string, error) {
	if v, ok := realRoots.Load(root); ok {
		return v.(string), nil
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	realRoots.Store(root, real)
	return real, nil
}

// unwrapPath drops the absolute path from *fs.PathError so messages stay repository-relative.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parseDocument parses a single-document YAML file into its top node. It refuses empty files and
// multiple documents.
func parseDocument(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &DecodeError{Errors: []*FieldError{{Pos: Pos{File: file, Line: 1, Column: 1}, Message: "file is empty"}}}
		}
		return nil, &DecodeError{Errors: []*FieldError{YAMLErrorIn(file, data, err)}}
	}
	// Later documents must be empty (a trailing ---); a broken one is invalid YAML, not ignored.
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &DecodeError{Errors: []*FieldError{YAMLErrorIn(file, data, err)}}
		}
		if !isNull(&extra) {
			top := extra.Content[0]
			return nil, &DecodeError{Errors: []*FieldError{{Pos: Pos{File: file, Line: top.Line, Column: top.Column}, Message: "expected one YAML document, found more"}}}
		}
	}
	if isNull(&doc) {
		return nil, &DecodeError{Errors: []*FieldError{{Pos: Pos{File: file, Line: 1, Column: 1}, Message: "file is empty"}}}
	}
	return doc.Content[0], nil
}

// isNull reports whether a document node holds nothing: no content, or a bare null (---, ~).
func isNull(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	top := doc.Content[0]
	return top.Kind == yaml.ScalarNode && top.Tag == "!!null" && top.Anchor == ""
}

// decodeFile strictly decodes data into v and returns the recorded field positions.
func decodeFile(file string, data []byte, v any, kind string) (map[string]Pos, error) {
	n, err := parseDocument(file, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: file, positions: map[string]Pos{}}
	d.decode(n, reflect.ValueOf(v).Elem(), "")
	rv := reflect.ValueOf(v).Elem()
	if av := rv.FieldByName("APIVersion").String(); av != "" && av != APIVersion {
		d.fail(n, "apiVersion: invalid value %q; allowed values: %s", av, APIVersion)
	}
	if k := rv.FieldByName("Kind").String(); k != "" && k != kind {
		d.fail(n, "kind: invalid value %q; allowed values: %s", k, kind)
	}
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool {
			a, b := d.errs[i].Pos, d.errs[j].Pos
			return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
		})
		return nil, &DecodeError{Errors: d.errs}
	}
	return d.positions, nil
}

// ParseModule strictly decodes a module.yaml. file is used in positions.
func ParseModule(file string, data []byte) (*Module, error) {
	m := &Module{}
	pos, err := decodeFile(file, data, m, "Module")
	if err != nil {
		return nil, err
	}
	m.positions = pos
	m.File = file
	m.Dir = path.Dir(file)
	var errs []*FieldError
	for i, ns := range m.Spec.Namespaces {
		if ns.Level() != Restricted && strings.TrimSpace(ns.Reason) == "" {
			field := fmt.Sprintf("spec.namespaces[%d]", i)
			errs = append(errs, &FieldError{Pos: m.Pos(field + ".podSecurity"),
				Message: fmt.Sprintf("%s.reason: required when podSecurity is %s (say why the namespace needs a level looser than restricted)", field, ns.PodSecurity)})
		}
	}
	for i, u := range m.Spec.Uses {
		if !IsDNSLabel(u.Namespace) {
			field := fmt.Sprintf("spec.uses[%d].namespace", i)
			errs = append(errs, &FieldError{Pos: m.Pos(field), Message: fmt.Sprintf("%s: %q is not a DNS-1123 label", field, u.Namespace)})
		}
	}
	if len(errs) > 0 {
		return nil, &DecodeError{Errors: errs}
	}
	return m, nil
}

// ParseConfig strictly decodes a polc.yaml, filling unset fields with the defaults.
func ParseConfig(file string, data []byte) (*Config, error) {
	c := &Config{}
	pos, err := decodeFile(file, data, c, "Config")
	if err != nil {
		return nil, err
	}
	def := DefaultConfig()
	s := &c.Spec
	setDefault(&s.ModulesDir, def.Spec.ModulesDir)
	setDefault(&s.PoliciesDir, def.Spec.PoliciesDir)
	setDefault(&s.Domain, def.Spec.Domain)
	setDefault(&s.Kyverno.Target, def.Spec.Kyverno.Target)
	setDefault(&s.Kyverno.Action, def.Spec.Kyverno.Action)
	if s.FluxPrefixes == nil {
		s.FluxPrefixes = def.Spec.FluxPrefixes
	}
	setDefault(&s.Source.Kind, def.Spec.Source.Kind)
	setDefault(&s.Source.Name, def.Spec.Source.Name)
	setDefault(&s.Source.Namespace, def.Spec.Source.Namespace)
	setDefault(&s.Render.KubeVersion, def.Spec.Render.KubeVersion)
	if s.SharedNamespaces == nil {
		if _, set := pos["spec.sharedNamespaces"]; !set {
			s.SharedNamespaces = def.Spec.SharedNamespaces
		}
	}
	if s.Substitute == nil {
		s.Substitute = map[string]string{}
	}
	if s.Rules == nil {
		s.Rules = map[string]RuleConfig{}
	}
	c.positions = pos
	c.File = file
	dirs := []struct{ name, dir string }{{"modulesDir", s.ModulesDir}, {"policiesDir", s.PoliciesDir}}
	for i, d := range s.Clusters {
		dirs = append(dirs, struct{ name, dir string }{fmt.Sprintf("clusters[%d]", i), d})
	}
	for _, f := range dirs {
		clean := path.Clean(f.dir)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			p := c.Pos("spec." + f.name)
			return nil, &DecodeError{Errors: []*FieldError{{Pos: p, Message: fmt.Sprintf("spec.%s: %q leaves the repository", f.name, f.dir)}}}
		}
	}
	var errs []*FieldError
	for _, list := range []struct {
		field string
		globs []string
	}{{"modules", s.Modules}, {"exclude", s.Exclude}} {
		for i, g := range list.globs {
			if err := checkGlob(g); err != nil {
				field := fmt.Sprintf("spec.%s[%d]", list.field, i)
				errs = append(errs, &FieldError{Pos: c.Pos(field), Message: fmt.Sprintf("%s: %v", field, err)})
			}
		}
	}
	for i, n := range s.SharedNamespaces {
		field := fmt.Sprintf("spec.sharedNamespaces[%d]", i)
		if !IsDNSLabel(n.Name) {
			errs = append(errs, &FieldError{Pos: c.Pos(field + ".name"), Message: fmt.Sprintf("%s.name: %q is not a DNS-1123 label", field, n.Name)})
		}
		if n.Level() != Restricted && strings.TrimSpace(n.Reason) == "" {
			errs = append(errs, &FieldError{Pos: c.Pos(field + ".podSecurity"),
				Message: fmt.Sprintf("%s.reason: required when podSecurity is %s (say why the namespace needs a level looser than restricted)", field, n.PodSecurity)})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Substitute)) {
		if !IsVarName(name) {
			errs = append(errs, &FieldError{Pos: c.Pos("spec.substitute." + name),
				Message: fmt.Sprintf("spec.substitute: invalid variable name %q; expected letters, digits and underscores, not starting with a digit (Flux refuses other names)", name)})
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Pos.Line < errs[j].Pos.Line })
		return nil, &DecodeError{Errors: errs}
	}
	return c, nil
}

// dnsLabel is the form of a Kubernetes DNS-1123 label, without its length limit.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// IsDNSLabel reports whether name is a Kubernetes DNS-1123 label: at most 63 lowercase letters,
// digits and '-', starting and ending with a letter or digit. Module, namespace and Flux names
// must be one; such a name holds no '/', '.', '*', line break, YAML or Markdown syntax.
func IsDNSLabel(name string) bool { return len(name) <= 63 && dnsLabel.MatchString(name) }

// varName is the variable name syntax that Flux accepts for post-build substitution.
var varName = regexp.MustCompile(`^[_[:alpha:]][_[:alpha:][:digit:]]*$`)

// IsVarName reports whether name is a variable name that Flux accepts for post-build
// substitution: a letter or underscore, then letters, digits and underscores.
func IsVarName(name string) bool { return varName.MatchString(name) }

func setDefault[T ~string](v *T, def T) {
	if *v == "" {
		*v = def
	}
}

// LoadConfig reads polc.yaml from the repository root; without one, the defaults apply.
func LoadConfig(root string) (*Config, error) {
	if _, err := os.Lstat(filepath.Join(root, ConfigFile)); errors.Is(err, fs.ErrNotExist) {
		return DefaultConfig(), nil
	}
	data, err := ReadFile(root, ConfigFile)
	if err != nil {
		return nil, err
	}
	return ParseConfig(ConfigFile, data)
}

// Candidate is a directory holding a module.yaml, with the module or the error that loading it gave.
type Candidate struct {
	// Dir is the module directory relative to the repository root.
	Dir string
	// Module is nil when Err is set.
	Module *Module
	Err    error
}

// Discover finds every module directory (a directory matching polc.yaml spec.modules, by default
// everything under spec.modulesDir, that holds a module.yaml and is not excluded by spec.exclude),
// sorted by path, and loads each. Walk errors (an unreadable directory) are returned; metadata
// errors are recorded per candidate.
func Discover(root string, cfg *Config) ([]Candidate, error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("resolve repository root: %w", err)
	}
	found := map[string]bool{}
	walked := 0
	for _, base := range globBases(cfg.ModuleGlobs()) {
		// Resolve confines the base to the repository and follows a symlink to it (WalkDir would
		// not descend into a symlinked root).
		dir, err := Resolve(root, base)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("modules directory: %w", err)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		walked++
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			// rel is the path found (a symlinked base resolved), logical the path through base,
			// which the globs are matched against.
			rel, _ := filepath.Rel(realRoot, p)
			rel = filepath.ToSlash(rel)
			sub, _ := filepath.Rel(dir, p)
			logical := path.Join(base, filepath.ToSlash(sub))
			if err != nil {
				return fmt.Errorf("read %s: %w", rel, unwrapPath(err))
			}
			if d.IsDir() && (cfg.Excluded(logical) || cfg.Excluded(rel)) {
				return filepath.SkipDir
			}
			if !d.IsDir() && d.Name() == MetadataFile && cfg.IsModuleDir(path.Dir(logical)) {
				found[path.Dir(rel)] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if walked == 0 {
		if len(cfg.Spec.Modules) == 0 {
			return nil, fmt.Errorf("modules directory %q not found in %s", cfg.Spec.ModulesDir, root)
		}
		return nil, fmt.Errorf("no directory of polc.yaml spec.modules %v exists in %s", cfg.Spec.Modules, root)
	}
	out := make([]Candidate, 0, len(found))
	for _, d := range slices.Sorted(maps.Keys(found)) {
		out = append(out, Candidate{Dir: d})
	}
	// Parse in parallel: a pre-commit run loads every module's metadata to build the graph.
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), max(len(out), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := &out[i]
				rel := c.Dir + "/" + MetadataFile
				data, err := ReadFile(root, rel)
				if err == nil {
					c.Module, err = ParseModule(rel, data)
				}
				c.Err = err
			}
		}()
	}
	for i := range out {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, nil
}

// globBases returns the directories to walk for globs: the base of each, without those below
// another, sorted.
func globBases(globs []string) []string {
	var bases []string
	for _, g := range globs {
		bases = append(bases, globBase(g))
	}
	slices.Sort(bases)
	var out []string
	for _, b := range slices.Compact(bases) {
		if len(out) > 0 {
			last := out[len(out)-1]
			if last == "." || strings.HasPrefix(b, last+"/") {
				continue
			}
		}
		out = append(out, b)
	}
	return out
}

// YAMLError turns a YAML parser error ("yaml: line 3: ...") into a FieldError at that line.
func YAMLError(file string, err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if strings.HasPrefix(msg, "line ") {
		fmt.Sscanf(msg[5:], "%d", &line)
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	return &FieldError{Pos: Pos{File: file, Line: line, Column: 1}, Message: "invalid YAML: " + msg}
}

// YAMLErrorIn is YAMLError for a parser error about data, the file's bytes. The parser reports
// an encoding problem (invalid UTF-8, a character YAML does not allow) with no line, or the line
// it was reading ahead from; such an error is placed at the first offending character of data
// instead, and names it.
func YAMLErrorIn(file string, data []byte, err error) *FieldError {
	fe := YAMLError(file, err)
	if !strings.Contains(fe.Message, "UTF-8") && !strings.Contains(fe.Message, "Unicode character") &&
		!strings.Contains(fe.Message, "control characters") {
		return fe
	}
	if line, col, what, ok := firstBadChar(data); ok {
		fe.Pos.Line, fe.Pos.Column = line, col
		fe.Message += " (" + what + ")"
	}
	return fe
}

// firstBadChar finds the first byte of data that is not valid UTF-8, or the first character
// YAML does not allow (C0 and C1 controls but tab, line breaks and NEL; DEL; U+FFFE, U+FFFF),
// and returns its line and column, counted as the YAML parser counts them (lines end at \n, \r,
// \r\n, NEL, U+2028 and U+2029; columns are characters, from 1), and what it is ("byte 0xff",
// "character U+0007"). UTF-16 input, which starts with a byte order mark, is not looked at.
func firstBadChar(data []byte) (line, col int, what string, ok bool) {
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return 0, 0, "", false
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark is skipped
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line, col, fmt.Sprintf("byte 0x%02x", data[i]), true
		case r == '\r' && i+1 < len(data) && data[i+1] == '\n':
			// counted with the \n
		case r == '\n' || r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029':
			line, col = line+1, 0
		case !yamlPrintable(r):
			return line, col, fmt.Sprintf("character %U", r), true
		}
		i += size
		col++
	}
	return 0, 0, "", false
}

// yamlPrintable reports whether YAML allows r in a stream (the YAML 1.2 c-printable production).
func yamlPrintable(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7e || r == 0x85 ||
		r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
}
