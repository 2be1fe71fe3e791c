package sentinel

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var t0 = time.Unix(1_000_000, 0)

// describe renders actions compactly, so tables can list them.
func describe(acts []action) []string {
	var out []string
	for _, a := range acts {
		switch a.kind {
		case actDiscoverMaster:
			out = append(out, fmt.Sprintf("discover-master gen=%d", a.gen))
		case actCheckSwitch:
			out = append(out, fmt.Sprintf("check-switch %s gen=%d", a.addr, a.gen))
		case actDiscoverReplicas:
			out = append(out, fmt.Sprintf("discover-replicas gen=%d", a.gen))
		case actInvalidateMaster:
			out = append(out, "invalidate "+a.addr)
		case actSetMaster:
			out = append(out, "set-master "+a.addr)
		case actSetReplicas:
			out = append(out, "set-replicas "+strings.Join(a.addrs, ","))
		case actFailMasterWaiting:
			out = append(out, "fail-master-waiting")
		case actFailReplicasWaiting:
			out = append(out, "fail-replicas-waiting")
		case actMasterErr:
			out = append(out, fmt.Sprintf("master-err=%t", a.err != nil))
		case actReplicaErr:
			out = append(out, fmt.Sprintf("replica-err=%t", a.err != nil))
		case actHoldMaster:
			out = append(out, "hold "+a.addr)
		case actResumeMaster:
			out = append(out, "resume "+a.addr)
		case actEmit:
			out = append(out, "emit "+a.event.Kind+" "+a.event.Addr+strings.Join(a.event.Addrs, ","))
		}
	}
	return out
}

// step is one input to a service and what it must decide.
type step struct {
	name   string
	at     time.Duration // since t0
	in     func(s *service, now time.Time) []action
	want   []string
	master string // the master followed afterwards
}

func run(t *testing.T, s *service, steps []step) {
	t.Helper()
	for _, st := range steps {
		got := describe(st.in(s, t0.Add(st.at)))
		assert.Equal(t, st.want, got, st.name)
		assert.Equal(t, st.master, s.masterAddr, st.name+": master followed")
	}
}

func discovered(addr string, epoch int64, gen uint64) func(*service, time.Time) []action {
	return func(s *service, now time.Time) []action {
		return s.masterDone(masterResult{addr: addr, epoch: epoch, gen: gen, via: "discovery"}, now)
	}
}

func discoveryFailed(addr string, err error, gen uint64) func(*service, time.Time) []action {
	return func(s *service, now time.Time) []action {
		return s.masterDone(masterResult{addr: addr, err: err, gen: gen, via: "discovery"}, now)
	}
}

func switchChecked(addr string, err error, gen uint64) func(*service, time.Time) []action {
	return func(s *service, now time.Time) []action {
		return s.masterDone(masterResult{addr: addr, epoch: -1, err: err, gen: gen, via: "+switch-master"}, now)
	}
}

func switched(addr string) func(*service, time.Time) []action {
	return func(s *service, now time.Time) []action { return s.switchMaster(addr, now) }
}

func replicasFound(gen uint64, err error, addrs ...string) func(*service, time.Time) []action {
	return func(s *service, now time.Time) []action { return s.replicasDone(gen, addrs, err, now) }
}

// event is an instance event; a replica's master is a:1, the master
// every table follows.
func event(kind, role, addr string) func(*service, time.Time) []action {
	master := "a:1"
	if role == "master" {
		master = addr
	}
	return func(s *service, now time.Time) []action { return s.instanceEvent(kind, role, addr, master, "s:1", now) }
}

func tick(s *service, now time.Time) []action { return s.tick(now) }

// following returns a service that follows master a:1 (epoch 1) and reads
// from replicas b:1 and c:1, with nothing running.
func following(t *testing.T) *service {
	s := newService("m", 2*time.Second, false, t0)
	run(t, s, []step{
		{"start", 0, func(s *service, _ time.Time) []action { return s.start() },
			[]string{"discover-master gen=0", "discover-replicas gen=0"}, ""},
		{"master found", 0, discovered("a:1", 1, 0),
			[]string{"master-err=false", "set-master a:1", "emit master-changed a:1"}, "a:1"},
		{"replicas found; the refresh the master asked for follows", 0, replicasFound(0, nil, "c:1", "b:1"),
			[]string{"replica-err=false", "emit replicas-changed b:1,c:1", "set-replicas b:1,c:1", "discover-replicas gen=0"}, "a:1"},
		{"same replicas again", 0, replicasFound(0, nil, "b:1", "c:1"),
			[]string{"replica-err=false", "set-replicas b:1,c:1"}, "a:1"},
	})
	return s
}

