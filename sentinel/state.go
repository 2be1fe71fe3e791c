package sentinel

import (
	"errors"
	"slices"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
)

// service is what the client knows and has decided about one monitored
// name. It is pure: events, discovery results and the clock go in through
// its methods, and each returns the actions to take (start a discovery,
// point the master pool somewhere, emit an event); it starts nothing and
// touches no pool itself. The loop owns it and carries the actions out.
type service struct {
	name string
	// options from Config
	recheck          time.Duration
	fallbackToMaster bool
	fenceEnabled     bool
	// failFast: commands fail at once while no master is known, once
	// the first discovery has given its verdict (armed); the first ones
	// wait for it, so that their error says why.
	failFast      bool
	failFastArmed bool

	// fenced is set from the first sign that a failover of the master has
	// started until it ends (+switch-master), aborts, or fenceUntil passes
	// and a re-check finds the same master: meanwhile nothing is written
	// to the master (its pool holds commands).
	fenced     bool
	fenceUntil time.Time
	// attempts are the sentinels that announced a failover of the master
	// while it is fenced: an abort lifts the fence only once every one of
	// them has aborted (several try at once; only the elected one goes on).
	attempts        map[string]bool
	failoverTimeout time.Duration // the sentinels' failover-timeout; 0 unknown

	masterAddr  string // verified; "" while unknown
	lastMaster  string // the last master followed, even once given up
	everMaster  bool   // a master was verified once
	masterBusy  bool   // a master discovery or switch check is running
	masterRetry time.Time
	backoff     core.Backoff // between failed master discoveries
	epoch       int64        // highest config epoch accepted
	// checking is the address a +switch-master named, while its ROLE is
	// being checked: the same announcement from other sentinels is an echo.
	checking string
	// switches counts +switch-master announcements followed; a discovery
	// remembers the count it started with, and a result from before the
	// latest switch never overrides it.
	switches uint64
	// demoted holds masters the client left for a +switch-master. Such an
	// address is followed again only from a discovery that started after
	// that switch and reports a newer config epoch (and ROLE agrees), or
	// from a later +switch-master naming it: a master that wakes up after
	// a failover still says master to ROLE until the sentinels convert it.
	demoted map[string]demotion

	replicaAddrs []string
	replicaGen   uint64 // bumped when a replica is dropped; older results are stale
	// promoting holds replicas announced for promotion (+selected-slave,
	// +promoted-slave, +switch-master), kept out of the replica set until
	// they are our master, the failover aborts or the hold expires.
	promoting    map[string]time.Time
	replicaBusy  bool
	replicaAgain bool // refresh once more when the running one ends
	everReplica  bool
	// While no replica is usable, replicas are looked for again with a
	// short backoff (restarted by a switch) rather than only at the next
	// re-check: after a failover they come back within a second or two.
	replicaRetry   time.Time
	replicaBackoff core.Backoff

	lastCheck time.Time
}

type demotion struct {
	gen   uint64 // the switch count once it was left
	epoch int64  // the highest config epoch known then
}

// promotionHold bounds how long a replica announced for promotion stays
// out of the replica set when the promotion never completes.
const promotionHold = 30 * time.Second

func newService(name string, recheck time.Duration, fallbackToMaster bool, now time.Time) *service {
	return &service{
		name: name, recheck: recheck, fallbackToMaster: fallbackToMaster, lastCheck: now,
		backoff:        core.Backoff{Min: 25 * time.Millisecond, Max: 500 * time.Millisecond},
		replicaBackoff: core.Backoff{Min: 25 * time.Millisecond, Max: 500 * time.Millisecond},
	}
}

type actionKind int

const (
	// actDiscoverMaster: ask the sentinels for the master and check its
	// ROLE; report with gen.
	actDiscoverMaster actionKind = iota + 1
	// actCheckSwitch: check that addr, announced by +switch-master, says
	// master; report with gen.
	actCheckSwitch
	// actDiscoverReplicas: find the replicas (addr is the master to leave
	// out); report with gen.
	actDiscoverReplicas
	// actInvalidateMaster: write nothing more to the current master;
	// commands wait for the next one.
	actInvalidateMaster
	// actSetMaster: send the master's commands to addr.
	actSetMaster
	// actSetReplicas: read from addrs.
	actSetReplicas
	// actFailMasterWaiting / actFailReplicasWaiting: fail the commands
	// waiting for a node with err (nothing to wait for yet).
	actFailMasterWaiting
	actFailReplicasWaiting
	// actMasterErr / actReplicaErr: the error FailFast commands get from
	// now on (nil: none).
	actMasterErr
	actReplicaErr
	// actEmit: publish event.
	actEmit
	// actArmFailFast: from now on, commands fail at once while no master
	// is known.
	actArmFailFast
	// actHoldMaster: write nothing more to the master, but keep its
	// connections so that what was written finishes; commands wait.
	actHoldMaster
	// actResumeMaster: end a hold on the same master.
	actResumeMaster
)

