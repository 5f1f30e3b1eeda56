package shop

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/yuin/goldmark"

	"github.com/zoe-analytics/zoe/zapp"
)

// ManifestFile is the file that makes a directory a ZApp folder.
const ManifestFile = "manifest.json"

// ManifestVersion is the only manifest format version Zoe reads.
const ManifestVersion = 1

// folderRE is the shape of folder names: they become part of URLs.
var folderRE = regexp.MustCompile(`^[0-9a-z_.-]+$`)

// ZApp is one entry of a manifest, loaded and checked.
type ZApp struct {
	ID       string // "<folder>-<index in the manifest>"
	Folder   string
	Category string
	Name     string
	// Summary is the first paragraph of the readme as plain text.
	Summary    string
	ReadmeHTML template.HTML
	// Description is the template the start form instantiates; never
	// change it (use Instantiate). DescriptionFile is its file name in
	// the folder, as the manifest gives it.
	Description     *zapp.Description
	DescriptionFile string
	Parameters      []Parameter
	GuestAccess     bool
	Labels          []string
	EnabledFor      []string
	DisabledFor     []string
	// IdleTimeout shortens the idle timeout of its executions (0 none);
	// ActivityURLs are asked before one is terminated for idleness.
	IdleTimeout  time.Duration
	ActivityURLs []zapp.ActivityURL
	// LogoFile is the absolute path of the logo, "" when the folder has
	// none; serve it through (*Shop).Logo, which checks it again.
	LogoFile string

	folderPath string
	logoName   string
}

// entry is a manifest's zapps[i] as written.
type entry struct {
	Category, Name          string
	Description, Readme     string
	Parameters              []Parameter
	GuestAccess             bool
	Logo                    string
	Labels                  []string
	EnabledFor, DisabledFor []string
	IdleTimeout             time.Duration
	ActivityURLs            []zapp.ActivityURL
	logoSet                 bool
}

// Load reads every ZApp folder of the shop directory dir once, for tools
// such as `zoe zapp validate`; the portal uses Open.
func Load(dir string) ([]*ZApp, []Problem) {
	return load(dir)
}

func load(dir string) ([]*ZApp, []Problem) {
	var zapps []*ZApp
	var problems []Problem
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, []Problem{{Path: dir, Message: fmt.Sprintf("cannot read the shop directory: %v", err)}}
	}
	md := newMarkdown()
	for _, de := range ents {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		folder := filepath.Join(dir, name)
		if fi, err := os.Stat(folder); err != nil || !fi.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(folder, ManifestFile)); err != nil {
			continue // not a ZApp folder, as in the original
		}
		z, p := loadFolder(md, folder, name)
		zapps = append(zapps, z...)
		problems = append(problems, p...)
	}
	return zapps, problems
}

// LoadFolder loads the one ZApp folder at path, named in IDs and problem
// paths by its base name. It returns the good ZApps and the problems of the
// others.
func LoadFolder(path string) ([]*ZApp, []Problem) {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return loadFolder(newMarkdown(), path, filepath.Base(path))
}

// loadFolder loads the ZApp folder at path; id is its name in the shop.
func loadFolder(md goldmark.Markdown, path, id string) ([]*ZApp, []Problem) {
	manifestPath := filepath.ToSlash(filepath.Join(id, ManifestFile))
	problem := func(file, format string, args ...any) Problem {
		return Problem{Folder: id, Path: file, Message: fmt.Sprintf(format, args...)}
	}
	if !folderRE.MatchString(id) {
		return nil, []Problem{problem(id, "folder name must be lower case letters, digits, \"_\", \".\" and \"-\" (it becomes part of URLs)")}
	}
	data, err := os.ReadFile(filepath.Join(path, ManifestFile))
	if err != nil {
		return nil, []Problem{problem(manifestPath, "%v", err)}
	}
	entries, errs := decodeManifest(data)
	var problems []Problem
	for _, e := range errs {
		problems = append(problems, problem(manifestPath, "%s", e.Error()))
	}
	var zapps []*ZApp
	for i, e := range entries {
		if e == nil {
			continue // its decoding errors are in errs
		}
		z, probs := loadEntry(md, path, id, i, e)
		problems = append(problems, probs...)
		if z != nil {
			zapps = append(zapps, z)
		}
	}
	return zapps, problems
}