func TestStateSwitchThenStaleDiscovery(t *testing.T) {
	s := following(t)
	run(t, s, []step{
		{"recheck starts a discovery", 2 * time.Second, tick,
			[]string{"discover-master gen=0", "discover-replicas gen=0"}, "a:1"},
		{"+switch-master: stop writing to a:1 at once, check b:1 (replicas refresh after the running one)", 2100 * time.Millisecond, switched("b:1"),
			[]string{"invalidate a:1", "set-replicas c:1", "check-switch b:1 gen=1"}, ""},
		{"the discovery from before the switch still names a:1: ignored", 2200 * time.Millisecond, discovered("a:1", 1, 0),
			nil, ""},
		{"no retry while the switch is checked", 2300 * time.Millisecond, tick, nil, ""},
		{"b:1 says master", 2300 * time.Millisecond, switchChecked("b:1", nil, 1),
			[]string{"master-err=false", "set-master b:1", "emit master-changed b:1"}, "b:1"},
	})
}

func TestStateLaggingSentinelWithOlderEpoch(t *testing.T) {
	s := following(t)
	run(t, s, []step{
		{"recheck", 2 * time.Second, tick, []string{"discover-master gen=0", "discover-replicas gen=0"}, "a:1"},
		{"newer epoch moves the master", 2 * time.Second, discovered("b:1", 3, 0),
			[]string{"master-err=false", "set-master b:1", "emit master-changed b:1"}, "b:1"},
		{"recheck", 4 * time.Second, tick, []string{"discover-master gen=0"}, "b:1"},
		{"a lagging sentinel's older epoch does not move it back", 4 * time.Second, discovered("a:1", 2, 0), nil, "b:1"},
	})
	assert.Equal(t, int64(3), s.epoch)
}

func TestStateDuplicateSwitchEvents(t *testing.T) {
	s := following(t)
	run(t, s, []step{
		{"first sentinel announces", 0, switched("b:1"),
			[]string{"invalidate a:1", "set-replicas c:1", "discover-replicas gen=1", "check-switch b:1 gen=1"}, ""},
		{"second sentinel announces the same while it is checked", 0, switched("b:1"), nil, ""},
		{"checked", 0, switchChecked("b:1", nil, 1),
			[]string{"master-err=false", "set-master b:1", "emit master-changed b:1"}, "b:1"},
		{"third sentinel, late", 0, switched("b:1"), nil, "b:1"},
	})
	assert.Equal(t, uint64(1), s.switches)
}

func TestStateSwitchCheckFailsThenDiscoveryRetries(t *testing.T) {
	s := following(t)
	notYet := &MasterNotFoundError{Name: "m", Err: because(ErrNotUsable, errors.New("b:1 has role slave"))}
	run(t, s, []step{
		{"switch", 0, switched("b:1"),
			[]string{"invalidate a:1", "set-replicas c:1", "discover-replicas gen=1", "check-switch b:1 gen=1"}, ""},
		{"b:1 is not master yet", 0, switchChecked("b:1", notYet, 1), []string{"master-err=true"}, ""},
		{"before the backoff: nothing", time.Millisecond, tick, nil, ""},
		{"after it: discover again", time.Second, tick, []string{"discover-master gen=1"}, ""},
		{"found", time.Second, discovered("b:1", 2, 1),
			[]string{"master-err=false", "set-master b:1", "emit master-changed b:1"}, "b:1"},
	})
}

func TestStateNewerSwitchSupersedesCheck(t *testing.T) {
	s := following(t)
	run(t, s, []step{
		{"switch to b", 0, switched("b:1"),
			[]string{"invalidate a:1", "set-replicas c:1", "discover-replicas gen=1", "check-switch b:1 gen=1"}, ""},
		{"switch to c before b was checked", 0, switched("c:1"),
			[]string{"set-replicas ", "check-switch c:1 gen=2"}, ""},
		{"b's check ends: superseded", 0, switchChecked("b:1", nil, 1), nil, ""},
		{"c's check", 0, switchChecked("c:1", nil, 2),
			[]string{"master-err=false", "set-master c:1", "emit master-changed c:1"}, "c:1"},
	})
}

