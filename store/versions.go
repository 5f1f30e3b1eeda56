package store

import "sync/atomic"

// Version says which of this process's writes an execution's row, its
// services and its owner's quota and role have seen. Two equal versions
// read at different times mean that this process wrote none of them in
// between, so a copy read after the first is still what the database
// holds, unless another process wrote it.
//
// Readers that cache (the status fragment that every open execution page
// polls) take the version before they read and keep the copy only while
// the version stays the same. Every write bumps it after it is done, so a
// copy read before or during a write is never kept past the write.
type Version struct {
	all  uint64 // users and quotas: what every execution's limits come from
	exec uint64 // the execution's stripe
}

// versionStripes spreads executions over counters: a write to one bumps
// the counter of every execution with the same ID modulo the count, which
// costs those a cache miss and nothing else.
const versionStripes = 4096

type versions struct {
	all   atomic.Uint64
	execs [versionStripes]atomic.Uint64
}

func (v *versions) execution(id int64) *atomic.Uint64 {
	return &v.execs[uint64(id)%versionStripes]
}

// ExecutionVersion returns the version of execution id.
func (s *Store) ExecutionVersion(id int64) Version {
	return Version{all: s.versions.all.Load(), exec: s.versions.execution(id).Load()}
}

// wroteExecution bumps the version of execution id. Writers call it when
// their write is over, whatever its outcome: a failed write that changed
// something (a commit whose answer was lost) must not leave a stale copy.
func (s *Store) wroteExecution(id int64) { s.versions.execution(id).Add(1) }

// wroteLimits bumps the version of every execution: a user's role or a
// quota changed.
func (s *Store) wroteLimits() { s.versions.all.Add(1) }
