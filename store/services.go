package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Service states (Service.Status), as in the original Zoe (§3.2).
const (
	ServiceCreated     = "created"
	ServiceRunnable    = "runnable"
	ServiceStarting    = "starting"
	ServiceActive      = "active"
	ServiceError       = "error"
	ServiceTerminating = "terminating"
	ServiceInactive    = "inactive"
)

// What the engine says about a service's container (Service.BackendStatus).
const (
	BackendUndefined = "undefined"
	BackendCreated   = "created"
	BackendStarted   = "started"
	BackendDead      = "dead"
	BackendDestroyed = "destroyed"
)

// Service is one container of an execution.
type Service struct {
	ID            int64
	ExecutionID   int64
	Name          string // instance name, e.g. jupyter0
	Group         string // the ZApp service it is an instance of
	Essential     bool
	Description   []byte // the service's JSON
	Status        string
	BackendStatus string
	BackendID     string // container ID
	Host          string
	IPAddress     string
	DNSName       string
	Memory        int64 // bytes
	MilliCores    int64
	RestartCount  int
	ErrorMessage  string
	ExitCode      *int
	Ports         []Port
}

// Port is a port a service exposes, and where the engine published it.
type Port struct {
	ID           int64
	ServiceID    int64
	Name         string
	Number       int
	Protocol     string
	URLTemplate  string
	Proxy        bool
	ExternalIP   string
	ExternalPort int
}

const serviceColumns = `s.id, s.execution_id, s.name, s.service_group, s.essential, s.description, s.status,
	s.backend_status, s.backend_id, s.host, s.ip_address, s.dns_name, s.memory, s.milli_cores, s.restart_count,
	s.error_message, s.exit_code`

// serviceRow receives a service's columns and, from the join with ports,
// one of its ports or NULLs when it has none.
type serviceRow struct {
	sv       Service
	exitCode sql.NullInt64
	portID   sql.NullInt64
	number   sql.NullInt64
	extPort  sql.NullInt64
	proxy    sql.NullBool
	strs     [4]sql.NullString // name, protocol, url_template, external_ip
}

func (r *serviceRow) dest() []any {
	sv := &r.sv
	return []any{&sv.ID, &sv.ExecutionID, &sv.Name, &sv.Group, &sv.Essential, &sv.Description, &sv.Status,
		&sv.BackendStatus, &sv.BackendID, &sv.Host, &sv.IPAddress, &sv.DNSName, &sv.Memory, &sv.MilliCores, &sv.RestartCount,
		&sv.ErrorMessage, &r.exitCode,
		&r.portID, &r.strs[0], &r.number, &r.strs[1], &r.strs[2], &r.proxy, &r.strs[3], &r.extPort}
}

func (r *serviceRow) service() Service {
	sv := r.sv
	if r.exitCode.Valid {
		c := int(r.exitCode.Int64)
		sv.ExitCode = &c
	}
	return sv
}

// port returns the row's port, false when the service has none.
func (r *serviceRow) port() (Port, bool) {
	if !r.portID.Valid {
		return Port{}, false
	}
	return Port{ID: r.portID.Int64, ServiceID: r.sv.ID, Name: r.strs[0].String, Number: int(r.number.Int64),
		Protocol: r.strs[1].String, URLTemplate: r.strs[2].String, Proxy: r.proxy.Bool,
		ExternalIP: r.strs[3].String, ExternalPort: int(r.extPort.Int64)}, true
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

// insertService records sv and its ports for execution executionID,
// filling in their IDs. Status defaults to created, BackendStatus to
// undefined.
func insertService(ctx context.Context, tx *sql.Tx, executionID int64, sv *Service) error {
	sv.ExecutionID = executionID
	if sv.Status == "" {
		sv.Status = ServiceCreated
	}
	if sv.BackendStatus == "" {
		sv.BackendStatus = BackendUndefined
	}
	sv.Description = jsonOrEmpty(sv.Description)
	err := tx.QueryRowContext(ctx, `INSERT INTO services
		(execution_id, name, service_group, essential, description, status, backend_status, backend_id, host,
		 ip_address, dns_name, memory, milli_cores, restart_count, error_message, exit_code)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
		sv.ExecutionID, sv.Name, sv.Group, sv.Essential, sv.Description, sv.Status, sv.BackendStatus, sv.BackendID, sv.Host,
		sv.IPAddress, sv.DNSName, sv.Memory, sv.MilliCores, sv.RestartCount, sv.ErrorMessage, nullInt(sv.ExitCode)).Scan(&sv.ID)
	if err != nil {
		return fmt.Errorf("service %s: %w", sv.Name, classify(err))
	}
	for i := range sv.Ports {
		p := &sv.Ports[i]
		p.ServiceID = sv.ID
		err := tx.QueryRowContext(ctx, `INSERT INTO ports
			(service_id, name, number, protocol, url_template, proxy, external_ip, external_port)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			p.ServiceID, p.Name, p.Number, p.Protocol, p.URLTemplate, p.Proxy, p.ExternalIP, p.ExternalPort).Scan(&p.ID)
		if err != nil {
			return fmt.Errorf("service %s port %d: %w", sv.Name, p.Number, classify(err))
		}
	}
	return nil
}