// defaultFailoverTimeout is Redis Sentinel's own default failover-timeout,
// for a fence raised before SENTINEL MASTER told the real one.
const defaultFailoverTimeout = 3 * time.Minute

// fenceEvents are the announcements that a failover of a master has
// started, before any replica is promoted. +try-failover comes first, a
// sentinel tick or more (100 ms each) before the leader sends REPLICAOF
// NO ONE, and gives a client slowed by its own load that much more time
// to stop writing; several sentinels may try at once and all but the
// elected one abort (-failover-abort-not-elected), which is why the fence
// lasts until each sentinel that announced one has aborted.
var fenceEvents = map[string]bool{
	"+try-failover": true, "+elected-leader": true, "+failover-state-select-slave": true,
	"+selected-slave":                    true,
	"+failover-state-send-slaveof-noone": true, "+failover-state-wait-promotion": true,
	"+promoted-slave": true, "+failover-state-reconf-slaves": true,
}

// action is one decision of a service.
type action struct {
	kind  actionKind
	addr  string
	addrs []string
	next  []string // actDiscoverReplicas: masters being promoted, whose replicas are ours too
	gen   uint64
	err   error
	event Event
}

// masterResult is the outcome of a master discovery or switch check.
type masterResult struct {
	addr            string
	epoch           int64 // -1 for a switch check, which has none
	failoverTimeout time.Duration
	err             error
	gen             uint64 // the service's switch count when it started
	via             string // "discovery" or "+switch-master"
}

// start is the first decision for a service just asked for.
func (s *service) start() []action {
	return append(s.discoverMaster(nil), s.refreshReplicas(nil)...)
}

func (s *service) discoverMaster(acts []action) []action {
	if s.masterBusy {
		return acts
	}
	s.masterBusy = true
	return append(acts, action{kind: actDiscoverMaster, gen: s.switches})
}

func (s *service) refreshReplicas(acts []action) []action {
	if s.replicaBusy {
		s.replicaAgain = true
		return acts
	}
	s.replicaBusy = true
	next := make([]string, 0, len(s.promoting))
	for a := range s.promoting {
		next = append(next, a)
	}
	return append(acts, action{kind: actDiscoverReplicas, addr: s.masterAddr, addrs: slices.Clone(s.replicaAddrs), next: next, gen: s.replicaGen})
}

// tick runs periodically: it retries a missing master once its backoff has
// passed and rechecks everything every recheck interval.
func (s *service) tick(now time.Time) []action {
	var acts []action
	if s.masterAddr == "" && now.After(s.masterRetry) {
		acts = s.discoverMaster(acts)
	}
	if s.fenced && now.After(s.fenceUntil) {
		acts = s.discoverMaster(acts) // has the failover ended without us hearing?
	}
	if len(s.replicaAddrs) == 0 && !s.replicaRetry.IsZero() && now.After(s.replicaRetry) {
		s.replicaRetry = time.Time{}
		acts = s.refreshReplicas(acts)
	}
	if now.Sub(s.lastCheck) >= s.recheck {
		s.lastCheck = now
		acts = s.discoverMaster(acts)
		acts = s.refreshReplicas(acts)
	}
	return acts
}

// switchMaster follows a +switch-master to addr: nothing more is written
// to the old master, and addr is used once its ROLE agrees.
func (s *service) switchMaster(addr string, now time.Time) []action {
	if addr == s.masterAddr || addr == s.checking {
		return nil // an echo of a switch already followed: the first one wins
	}
	var acts []action
	if s.masterAddr != "" {
		acts = append(acts, action{kind: actInvalidateMaster, addr: s.masterAddr})
		s.masterAddr = ""
	}
	s.fenced = false // the failover ended: what was held goes to the new master
	s.replicaBackoff.Reset()
	s.switches++
	if s.lastMaster != "" && s.lastMaster != addr {
		if s.demoted == nil {
			s.demoted = map[string]demotion{}
		}
		s.demoted[s.lastMaster] = demotion{gen: s.switches, epoch: s.epoch}
	}
	acts = s.dropReplica(addr, now, acts)
	// The check runs even when a discovery is running: that one started
	// before the switch, and its result will be ignored.
	s.masterBusy, s.checking = true, addr
	return append(acts, action{kind: actCheckSwitch, addr: addr, gen: s.switches})
}

