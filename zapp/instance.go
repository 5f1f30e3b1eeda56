package zapp

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Instance is one container of a service.
type Instance struct {
	Name      string // <group><index>, e.g. "spark-worker1"
	Group     string // the service name
	Index     int    // counter within the group, essential instances first
	Essential bool
	Service   *Service // points into the Description's Services
}

// Instances expands the services into their instances in description
// order: for each service, essential_count essential instances, then the
// elastic ones, numbered by one counter (spark-worker0 essential,
// spark-worker1 elastic), as the original did.
func (d *Description) Instances() []Instance {
	var out []Instance
	for i := range d.Services {
		s := &d.Services[i]
		for n := 0; n < s.TotalCount; n++ {
			out = append(out, Instance{
				Name:      s.Name + strconv.Itoa(n),
				Group:     s.Name,
				Index:     n,
				Essential: n < s.EssentialCount,
				Service:   s,
			})
		}
	}
	return out
}

// maxLabel is the longest DNS label (RFC 1035).
const maxLabel = 63

// DNSName returns "<instance>-<executionID>-<deployment>" as a valid DNS
// label: lower-case, characters other than letters, digits and "-"
// replaced by "-", no leading or trailing "-". A name longer than 63
// characters is cut to 54 and followed by "-" and 8 hex digits of an FNV
// hash of the full name, so that distinct long names stay distinct.
func DNSName(instance string, executionID int64, deployment string) string {
	full := sanitizeLabel(fmt.Sprintf("%s-%d-%s", instance, executionID, deployment))
	if len(full) <= maxLabel {
		return full
	}
	h := fnv.New32a()
	h.Write([]byte(full))
	head := strings.TrimRight(full[:maxLabel-9], "-")
	return fmt.Sprintf("%s-%08x", head, h.Sum32())
}

func sanitizeLabel(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b), "-")
	if out == "" {
		return "x"
	}
	return out
}

// Execution is what templates need to know about the execution an
// instance belongs to.
type Execution struct {
	ID         int64
	Name       string
	User       string
	Deployment string
}

// Vars returns the template variables of one instance of d: the
// execution's, {dns_name#self} and {dns_name#<instance>} for every
// instance. The caller adds {proxy_path} (and {ip_port} for url_template),
// which depend on how the service is exposed.
func (d *Description) Vars(instance string, x Execution) Vars {
	v := Vars{
		VarExecutionID:    strconv.FormatInt(x.ID, 10),
		VarExecutionName:  x.Name,
		VarUserName:       x.User,
		VarDeploymentName: x.Deployment,
	}
	for _, in := range d.Instances() {
		v[DNSNamePrefix+in.Name] = DNSName(in.Name, x.ID, x.Deployment)
	}
	v[DNSNamePrefix+"self"] = DNSName(instance, x.ID, x.Deployment)
	return v
}