func TestStateFailoverAbortRestoresReplica(t *testing.T) {
	s := following(t)
	run(t, s, []step{
		{"+selected-slave b:1: stop reading from it", 0, event("+selected-slave", "slave", "b:1"),
			[]string{"set-replicas c:1", "discover-replicas gen=1"}, "a:1"},
		{"a refresh still lists b:1: held back", 0, replicasFound(1, nil, "b:1", "c:1"),
			[]string{"replica-err=false", "set-replicas c:1"}, "a:1"},
		{"-failover-abort-no-good-slave", time.Second, event("-failover-abort-no-good-slave", "master", "a:1"),
			[]string{"discover-master gen=0", "discover-replicas gen=2"}, "a:1"},
		{"b:1 is a replica again", time.Second, replicasFound(2, nil, "b:1", "c:1"),
			[]string{"replica-err=false", "emit replicas-changed b:1,c:1", "set-replicas b:1,c:1"}, "a:1"},
		{"master unchanged", time.Second, discovered("a:1", 1, 0), []string{"master-err=false"}, "a:1"},
	})
}

func TestStatePromotionHoldExpires(t *testing.T) {
	s := following(t)
	run(t, s, []step{
		{"+promoted-slave b:1", 0, event("+promoted-slave", "slave", "b:1"),
			[]string{"set-replicas c:1", "discover-replicas gen=1"}, "a:1"},
		{"past the hold, b:1 listed again is a replica", promotionHold + time.Second, replicasFound(1, nil, "b:1", "c:1"),
			[]string{"replica-err=false", "emit replicas-changed b:1,c:1", "set-replicas b:1,c:1"}, "a:1"},
	})
}

func TestStateListenerLossChecksNow(t *testing.T) {
	s := following(t)
	run(t, s, []step{
		{"lost", 0, func(s *service, _ time.Time) []action { return s.listenerLost() },
			[]string{"discover-master gen=0", "discover-replicas gen=0"}, "a:1"},
		{"lost again while checking: nothing more", 0, func(s *service, _ time.Time) []action { return s.listenerLost() },
			nil, "a:1"},
	})
	assert.True(t, s.replicaAgain, "one more replica refresh when the running one ends")
}

func TestStateMasterNotUsable(t *testing.T) {
	s := following(t)
	demoted := &MasterNotFoundError{Name: "m", Err: because(ErrNotUsable, errors.New("a:1 has role slave"))}
	run(t, s, []step{
		{"+sdown of the master is a hint", 0, event("+sdown", "master", "a:1"), []string{"discover-master gen=0"}, "a:1"},
		{"+sdown of another master is not", 0, event("+sdown", "master", "z:1"), nil, "a:1"},
		{"ROLE says a:1 is a replica now", 0, discoveryFailed("a:1", demoted, 0),
			[]string{"master-err=true", "invalidate a:1"}, ""},
	})
	assert.True(t, s.everMaster, "commands keep waiting: a master was known")
}

func TestStateNoSentinelBeforeAnyMaster(t *testing.T) {
	s := newService("m", 2*time.Second, false, t0)
	none := &MasterNotFoundError{Name: "m", Err: because(ErrNoSentinel, errors.New("refused"))}
	run(t, s, []step{
		{"start", 0, func(s *service, _ time.Time) []action { return s.start() },
			[]string{"discover-master gen=0", "discover-replicas gen=0"}, ""},
		{"no sentinel: fail the waiting commands, say why", 0, discoveryFailed("", none, 0),
			[]string{"master-err=true", "fail-master-waiting"}, ""},
		{"no replicas either", 0, replicasFound(0, &ReplicaNotFoundError{Name: "m", Err: ErrNoSentinel}),
			[]string{"replica-err=true", "set-replicas ", "fail-replicas-waiting"}, ""},
	})
}