// decodeManifest strictly decodes a manifest. An error outside zapps[]
// makes the whole manifest unusable (nil entries); an error in zapps[i]
// leaves entries[i] nil and keeps the others.
func decodeManifest(data []byte) ([]*entry, zapp.Errors) {
	var root json.RawMessage
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, zapp.Errors{{Message: "invalid JSON: " + err.Error()}}
	}
	var version int64
	var rawZApps []json.RawMessage
	errs := decodeObject("", root, []field{
		{"version", true, integer(&version, nil)},
		{"zapps", true, func(raw json.RawMessage) string {
			if k := jsonKind(raw); k != "a list" {
				return "want a list, got " + k
			}
			if err := json.Unmarshal(raw, &rawZApps); err != nil {
				return err.Error()
			}
			return ""
		}},
	})
	if len(errs) == 0 && version != ManifestVersion {
		errs = append(errs, zapp.FieldError{Path: "version", Message: fmt.Sprintf("must be %d, got %d", ManifestVersion, version)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	entries := make([]*entry, len(rawZApps))
	for i, raw := range rawZApps {
		e, eerrs := decodeEntry(index("zapps", i), raw)
		if len(eerrs) > 0 {
			errs = append(errs, eerrs...)
			continue
		}
		entries[i] = e
	}
	return entries, errs
}

func decodeEntry(path string, raw json.RawMessage) (*entry, zapp.Errors) {
	e := &entry{Logo: DefaultLogo, EnabledFor: []string{"all"}}
	var params []json.RawMessage
	var urlErrs zapp.Errors
	errs := decodeObject(path, raw, []field{
		{"category", true, str(&e.Category, true)},
		{"name", true, str(&e.Name, true)},
		{"description", true, str(&e.Description, true)},
		{"readable_descr", true, str(&e.Readme, true)},
		{"parameters", false, func(raw json.RawMessage) string {
			if k := jsonKind(raw); k != "a list" {
				return "want a list, got " + k
			}
			_ = json.Unmarshal(raw, &params)
			return ""
		}},
		{"guest_access", false, boolean(&e.GuestAccess)},
		{"logo", false, func(raw json.RawMessage) string { e.logoSet = true; return str(&e.Logo, true)(raw) }},
		{"labels", false, strList(&e.Labels)},
		{"enabled_for", false, strList(&e.EnabledFor)},
		{"disabled_for", false, strList(&e.DisabledFor)},
		{"idle_timeout", false, idleTimeout(&e.IdleTimeout)},
		{"activity_urls", false, activityURLs(path, &e.ActivityURLs, &urlErrs)},
	})
	errs = append(errs, urlErrs...)
	seen := map[string]int{}
	for i, raw := range params {
		pp := index(join(path, "parameters"), i)
		p, perrs := decodeParameter(pp, raw)
		errs = append(errs, perrs...)
		if len(perrs) > 0 {
			continue
		}
		// The start form names its fields after the parameters.
		if j, dup := seen[p.Key()]; dup {
			errs = append(errs, zapp.FieldError{Path: join(pp, "name"), Message: fmt.Sprintf("duplicate %s parameter %q (also parameters[%d])", p.Kind, p.Name, j)})
			continue
		}
		seen[p.Key()] = i
		e.Parameters = append(e.Parameters, p)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return e, nil
}

// loadEntry reads the files of manifest entry i and checks them together.
func loadEntry(md goldmark.Markdown, folder, id string, i int, e *entry) (*ZApp, []Problem) {
	at := fmt.Sprintf("zapps[%d] (%q)", i, e.Name)
	rel := func(name string) string { return filepath.ToSlash(filepath.Join(id, filepath.Clean(name))) }
	problem := func(file, format string, args ...any) []Problem {
		return []Problem{{Folder: id, Path: file, Message: fmt.Sprintf(format, args...)}}
	}
	manifestPath := filepath.ToSlash(filepath.Join(id, ManifestFile))

	descPath, err := inside(folder, e.Description)
	if err != nil {
		return nil, problem(manifestPath, "%s.description: %v", index("zapps", i), err)
	}
	data, err := os.ReadFile(descPath)
	if err != nil {
		return nil, problem(rel(e.Description), "%s: cannot read the description: %v", at, unwrapPath(err))
	}
	desc, err := zapp.Parse(data, zapp.TrustShop)
	if err != nil {
		var problems []Problem
		var ferrs zapp.Errors
		if errors.As(err, &ferrs) {
			for _, fe := range ferrs {
				problems = append(problems, problem(rel(e.Description), "%s", fe.Error())...)
			}
		} else {
			problems = problem(rel(e.Description), "%v", err)
		}
		return nil, problems
	}

	readmePath, err := inside(folder, e.Readme)
	if err != nil {
		return nil, problem(manifestPath, "%s.readable_descr: %v", index("zapps", i), err)
	}
	src, err := os.ReadFile(readmePath)
	if err != nil {
		return nil, problem(rel(e.Readme), "%s: cannot read the readme: %v", at, unwrapPath(err))
	}
	html, sum, err := renderReadme(md, src)
	if err != nil {
		return nil, problem(rel(e.Readme), "%s: cannot render the readme: %v", at, err)
	}

	logo, err := resolveLogo(folder, e.Logo)
	switch {
	case errors.Is(err, ErrNoLogo) && !e.logoSet:
		logo = "" // no logo.png: the portal shows a placeholder
	case err != nil:
		return nil, problem(manifestPath, "%s.logo: %v", index("zapps", i), err)
	}

	var errs []Problem
	for j, p := range e.Parameters {
		if msg := p.checkAgainst(desc); msg != "" {
			errs = append(errs, problem(manifestPath, "%s.parameters[%d].name: %s", index("zapps", i), j, msg)...)
		}
	}
	for _, fe := range checkActivityURLs(e.ActivityURLs, desc) {
		errs = append(errs, problem(manifestPath, "%s.%s", index("zapps", i), fe.Error())...)
	}
	if len(errs) > 0 {
		return nil, errs
	}

	z := &ZApp{
		ID:              id + "-" + strconv.Itoa(i),
		Folder:          id,
		Category:        e.Category,
		Name:            e.Name,
		Summary:         sum,
		ReadmeHTML:      html,
		Description:     desc,
		DescriptionFile: e.Description,
		Parameters:      e.Parameters,
		GuestAccess:     e.GuestAccess,
		Labels:          e.Labels,
		EnabledFor:      e.EnabledFor,
		DisabledFor:     e.DisabledFor,
		IdleTimeout:     e.IdleTimeout,
		ActivityURLs:    e.ActivityURLs,
		LogoFile:        logo,
		folderPath:      folder,
		logoName:        e.Logo,
	}
	// The defaults and the manifest's labels must give a valid
	// description, or the ZApp could never start from the shop.
	if _, err := z.Instantiate(Request{}); err != nil {
		var ferrs zapp.Errors
		if !errors.As(err, &ferrs) {
			return nil, problem(manifestPath, "%s: %v", at, err)
		}
		for _, fe := range ferrs {
			errs = append(errs, problem(manifestPath, "%s: with the default parameters: %s", at, fe.Error())...)
		}
		return nil, errs
	}
	return z, nil
}

// unwrapPath drops the absolute path from a file error: problems name files
// relative to the shop.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fingerprint summarises the names, sizes and modification times of the
// files under dir (three levels deep, hidden ones left out, symbolic links
// followed), which is enough to notice an edit without reading any file.
func fingerprint(dir string) string {
	var lines []string
	walkStat(dir, "", 0, &lines)
	sort.Strings(lines)
	h := fnv.New64a()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{0})
	}
	return strconv.FormatUint(h.Sum64(), 16)
}

// maxDepth bounds the fingerprint walk: shop/folder/sub/file.
const maxDepth = 3

func walkStat(path, rel string, depth int, lines *[]string) {
	// Stat follows symbolic links, so a linked folder or file counts, and
	// so does an edit of a link's target.
	fi, err := os.Stat(path)
	if err != nil {
		*lines = append(*lines, rel+" missing")
		return
	}
	*lines = append(*lines, fmt.Sprintf("%s %d %d %v", rel, fi.Size(), fi.ModTime().UnixNano(), fi.Mode()))
	if !fi.IsDir() || depth >= maxDepth {
		return
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		*lines = append(*lines, rel+" unreadable")
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		walkStat(filepath.Join(path, e.Name()), rel+"/"+e.Name(), depth+1, lines)
	}
}
