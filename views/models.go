package views

import (
	"html/template"
	"time"
)

// The view models below are all the templates know: handlers fill them
// from the store, the shop and the execution service, already in the words
// and units a person reads (names, GiB, cores), with their validation state.

// FieldErrors maps a form field's name to the message shown beside it; the
// empty name holds an error about the form as a whole.
type FieldErrors map[string]string

// LoginView is the sign-in page.
type LoginView struct {
	Username string
	Next     string
	Error    string
}

// ZAppTile is a ZApp as the shop lists it.
type ZAppTile struct {
	ID       string
	Name     string
	Category string
	Summary  string
	Logo     bool
	Guest    bool // guests may start it
}

// Category is one heading of the shop with its ZApps.
type Category struct {
	Name  string
	ZApps []ZAppTile
}

// ShopView is the shop page.
type ShopView struct {
	Categories []Category
	Quota      QuotaUsage
}

// ServiceInfo describes a service of a ZApp on its page.
type ServiceInfo struct {
	Name      string
	Image     string
	Essential int
	Elastic   int
	Memory    string // "512 MiB, up to 4 GiB"
	Cores     string
	Ports     []string
	Monitor   bool
}

// VolumeInfo is a host directory a ZApp mounts.
type VolumeInfo struct {
	Service  string
	Name     string
	Path     string
	ReadOnly bool
}

// ZAppView is a ZApp's page with its start form.
type ZAppView struct {
	ZApp     ZAppTile
	Readme   template.HTML // sanitised by the shop
	WillEnd  bool
	Services []ServiceInfo
	Volumes  []VolumeInfo
	Form     StartForm
}

// StartForm is the start form of a ZApp with what the user typed and the
// errors of the last attempt.
type StartForm struct {
	ZAppID  string
	Name    string
	CanTune bool
	// Params and Resources are the controls of users who may tune;
	// Defaults describes the fixed reservation to those who may not.
	Params    []ParamField
	Resources []ResourceField
	Defaults  []string
	Quota     QuotaUsage
	Errors    FieldErrors
	Fit       Fit
}

// ParamField is one parameter control: a text box, or a slider for an
// integer.
type ParamField struct {
	Key         string // form field: "params." + Key
	Label       string
	Help        string
	Value       string
	Integer     bool
	Min, Max    int64
	Step        int64
	Error       string
	Placeholder string
}

// ResourceField holds the memory and cores sliders of one service. Memory
// is in MiB and cores in milli-cores, the units the form sends.
type ResourceField struct {
	Service                   string
	Instances                 int
	MemoryMiB                 int64
	MemoryMin, MemoryMax      int64
	MemoryStep                int64
	MilliCores                int64
	CoresMin, CoresMax        int64
	CoresStep                 int64
	MemoryError, CoresError   string
	MemoryLimit, CoresLimit   string // the container's cap, for the hint
	MemoryQuotaMark           int64  // MiB where the quota runs out, 0: none
	MilliCoresQuotaMark       int64
	MemoryField, CoresField   string // form field names
	MemoryOutput, CoresOutput string // element ids of the live values
}

// Fit is the answer of the "will it start now?" box.
type Fit struct {
	ZAppID string
	// State is "fits", "waits", "refused" or "unknown".
	State    string
	Headline string
	Reasons  []string
}

// QuotaUsage is a user's usage against their quota; limits of 0 are
// unlimited.
type QuotaUsage struct {
	Name             string
	Executions       int
	ExecutionsLimit  int
	Memory           int64
	MemoryLimit      int64
	MilliCores       int64
	MilliCoresLimit  int64
	RuntimeLimit     time.Duration
	GuestExecutions  bool // the limit comes from the guest role
	MemoryRemaining  int64
	CoresRemaining   int64
	ExecutionsRemain int
}

// ExecutionRow is one line of the executions list.
type ExecutionRow struct {
	ID        int64
	Name      string
	ZApp      string
	Owner     string
	Status    string
	Submitted time.Time
	Started   *time.Time
	Ended     *time.Time
	Active    bool
}

// Option is an entry of a select.
type Option struct {
	Value, Label string
}

// ExecutionsView is the executions list with its filters.
type ExecutionsView struct {
	Rows     []ExecutionRow
	All      bool // admins see everyone's, with the owner column
	Users    []Option
	Statuses []Option
	ZApps    []Option
	User     string
	Status   string
	ZApp     string
	Page     int
	Pages    int
	Total    int
	PrevURL  string
	NextURL  string
	Message  string
	// Custom offers the form that starts an uploaded description.
	Custom bool
}

// ExecutionView is an execution's page; its live part is Status.
type ExecutionView struct {
	ID           int64
	Name         string
	ZApp         string
	ZAppURL      string
	Owner        string
	Status       ExecutionStatus
	Events       []EventRow
	CanTerminate bool
	CanRestart   bool
	CanDelete    bool
	Message      string
}

// ExecutionStatus is the part of the execution page that HTMX refreshes
// while the execution is active.
type ExecutionStatus struct {
	ID         int64
	Status     string
	Active     bool
	Error      string
	Submitted  time.Time
	Started    *time.Time
	Ended      *time.Time
	StopsAt    *time.Time
	StopReason string // why it stops at StopsAt
	// CanExtend offers to reset the idle deadline (the stop is not the
	// run-time limit's), with a form that carries CSRF; it is in the live
	// part so that it appears when a starting execution begins to run.
	CanExtend   bool
	CSRF        string
	Reservation string
	Queue       *QueueInfo
	Phase       string
	Services    []ServiceRow
	FailedLog   *LogTail
}