func TestStateReplicaFailures(t *testing.T) {
	s := following(t)
	gone := &ReplicaNotFoundError{Name: "m", Err: because(ErrNoSentinel, errors.New("timeout"))}
	run(t, s, []step{
		{"trouble on a replica", 0, func(s *service, _ time.Time) []action { return s.trouble(true, "b:1") },
			[]string{"discover-replicas gen=0"}, "a:1"},
		{"sentinels away: keep the replicas", 0, replicasFound(0, gone), []string{"replica-err=true"}, "a:1"},
		{"+slave event", 0, event("+slave", "slave", "d:1"), []string{"discover-replicas gen=0"}, "a:1"},
		{"none usable", 0, replicasFound(0, nil),
			[]string{"replica-err=true", "emit replicas-changed ", "set-replicas ", "fail-replicas-waiting"}, "a:1"},
		{"trouble on the master", 0, func(s *service, _ time.Time) []action { return s.trouble(false, "a:1") },
			[]string{"discover-master gen=0"}, "a:1"},
		{"trouble on an old address", 0, func(s *service, _ time.Time) []action { return s.trouble(false, "z:1") },
			nil, "a:1"},
	})

	fb := newService("m", 2*time.Second, true, t0)
	fb.masterAddr = "a:1"
	run(t, fb, []step{
		{"fallback to the master", 0, replicasFound(0, nil),
			[]string{"replica-err=true", "emit replicas-changed a:1", "set-replicas a:1"}, "a:1"},
	})
}

// The bug of a master paused through its failover: it wakes up after the
// switch, still says master to ROLE, and a sentinel that has not caught up
// names it. Only a newer failover makes it master again.
func TestStateDemotedMasterIsNotFollowedBack(t *testing.T) {
	s := following(t)
	run(t, s, []step{
		{"switch away from a:1", 0, switched("b:1"),
			[]string{"invalidate a:1", "set-replicas c:1", "discover-replicas gen=1", "check-switch b:1 gen=1"}, ""},
		{"b:1 checked", 0, switchChecked("b:1", nil, 1),
			[]string{"master-err=false", "set-master b:1", "emit master-changed b:1"}, "b:1"},
		{"recheck after the switch", 2 * time.Second, tick, []string{"discover-master gen=1"}, "b:1"},
		{"a lagging sentinel names the woken a:1 with the old epoch: refused", 2 * time.Second, discovered("a:1", 1, 1), nil, "b:1"},
		{"recheck", 4 * time.Second, tick, []string{"discover-master gen=1"}, "b:1"},
		{"b:1 with the failover's epoch", 4 * time.Second, discovered("b:1", 2, 1), []string{"master-err=false"}, "b:1"},
		{"a second failover, announced, back to a:1", 5 * time.Second, switched("a:1"),
			[]string{"invalidate b:1", "check-switch a:1 gen=2"}, ""},
		{"a:1 checked: followed again", 5 * time.Second, switchChecked("a:1", nil, 2),
			[]string{"master-err=false", "set-master a:1", "emit master-changed a:1"}, "a:1"},
	})
}

func TestStateDemotedMasterNeedsNewerEpoch(t *testing.T) {
	s := following(t)
	run(t, s, []step{
		{"switch away from a:1", 0, switched("b:1"),
			[]string{"invalidate a:1", "set-replicas c:1", "discover-replicas gen=1", "check-switch b:1 gen=1"}, ""},
		{"b:1 is not master yet", 0, switchChecked("b:1", &MasterNotFoundError{Name: "m", Err: ErrNotUsable}, 1),
			[]string{"master-err=true"}, ""},
		{"retry", time.Second, tick, []string{"discover-master gen=1"}, ""},
		{"a sentinel still names a:1 at epoch 1: refused, retried later", time.Second, discovered("a:1", 1, 1), nil, ""},
		{"retry", 2 * time.Second, tick, []string{"discover-master gen=1"}, ""},
		{"a:1 at epoch 3, a newer failover: followed", 2 * time.Second, discovered("a:1", 3, 1),
			[]string{"master-err=false", "set-master a:1", "emit master-changed a:1"}, "a:1"},
	})
}

func fencing(t *testing.T) *service {
	s := following(t)
	s.fenceEnabled, s.failoverTimeout = true, 3*time.Second
	s.recheck = time.Hour // only the fence's own re-check
	return s
}

var fenced = []string{"hold a:1", "master-err=true", "emit writes-fenced a:1"}