// masterDone applies a master discovery or switch check.
func (s *service) masterDone(r masterResult, now time.Time) []action {
	if r.gen != s.switches {
		// Started before the latest switch: its view predates the
		// promotion and must not override it. The check of that switch
		// is running (masterBusy stays set) and decides.
		return nil
	}
	s.masterBusy, s.checking = false, ""
	if r.failoverTimeout > 0 {
		s.failoverTimeout = r.failoverTimeout
	}
	acts := s.masterVerdict(r, now)
	if s.failFast && !s.failFastArmed {
		s.failFastArmed = true // after the first verdict reached the waiting commands
		acts = append(acts, action{kind: actArmFailFast})
	}
	return acts
}

// masterVerdict is masterDone for a result of the current switch count.
func (s *service) masterVerdict(r masterResult, now time.Time) []action {
	var acts []action
	if r.err != nil {
		acts = append(acts, action{kind: actMasterErr, err: r.err})
		var mnf *MasterNotFoundError
		if errors.As(r.err, &mnf) && errors.Is(r.err, ErrNotUsable) && s.masterAddr != "" && (r.addr == "" || r.addr == s.masterAddr) {
			// The master we use is down or demoted: stop sending to it.
			acts = append(acts, action{kind: actInvalidateMaster, addr: s.masterAddr, err: r.err})
			s.masterAddr, s.fenced = "", false
		}
		if s.masterAddr == "" {
			s.masterRetry = now.Add(s.backoff.Next())
			if !s.everMaster {
				acts = append(acts, action{kind: actFailMasterWaiting, err: r.err}) // nothing to wait for yet: say why
			}
		}
		return acts
	}
	if d, ok := s.demoted[r.addr]; ok {
		if r.epoch >= 0 && (r.gen < d.gen || r.epoch <= d.epoch) {
			// A demoted master named by a view no newer than its
			// demotion: it may still say master, but it is not.
			if s.masterAddr == "" {
				s.masterRetry = now.Add(s.backoff.Next())
			}
			return nil
		}
		delete(s.demoted, r.addr) // a newer failover made it master again
	}
	if r.epoch >= 0 {
		if r.epoch < s.epoch && r.addr != s.masterAddr {
			return nil // a lagging sentinel's older view
		}
		s.epoch = max(s.epoch, r.epoch)
	}
	s.backoff.Reset()
	if r.addr == s.masterAddr {
		if s.fenced {
			if now.Before(s.fenceUntil) {
				return nil // the failover is under way: its end will tell
			}
			return s.unfence(now) // timed out, and nothing changed
		}
		return append(acts, action{kind: actMasterErr})
	}
	acts = append(acts, action{kind: actMasterErr})
	s.fenced = false // a new master: setting it ends the hold
	old := s.lastMaster
	s.masterAddr, s.lastMaster, s.everMaster = r.addr, r.addr, true
	delete(s.promoting, r.addr)
	acts = append(acts,
		action{kind: actSetMaster, addr: r.addr},
		action{kind: actEmit, event: Event{Kind: EventMasterChanged, Name: s.name, Addr: r.addr, OldAddr: old, Via: r.via, At: now}})
	return s.refreshReplicas(acts)
}

// replicasDone applies a replica discovery started at gen.
func (s *service) replicasDone(gen uint64, addrs []string, err error, now time.Time) (acts []action) {
	s.replicaBusy = false
	if s.replicaAgain {
		s.replicaAgain = false
		defer func() { acts = s.refreshReplicas(acts) }()
	}
	if gen != s.replicaGen {
		return acts // started before a replica was dropped: it may list it again
	}
	addrs = slices.DeleteFunc(slices.Clone(addrs), func(a string) bool {
		held, ok := s.promoting[a]
		if ok && (a == s.masterAddr || now.Sub(held) > promotionHold) {
			delete(s.promoting, a)
			ok = false
		}
		return ok || a == s.masterAddr
	})
	if err == nil && len(addrs) == 0 {
		err = &ReplicaNotFoundError{Name: s.name, Err: ErrNotUsable}
	}
	if err != nil {
		acts = append(acts, action{kind: actReplicaErr, err: err})
		if s.fallbackToMaster && s.masterAddr != "" {
			addrs = []string{s.masterAddr}
		} else {
			if errors.Is(err, ErrNoSentinel) && len(s.replicaAddrs) > 0 {
				return acts // sentinels are away, not the replicas
			}
			addrs = nil
		}
	} else {
		acts = append(acts, action{kind: actReplicaErr})
	}
	slices.Sort(addrs)
	if !slices.Equal(addrs, s.replicaAddrs) {
		acts = append(acts, action{kind: actEmit, event: Event{Kind: EventReplicasChanged, Name: s.name, Addrs: addrs, At: now}})
	}
	s.replicaAddrs = addrs
	acts = append(acts, action{kind: actSetReplicas, addrs: addrs})
	if len(addrs) > 0 {
		s.everReplica = true
		s.replicaRetry = time.Time{}
		s.replicaBackoff.Reset()
	} else {
		s.replicaRetry = now.Add(s.replicaBackoff.Next())
		var rnf *ReplicaNotFoundError
		if !errors.As(err, &rnf) {
			err = &ReplicaNotFoundError{Name: s.name, Err: err}
		}
		acts = append(acts, action{kind: actFailReplicasWaiting, err: err})
	}
	return acts
}

