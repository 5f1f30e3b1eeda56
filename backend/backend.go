// Package backend is the vocabulary shared by the lifecycle loop and the
// container back-ends: what to start, what is running, what happened and how
// each host is doing. It holds no engine types, so that the lifecycle never
// depends on a particular engine's API.
package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Labels every container and network of a deployment carries. The back-end
// always sets LabelManagedBy and LabelDeployment itself; the others are the
// caller's, and are what lets a restarted Zoe recognise its containers.
const (
	LabelManagedBy  = "zoe.managed-by"
	LabelDeployment = "zoe.deployment"
	LabelExecution  = "zoe.execution"
	LabelService    = "zoe.service"
	LabelOwner      = "zoe.owner"

	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "zoe"

	// LabelPool marks a network made ahead of need, for the pool of ready
	// networks; its value is PoolReady. Labels cannot change once a
	// network exists, so the label says only where a network came from:
	// whether an execution has claimed it is recorded in the store.
	LabelPool = "zoe.pool"
	PoolReady = "ready"

	// LabelIsolated asks for a bridge network whose containers cannot
	// reach each other (the engine's inter-container traffic is off):
	// only the engine's host and the outside reach them, which is all a
	// one-container execution needs. Its value is "true".
	LabelIsolated = "zoe.isolated"
)

// LabelDisabled in a host's labels keeps the scheduler from placing anything
// new on it; what already runs there is left alone.
const LabelDisabled = "disabled"

// ServiceSpec is one container to start.
type ServiceSpec struct {
	Name              string // container name, which is also its DNS name
	Hostname          string // defaults to Name
	Image             string
	Command           []string // nil runs the image's default command
	Env               []string // "K=V"
	Labels            map[string]string
	Memory            int64 // hard limit in bytes, 0 = none
	MemoryReservation int64 // soft limit in bytes, 0 = none
	NanoCPUs          int64 // 1e9 = one core, 0 = no limit
	ShmSize           int64 // bytes, 0 = the engine's default
	WorkDir           string
	Mounts            []Mount
	Ports             []PortSpec
	Network           string // a user-defined network; "host" and "container:…" are refused
	Aliases           []string
}

// Mount binds a host directory into the container.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
}

// PortSpec is a container port to publish on the host.
type PortSpec struct {
	Number   int
	Protocol string // "tcp" (default) or "udp"
}

// Started is what Start returns: where the container runs and where its
// ports were published.
type Started struct {
	ContainerID string
	Host        string
	// Address is the container's IP address on its network: reachable from
	// the engine's host (and from the other containers of the execution).
	Address string
	Ports   []Published
}

// Published is the host side of one published port.
type Published struct {
	Number   int    // container port
	Protocol string // "tcp" or "udp"
	HostIP   string // the host address the port is bound to (0.0.0.0: all); users connect through the host's external address
	HostPort int
}

// Network is a network of this deployment as an engine reports it.
type Network struct {
	Name   string
	Labels map[string]string
	// Containers is how many containers are attached to it now.
	Containers int
}

// Container is a container of this deployment as an engine reports it.
type Container struct {
	ID         string
	Name       string
	Host       string
	Labels     map[string]string
	State      string // the engine's word: created, running, exited, dead, …
	ExitCode   int
	OOMKilled  bool
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
}

// Status maps the engine's state to the service back-end status of §3.2.
func (c Container) Status() Status { return StatusOf(c.State) }

// Event is something that happened to a container of this deployment, or, with
// Action "resync", a notice that the stream for Host was (re)established and
// events may have been missed: the caller should reconcile that host.
type Event struct {
	Host        string
	ContainerID string
	Labels      map[string]string // the container's zoe.* labels
	Action      string            // start, die, oom, destroy or resync
	ExitCode    int               // for die
	OOMKilled   bool              // for die: the kernel killed it for lack of memory
	At          time.Time
}

// Event actions.
const (
	ActionStart   = "start"
	ActionDie     = "die"
	ActionOOM     = "oom"
	ActionDestroy = "destroy"
	ActionResync  = "resync"
)

// HostStatus is what the last check of a host found.
type HostStatus struct {
	Name            string
	Online          bool
	Disabled        bool // the host carries the label "disabled"
	Err             string
	ExternalAddress string
	Memory          int64 // bytes
	MilliCores      int64
	Labels          []string
	Images          []string // repo:tag, plus repo alone for repo:latest
	Containers      int      // running containers, Zoe's or not
	CheckedAt       time.Time
}

// Status is the back-end status of a service (§3.2).
type Status string

// Service back-end statuses.
const (
	StatusUndefined Status = "undefined"
	StatusCreated   Status = "created"
	StatusStarted   Status = "started"
	StatusDead      Status = "dead"
	StatusDestroyed Status = "destroyed"
)

// StatusOf maps an engine container state to a service back-end status.
// Removing and restarting containers still count as started, as in the
// original, so that a container on its way out is not reported dead twice.
func StatusOf(state string) Status {
	switch state {
	case "created":
		return StatusCreated
	case "running", "restarting", "removing":
		return StatusStarted
	case "exited", "dead", "paused":
		return StatusDead
	default:
		return StatusUndefined
	}
}

// Sentinel errors. Back-ends wrap them with the host and object concerned.
var (
	ErrImageMissing    = errors.New("image missing")
	ErrHostUnreachable = errors.New("engine unreachable")
	ErrNotFound        = errors.New("not found")
	ErrUnknownHost     = errors.New("unknown host")
	ErrInvalidSpec     = errors.New("invalid service spec")
	ErrConflict        = errors.New("already exists")
	ErrInUse           = errors.New("in use")
)

// ImageMissingError says which image is absent from which host, and, when
// the back-end tried to pull it, why that failed.
type ImageMissingError struct {
	Image string
	Host  string
	// PullErr is why the pull failed; nil when no pull was tried. It is
	// not unwrapped: a failed pull is not retried, whatever its cause.
	PullErr error
}

func (e *ImageMissingError) Error() string {
	if e.PullErr != nil {
		return fmt.Sprintf("image %s is not on host %s and could not be pulled: %v", e.Image, e.Host, e.PullErr)
	}
	return fmt.Sprintf("image %s is not on host %s", e.Image, e.Host)
}

// Is makes errors.Is(err, ErrImageMissing) true.
func (e *ImageMissingError) Is(target error) bool { return target == ErrImageMissing }

// ImagePull says when a back-end pulls an image that a host lacks.
type ImagePull string

// Image pull policies.
const (
	// PullMissing pulls an image when the host lacks it; a pull that
	// fails is an *ImageMissingError saying why.
	PullMissing ImagePull = "missing"
	// PullNever never pulls: a missing image is an *ImageMissingError.
	PullNever ImagePull = "never"
)

// PullProgress is how far a pull is. Layers are counted as the engine
// announces them, so the first reports may know of none.
type PullProgress struct {
	Image      string
	Host       string
	Layers     int   // layers of the image the engine announced
	LayersDone int   // of which downloaded and extracted, or there already
	Downloaded int64 // bytes downloaded so far
	Size       int64 // bytes to download, of the layers whose size is known
	Percent    int   // 0–100: downloads and extractions of all layers
}

// IsRetryable reports whether the operation may succeed if tried again later
// unchanged: the engine did not answer or took too long. A missing image or
// an invalid spec will fail the same way every time.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrImageMissing) || errors.Is(err, ErrInvalidSpec) {
		return false
	}
	if errors.Is(err, ErrHostUnreachable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