// QueueInfo says why an execution waits.
type QueueInfo struct {
	Position int
	Reason   string
	Hosts    []string
}

// ServiceRow is one container of an execution.
type ServiceRow struct {
	Name      string
	Essential bool
	Status    string
	Backend   string
	Host      string
	Memory    string
	Cores     string
	Restarts  int
	Error     string
	ExitCode  *int
	Endpoints []Endpoint
	LogsURL   string
	Phase     *ServicePhase // while the service is being started
}

// ServicePhase is what is being done to start a service: checking its
// image, pulling it (with a progress bar), creating its container.
type ServicePhase struct {
	Text     string
	Progress bool // a pull: Percent and Detail say how far it is
	Percent  int
	Detail   string
}

// Endpoint is a port of a service: a link through Zoe's proxy for web
// interfaces, an address for the rest.
type Endpoint struct {
	Name    string
	URL     string
	Address string
	Waiting bool // published but not answering yet
}

// EventRow is a line of an execution's history.
type EventRow struct {
	At      time.Time
	Kind    string
	Message string
}

// LogTail is the last lines of a service's output.
type LogTail struct {
	ExecutionID int64
	Service     string
	Text        string
	Error       string
	Live        bool // keep polling
	URL         string
}

// LogsView is a service's log page.
type LogsView struct {
	ExecutionID   int64
	ExecutionName string
	Tail          LogTail
}

// TokenRow is an API token in the account page.
type TokenRow struct {
	ID       int64
	Name     string
	Created  time.Time
	LastUsed *time.Time
	Expires  *time.Time
}

// AccountView is the account page.
type AccountView struct {
	Username       string
	Role           string
	Source         string
	Email          string
	Capabilities   []string
	Quota          QuotaUsage
	ChangePassword bool
	Tokens         bool
	TokenRows      []TokenRow
	NewToken       string // shown once, right after creation
	NewTokenName   string
	Errors         FieldErrors
	Message        string
}

// HostRow is a host on the platform page.
type HostRow struct {
	Name               string
	Online             bool
	Disabled           bool
	Error              string
	Address            string
	Labels             []string
	Containers         int
	Memory             int64
	ReservedMemory     int64
	MilliCores         int64
	ReservedMilliCores int64
	Executions         []HostExecution
	CheckedAt          time.Time
}

// HostExecution is an execution with services on a host.
type HostExecution struct {
	ID       int64
	Name     string
	Owner    string
	Services []string
}

// QueueRow is a waiting execution on the platform page.
type QueueRow struct {
	ID       int64
	Name     string
	Owner    string
	Position int
	Reason   string
	Hosts    []string
}

// Counter is a labelled number.
type Counter struct {
	Label string
	Value string
}

// PlatformView is the admins' platform page.
type PlatformView struct {
	Hosts    []HostRow
	Queue    []QueueRow
	Counters []Counter
	Statuses []Counter
	Problems []string
}

// UserRow is a user in the admin lists.
type UserRow struct {
	ID        int64
	Username  string
	Role      string
	Source    string
	Email     string
	Quota     string
	QuotaID   int64 // 0: the default quota
	Enabled   bool
	Created   time.Time
	LastLogin *time.Time
}

// UserForm is what the create-user form sent back.
type UserForm struct {
	Username string
	Email    string
	Role     string
	QuotaID  int64
}

// UsersView is the users page.
type UsersView struct {
	Users   []UserRow
	Roles   []string
	Quotas  []Option
	Form    UserForm
	Errors  FieldErrors
	Message string
}

// UserView is one user's admin page.
type UserView struct {
	User    UserRow
	Self    bool
	Roles   []string
	Quotas  []Option
	Usage   QuotaUsage
	Errors  FieldErrors
	Message string
}

// QuotaRow is a quota in the admin page, with the values as the form
// shows them.
type QuotaRow struct {
	ID          int64
	Name        string
	Executions  int
	MemoryGiB   string
	Cores       string
	RuntimeHour string
	Users       int
	Default     bool
}

// QuotasView is the quotas page.
type QuotasView struct {
	Quotas  []QuotaRow
	Form    QuotaRow
	Errors  FieldErrors
	Message string
}

// HomeView is the start page of a signed-in user: their own executions
// only, whatever their role.
type HomeView struct {
	Running []HomeExecution
	Recent  []ExecutionRow
	Quota   QuotaUsage
	// Live keeps the running list polling while something is active.
	Live bool
}

// HomeExecution is an active execution on the home page with the
// endpoints that answer.
type HomeExecution struct {
	ExecutionRow
	Endpoints []Endpoint
}

// UsageRow is one user's consumption over a period: reserved cores and
// memory times the hours they were held.
type UsageRow struct {
	UserID     int64
	Username   string
	Executions int
	CoreHours  float64
	GiBHours   float64
	// Share is the user's part of all core-hours, 0–100, for the bar.
	Share int64
}

// UsageView is the admins' usage page for a period of whole days (UTC).
type UsageView struct {
	From, To string // YYYY-MM-DD, as the form shows them
	Days     int
	Rows     []UsageRow
	Total    UsageRow
	Errors   FieldErrors
}

// BulkTerminateView asks an admin to confirm terminating several
// executions at once.
type BulkTerminateView struct {
	Rows []ExecutionRow
	// Missing counts selected IDs that name no execution; Ended those
	// that have ended already.
	Missing int
	Ended   int
}