func TestStateFenceUntilSwitch(t *testing.T) {
	s := fencing(t)
	run(t, s, []step{
		{"the leader selects b:1: hold writes, stop reading from b:1", 0, event("+selected-slave", "slave", "b:1"),
			append(append([]string{}, fenced...), "set-replicas c:1", "discover-replicas gen=1"), "a:1"},
		{"it sends REPLICAOF NO ONE: no second hold", 100 * time.Millisecond, event("+failover-state-send-slaveof-noone", "slave", "b:1"),
			nil, "a:1"},
		{"a recheck during the failover", 2 * time.Second, func(s *service, _ time.Time) []action { return s.listenerLost() },
			[]string{"discover-master gen=0"}, "a:1"},
		{"still names a:1: the fence stays", 2 * time.Second, discovered("a:1", 1, 0), nil, "a:1"},
		{"+switch-master ends it", 2500 * time.Millisecond, switched("b:1"), []string{"invalidate a:1", "check-switch b:1 gen=1"}, ""},
		{"the held commands go to b:1", 2500 * time.Millisecond, switchChecked("b:1", nil, 1),
			[]string{"master-err=false", "set-master b:1", "emit master-changed b:1"}, "b:1"},
	})
	assert.False(t, s.fenced)
}

func TestStateFenceLiftedByAbort(t *testing.T) {
	s := fencing(t)
	run(t, s, []step{
		{"fence", 0, event("+selected-slave", "slave", "b:1"),
			append(append([]string{}, fenced...), "set-replicas c:1", "discover-replicas gen=1"), "a:1"},
		{"-failover-abort-slave-timeout: writes resume on a:1", time.Second, event("-failover-abort-slave-timeout", "master", "a:1"),
			[]string{"resume a:1", "master-err=false", "emit writes-resumed a:1", "discover-master gen=0"}, "a:1"},
	})
}

// eventFrom is an event about the master a:1 announced by the sentinel at from.
func eventFrom(kind, from string) func(*service, time.Time) []action {
	return func(s *service, now time.Time) []action {
		return s.instanceEvent(kind, "master", "a:1", "a:1", from, now)
	}
}

// +try-failover raises the fence, a tick or more before +selected-slave.
// Two sentinels try at once; the one not elected aborts, which must not
// lift the fence while the other's failover goes on.
func TestStateFenceFromTryFailoverUntilEveryAttemptAborts(t *testing.T) {
	s := fencing(t)
	run(t, s, []step{
		{"s1 tries: hold writes", 0, eventFrom("+try-failover", "s1:1"), fenced, "a:1"},
		{"s2 tries too", 10 * time.Millisecond, eventFrom("+try-failover", "s2:1"), nil, "a:1"},
		{"s2 is not elected: the fence stays", 200 * time.Millisecond, eventFrom("-failover-abort-not-elected", "s2:1"),
			nil, "a:1"},
		{"s1 is elected", 250 * time.Millisecond, eventFrom("+elected-leader", "s1:1"), nil, "a:1"},
		{"s1 gives up too: writes resume on a:1", time.Second, eventFrom("-failover-abort-no-good-slave", "s1:1"),
			[]string{"resume a:1", "master-err=false", "emit writes-resumed a:1", "discover-master gen=0", "discover-replicas gen=1"}, "a:1"},
	})
	assert.False(t, s.fenced)
}

func TestStateFenceTimesOut(t *testing.T) {
	s := fencing(t)
	run(t, s, []step{
		{"fence", 0, event("+failover-state-send-slaveof-noone", "slave", "b:1"),
			append(append([]string{}, fenced...), "discover-replicas gen=0"), "a:1"},
		{"before the failover timeout: nothing", 2900 * time.Millisecond, tick, nil, "a:1"},
		{"after it: re-check", 3100 * time.Millisecond, tick, []string{"discover-master gen=0"}, "a:1"},
		{"nothing changed: resume", 3200 * time.Millisecond, discovered("a:1", 1, 0),
			[]string{"resume a:1", "master-err=false", "emit writes-resumed a:1"}, "a:1"},
	})
}

func TestStateFenceOnlyForTheFollowedMaster(t *testing.T) {
	s := fencing(t)
	run(t, s, []step{
		{"another master's failover", 0, func(s *service, now time.Time) []action {
			return s.instanceEvent("+failover-state-wait-promotion", "slave", "y:1", "z:1", "s:1", now)
		}, []string{"discover-replicas gen=0"}, "a:1"},
	})
	off := following(t)
	run(t, off, []step{
		{"fence disabled", 0, event("+failover-state-wait-promotion", "slave", "b:1"), []string{"discover-replicas gen=0"}, "a:1"},
	})
}