// dropReplica stops reading from addr at once: it is being promoted.
func (s *service) dropReplica(addr string, now time.Time, acts []action) []action {
	s.replicaGen++
	if s.promoting == nil {
		s.promoting = map[string]time.Time{}
	}
	s.promoting[addr] = now
	if i := slices.Index(s.replicaAddrs, addr); i >= 0 {
		s.replicaAddrs = slices.Delete(slices.Clone(s.replicaAddrs), i, i+1)
		acts = append(acts, action{kind: actSetReplicas, addrs: s.replicaAddrs})
	}
	return s.refreshReplicas(acts)
}

// instanceEvent applies a sentinel event about one instance of this
// service (kind is the channel, role "master" or "slave").
// master is the address of the master the event concerns, from the
// sentinel that announced it.
func (s *service) instanceEvent(kind, role, addr, master, from string, now time.Time) []action {
	var acts []action
	if fenceEvents[kind] {
		acts = s.failoverStarted(master, from, now)
	}
	switch {
	case role == "master" && (kind == "+sdown" || kind == "+odown") && addr == s.masterAddr:
		return s.discoverMaster(acts) // a hint: verify now rather than at the next re-check
	case kind == "+selected-slave" || kind == "+promoted-slave":
		return s.dropReplica(addr, now, acts)
	case isAbort(kind):
		// The failover did not happen: writes resume on the master, and
		// the replicas held back are replicas again.
		if s.fenced && master == s.masterAddr {
			if delete(s.attempts, from); len(s.attempts) > 0 {
				return acts // another sentinel's failover goes on
			}
			acts = s.unfence(now)
		}
		clear(s.promoting)
		s.replicaGen++
		return s.refreshReplicas(s.discoverMaster(acts))
	case role == "slave" || kind == "+failover-end" || kind == "+reboot":
		return s.refreshReplicas(acts)
	}
	return acts
}

// failoverStarted raises the fence on master, if it is the one followed,
// for a failover the sentinel at from has begun.
func (s *service) failoverStarted(master, from string, now time.Time) []action {
	if !s.fenceEnabled || s.masterAddr == "" || master != s.masterAddr {
		return nil
	}
	if s.fenced {
		s.attempts[from] = true
		return nil
	}
	s.attempts = map[string]bool{from: true}
	timeout := s.failoverTimeout
	if timeout <= 0 {
		timeout = defaultFailoverTimeout
	}
	s.fenced, s.fenceUntil = true, now.Add(timeout)
	return []action{
		{kind: actHoldMaster, addr: s.masterAddr},
		{kind: actMasterErr, err: ErrFailoverInProgress},
		{kind: actEmit, event: Event{Kind: EventWritesFenced, Name: s.name, Addr: s.masterAddr, At: now}},
	}
}

// unfence lifts the fence on the same master.
func (s *service) unfence(now time.Time) []action {
	s.fenced = false
	return []action{
		{kind: actResumeMaster, addr: s.masterAddr},
		{kind: actMasterErr},
		{kind: actEmit, event: Event{Kind: EventWritesResumed, Name: s.name, Addr: s.masterAddr, At: now}},
	}
}

func isAbort(kind string) bool {
	return len(kind) > len("-failover-abort") && kind[:len("-failover-abort")] == "-failover-abort"
}

// trouble applies a managed pool's report of a failing connection.
func (s *service) trouble(replica bool, addr string) []action {
	if replica {
		return s.refreshReplicas(nil)
	}
	if addr == s.masterAddr {
		return s.discoverMaster(nil) // the pool dropped or doubts it: check now
	}
	return nil
}

// listenerLost applies the loss of an event subscription: events may have
// been missed, so check everything now rather than at the next re-check.
func (s *service) listenerLost() []action {
	return s.refreshReplicas(s.discoverMaster(nil))
}
