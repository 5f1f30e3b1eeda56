package zapp

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
)

// FormatVersion is the only description format version Zoe accepts.
const FormatVersion = 3

// Description is a ZApp: an application made of services.
type Description struct {
	Name     string    `json:"name"`
	Version  int       `json:"version"`
	WillEnd  bool      `json:"will_end"`
	Size     int64     `json:"size"`
	Services []Service `json:"services"`
}

// Service is a group of identical containers; see Instances.
type Service struct {
	Name           string    `json:"name"`
	Image          string    `json:"image"`
	Monitor        bool      `json:"monitor"`
	EssentialCount int       `json:"essential_count"`
	TotalCount     int       `json:"total_count"`
	StartupOrder   int       `json:"startup_order"`
	Replicas       *int      `json:"replicas,omitempty"`
	Resources      Resources `json:"resources"`
	Ports          []Port    `json:"ports"`
	Environment    []EnvVar  `json:"environment"`
	Volumes        []Volume  `json:"volumes"`
	// Command nil keeps the image's CMD; a string is split with SplitCommand.
	Command *string  `json:"command"`
	WorkDir string   `json:"work_dir,omitempty"`
	Labels  []string `json:"labels,omitempty"`
	Network string   `json:"network,omitempty"`
}

// Resources is what one instance of a service reserves and may use.
type Resources struct {
	Memory ByteRange `json:"memory"`
	Cores  CoreRange `json:"cores"`
	Shm    Bytes     `json:"shm,omitempty"`
}

// ByteRange is a memory reservation. Min is what the scheduler reserves on a
// host (0: no reservation); Max is the limit the container may use (0: no
// limit beyond the site's configured maximum). JSON null means 0, and 0 is
// written as null so that the original Zoe also reads the output.
type ByteRange struct {
	Min Bytes `json:"min"`
	Max Bytes `json:"max"`
}

// CoreRange is a CPU reservation, with the same meaning of 0 as ByteRange:
// Min 0 reserves nothing (the service shares what is left), Max 0 is no
// limit beyond the site's maximum.
type CoreRange struct {
	Min MilliCores `json:"min"`
	Max MilliCores `json:"max"`
}

// Port is a port a service listens on.
type Port struct {
	Name        string `json:"name"`
	PortNumber  int    `json:"port_number"`
	Protocol    string `json:"protocol"`
	URLTemplate string `json:"url_template"`
	Proxy       bool   `json:"proxy,omitempty"`
}

// EnvVar is an environment variable; JSON writes it as ["NAME", "value"].
type EnvVar struct {
	Name  string
	Value string
}

// Volume is a host directory mounted at /mnt/<Name>. Only descriptions from
// the shop may declare volumes.
type Volume struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	ReadOnly bool   `json:"read_only"`
}

// Trust says who wrote a description, which decides what it may ask for.
type Trust int

const (
	// TrustUser is a description submitted by a user.
	TrustUser Trust = iota
	// TrustShop is a description written by admins in the shop directory.
	TrustShop
)

func (t Trust) String() string {
	if t == TrustShop {
		return "shop"
	}
	return "user"
}

// FieldError is one problem of a description, at a JSON path such as
// "services[1].resources.memory.min". Path is empty for a problem with the
// document as a whole (invalid JSON).
type FieldError struct {
	Path    string
	Message string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// Errors lists every problem of a description. Parse returns them in the
// order the offending values appear in the document (a missing key counts
// at the start of its object); Validate returns them in field order.
type Errors []FieldError

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, fe := range e {
		parts[i] = fe.Error()
	}
	return strings.Join(parts, "; ")
}

// Parse strictly decodes a description and validates it: unknown fields,
// duplicate keys, wrong types and trailing data are rejected, and every
// problem is reported at once. On failure the error is of type Errors.
func Parse(data []byte, trust Trust) (*Description, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, Errors{{Message: err.Error()}}
	}
	dc := &decoder{offsets: map[string]int64{}}
	d := dc.description(root)
	errs := dc.errs
	bad := map[string]bool{}
	for _, e := range errs {
		bad[e.Path] = true
	}
	for _, e := range d.validate(trust, bad) {
		errs = append(errs, located{FieldError: e, off: dc.offset(e.Path)})
	}
	if len(errs) == 0 {
		return d, nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].off < errs[j].off })
	out := make(Errors, len(errs))
	for i, e := range errs {
		out[i] = e.FieldError
	}
	return nil, out
}

// covered reports whether path, or one of its ancestors, already has a
// decoding error, in which case a validation error there would only repeat
// it (a string in essential_count is not also "less than 1").
func covered(bad map[string]bool, path string) bool {
	if bad[""] {
		return true
	}
	for {
		if bad[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			return false
		}
		path = path[:i]
	}
}

// Validate checks the rules of the format and the trust rules. Use it after
// changing a parsed description (shop parameters) as well. On failure the
// error is of type Errors.
func (d *Description) Validate(trust Trust) error {
	if errs := d.validate(trust, nil); len(errs) > 0 {
		return errs
	}
	return nil
}

// UnmarshalJSON decodes strictly (unknown fields and wrong types are
// errors) but does not validate: it is meant for descriptions Zoe stored
// itself. Use Parse for anything people wrote.
func (d *Description) UnmarshalJSON(data []byte) error {
	root, err := parseTree(data)
	if err != nil {
		return err
	}
	dc := &decoder{offsets: map[string]int64{}}
	v := dc.description(root)
	if err := dc.err(); err != nil {
		return err
	}
	*d = *v
	return nil
}

// UnmarshalJSON decodes one service strictly, without validation, for
// services Zoe stored itself.
func (s *Service) UnmarshalJSON(data []byte) error {
	root, err := parseTree(data)
	if err != nil {
		return err
	}
	dc := &decoder{offsets: map[string]int64{}}
	v := dc.service("", root)
	if err := dc.err(); err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalJSON writes the canonical v3 form: sizes in bytes, cores as
// numbers, empty lists as [] and optional fields left out when unset.
func (d Description) MarshalJSON() ([]byte, error) {
	type plain Description
	p := plain(d)
	if p.Services == nil {
		p.Services = []Service{}
	}
	return json.Marshal(p)
}

// MarshalJSON writes the service with [] for empty required lists.
func (s Service) MarshalJSON() ([]byte, error) {
	type plain Service
	p := plain(s)
	if p.Ports == nil {
		p.Ports = []Port{}
	}
	if p.Environment == nil {
		p.Environment = []EnvVar{}
	}
	if p.Volumes == nil {
		p.Volumes = []Volume{}
	}
	return json.Marshal(p)
}

// MarshalJSON writes 0 as null, the original's "not set".
func (r ByteRange) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Min *Bytes `json:"min"`
		Max *Bytes `json:"max"`
	}{nonZero(r.Min), nonZero(r.Max)})
}

// MarshalJSON writes 0 as null, the original's "not set".
func (r CoreRange) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Min *MilliCores `json:"min"`
		Max *MilliCores `json:"max"`
	}{nonZero(r.Min), nonZero(r.Max)})
}

func nonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// MarshalJSON writes the ["NAME", "value"] pair.
func (e EnvVar) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]string{e.Name, e.Value})
}

// UnmarshalJSON reads a ["NAME", "value"] pair.
func (e *EnvVar) UnmarshalJSON(data []byte) error {
	var pair []string
	if err := json.Unmarshal(data, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return errors.New("environment entry must be a [name, value] pair")
	}
	e.Name, e.Value = pair[0], pair[1]
	return nil
}