// services returns the services matching cond (over alias s), by ID, with
// their ports. One query joins the ports in, so that a service and its
// ports are read in the same snapshot, and a status poll costs one query
// instead of two.
func (s *Store) services(ctx context.Context, cond string, a ...any) ([]Service, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT `+serviceColumns+`,
		p.id, p.name, p.number, p.protocol, p.url_template, p.proxy, p.external_ip, p.external_port
		FROM services s LEFT JOIN ports p ON p.service_id = s.id WHERE `+cond+` ORDER BY s.id, p.id`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		svs []Service
		r   serviceRow
	)
	dest := r.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if n := len(svs); n == 0 || svs[n-1].ID != r.sv.ID {
			svs = append(svs, r.service())
		}
		if p, ok := r.port(); ok {
			last := &svs[len(svs)-1]
			last.Ports = append(last.Ports, p)
		}
	}
	return svs, rows.Err()
}

// ExecutionServices returns an execution's services with their ports.
func (s *Store) ExecutionServices(ctx context.Context, executionID int64) ([]Service, error) {
	svs, err := s.services(ctx, `s.execution_id = $1`, executionID)
	if err != nil {
		return nil, fmt.Errorf("services of execution %d: %w", executionID, err)
	}
	return svs, nil
}

// ServiceByID returns a service with its ports.
func (s *Store) ServiceByID(ctx context.Context, id int64) (Service, error) {
	svs, err := s.services(ctx, `s.id = $1`, id)
	if err == nil && len(svs) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return Service{}, fmt.Errorf("service %d: %w", id, err)
	}
	return svs[0], nil
}

// ServiceByContainer returns the service whose container on host has that
// back-end ID, with its ports.
func (s *Store) ServiceByContainer(ctx context.Context, host, backendID string) (Service, error) {
	svs, err := s.services(ctx, `s.host = $1 AND s.backend_id = $2`, host, backendID)
	if err == nil && len(svs) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return Service{}, fmt.Errorf("service of container %s on %s: %w", backendID, host, err)
	}
	return svs[0], nil
}

// UpdateService saves what changes while a service runs: its states,
// container, placement, addresses, restart count, error, exit code, and its
// ports' published addresses (matched by port ID). It also bumps the
// execution's UpdatedAt, which pages use to see that something changed.
func (s *Store) UpdateService(ctx context.Context, sv *Service) error {
	executionID := sv.ExecutionID
	defer func() { s.wroteExecution(executionID) }()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE services SET status = $2, backend_status = $3, backend_id = $4, host = $5,
			ip_address = $6, dns_name = $7, restart_count = $8, error_message = $9, exit_code = $10
			WHERE id = $1 RETURNING execution_id`,
			sv.ID, sv.Status, sv.BackendStatus, sv.BackendID, sv.Host, sv.IPAddress, sv.DNSName, sv.RestartCount,
			sv.ErrorMessage, nullInt(sv.ExitCode)).Scan(&executionID)
		if err != nil {
			return classify(err)
		}
		for _, p := range sv.Ports {
			res, err := tx.ExecContext(ctx, `UPDATE ports SET external_ip = $3, external_port = $4
				WHERE id = $1 AND service_id = $2`, p.ID, sv.ID, p.ExternalIP, p.ExternalPort)
			if err := rowChanged(res, err); err != nil {
				return fmt.Errorf("port %d: %w", p.ID, err)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE executions SET updated_at = $2 WHERE id = $1`, executionID, dbTime(time.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("update service %d: %w", sv.ID, err)
	}
	return nil
}
