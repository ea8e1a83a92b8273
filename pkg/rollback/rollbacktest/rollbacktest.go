// Package rollbacktest holds in-memory doubles of the rollback package's interfaces, for the decision
// table, the engine and strategy tests: a Store that compares and sets like pkg/memory over DynamoDB,
// and a Strategy over one target held in memory. Not linked into bootstrap.
package rollbacktest

import (
	"context"
	"slices"
	"sync"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// Store is an in-memory rollback.Store. Fail, when set, is returned by every call (an unreachable
// table); Before, when set, runs before each Save, and an error it returns is that Save's (a test's
// hook to race, or to fail a write there).
type Store struct {
	mu      sync.Mutex
	records map[string]rollback.Record
	audit   map[string][]rollback.Entry
	saves   int

	Fail   error
	Before func(t target.Target, next rollback.Record) error
}

var _ rollback.Store = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{records: map[string]rollback.Record{}, audit: map[string][]rollback.Entry{}}
}

// Load implements rollback.Store.
func (s *Store) Load(_ context.Context, t target.Target) (rollback.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return rollback.Record{}, s.Fail
	}
	return s.records[t.String()], nil
}

// Save implements rollback.Store.
func (s *Store) Save(_ context.Context, t target.Target, prev, next rollback.Record) (rollback.Record, error) {
	if s.Before != nil {
		if err := s.Before(t, next); err != nil {
			return rollback.Record{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return rollback.Record{}, s.Fail
	}
	if s.records[t.String()].Version != prev.Version {
		return rollback.Record{}, rollback.ErrConflict
	}
	next.Version = prev.Version + 1
	s.records[t.String()] = next
	s.saves++
	return next, nil
}

// Audit implements rollback.Store.
func (s *Store) Audit(_ context.Context, t target.Target, e rollback.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return s.Fail
	}
	s.audit[t.String()] = append(s.audit[t.String()], e)
	return nil
}

// Recent implements rollback.Store.
func (s *Store) Recent(_ context.Context, t target.Target, n int) ([]rollback.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return nil, s.Fail
	}
	all := slices.Clone(s.audit[t.String()])
	slices.Reverse(all)
	return all[:min(n, len(all))], nil
}

// Record is t's record as stored.
func (s *Store) Record(t target.Target) rollback.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[t.String()]
}

// Put stores rec for t as it is, version included (a test's starting point).
func (s *Store) Put(t target.Target, rec rollback.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[t.String()] = rec
}

// Entries is t's audit log, oldest first.
func (s *Store) Entries(t target.Target) []rollback.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.audit[t.String()])
}

// Saves counts the Saves that landed.
func (s *Store) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// Strategy is one target held in memory: what it serves, its canary and its history. Switch moves
// it as the plan says, refusing (rollback.ErrChanged) when it no longer serves what the plan was
// decided on. FailSwitch, when set, fails every Switch without moving anything.
type Strategy struct {
	mu       sync.Mutex
	state    rollback.State
	switches int

	FailSwitch error
}

var _ rollback.Strategy = (*Strategy)(nil)

// NewStrategy returns a target serving live, with history.
func NewStrategy(live string, history ...rollback.Deployment) *Strategy {
	return &Strategy{state: rollback.State{Live: live, History: history}}
}

// Name implements rollback.Strategy.
func (*Strategy) Name() string { return "in-memory" }

// Read implements rollback.Strategy.
func (s *Strategy) Read(_ context.Context, _ target.Target, withHistory bool) (rollback.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state
	if st.Canary != nil {
		c := *st.Canary
		st.Canary = &c
	}
	st.History = nil
	if withHistory {
		st.History = slices.Clone(s.state.History)
	}
	return st, nil
}

// Switch implements rollback.Strategy.
func (s *Strategy) Switch(_ context.Context, t target.Target, p rollback.Plan) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FailSwitch != nil {
		return s.FailSwitch
	}
	expect := p.From
	if p.Kind == rollback.KindCanaryRollback {
		expect = p.To
	}
	if s.state.Live == p.To && (!p.RemoveCanary || s.state.Canary == nil) {
		return nil // already done
	}
	if s.state.Live != expect {
		return rollback.ErrChanged
	}
	s.state.Live = p.To
	if p.RemoveCanary {
		s.state.Canary = nil
	}
	s.switches++
	return nil
}

// Set is a human's change: the target now serves live, with canary (nil for none).
func (s *Strategy) Set(live string, canary *rollback.Canary) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.Live, s.state.Canary = live, canary
}

// Live is what the target serves.
func (s *Strategy) Live() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.Live
}

// Switches counts the switches Switch made.
func (s *Strategy) Switches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.switches
}
