package integration_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/sentinel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	writers  = 64
	deadline = 10 * time.Second
)

type write struct {
	key        string
	start, end time.Time
	err        error
}

// load runs writers that SET unique keys through c until stop is closed.
type load struct {
	acks    atomic.Int64
	mu      sync.Mutex
	results []write
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startLoad(c *async.Client, prefix string) *load {
	l := &load{stop: make(chan struct{})}
	for g := 0; g < writers; g++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			var mine []write
			defer func() {
				l.mu.Lock()
				l.results = append(l.results, mine...)
				l.mu.Unlock()
			}()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				w := write{key: fmt.Sprintf("%s:%d:%d", prefix, g, i), start: time.Now()}
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				w.err = c.Set(ctx, w.key, i).Err()
				cancel()
				w.end = time.Now()
				if w.err == nil {
					l.acks.Add(1)
				}
				mine = append(mine, w)
			}
		}()
	}
	return l
}

func (l *load) finish() []write {
	close(l.stop)
	l.wg.Wait()
	sort.Slice(l.results, func(i, j int) bool { return l.results[i].end.Before(l.results[j].end) })
	return l.results
}

func (l *load) waitAcks(t *testing.T, more int64) {
	t.Helper()
	target := l.acks.Load() + more
	require.Eventually(t, func() bool { return l.acks.Load() >= target }, 30*time.Second, time.Millisecond)
}

// replicaReads reads through a replica client until stopped, recording
// when reads failed and whether any reached a master.
type replicaReads struct {
	stop      chan struct{}
	wg        sync.WaitGroup
	ok        atomic.Int64
	wrongRole atomic.Int64
	mu        sync.Mutex
	failed    []time.Time // when each failed read ended
}

func startReplicaReads(r *async.Client) *replicaReads {
	rr := &replicaReads{stop: make(chan struct{})}
	rr.wg.Add(1)
	go func() {
		defer rr.wg.Done()
		for {
			select {
			case <-rr.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			role, err := r.Role(ctx).Result()
			cancel()
			switch {
			case err != nil:
				rr.mu.Lock()
				rr.failed = append(rr.failed, time.Now())
				rr.mu.Unlock()
			case role.Role != "slave":
				rr.wrongRole.Add(1)
			default:
				rr.ok.Add(1)
			}
		}
	}()
	return rr
}

// finish stops the readers and returns how long after sw replica reads
// last failed (0 if none failed after it).
func (rr *replicaReads) finish(sw time.Time) time.Duration {
	close(rr.stop)
	rr.wg.Wait()
	var last time.Duration
	for _, at := range rr.failed {
		if d := at.Sub(sw); d > last {
			last = d
		}
	}
	return last
}

func firstSwitch(t *testing.T, msgs <-chan integration.SentinelMessage) integration.SentinelMessage {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no +switch-master within 30s")
	}
	return integration.SentinelMessage{}
}

// clientEvents collects a sentinel client's events until it is closed.
type clientEvents struct {
	mu  sync.Mutex
	evs []sentinel.Event
}

func collectEvents(s *sentinel.RedisSentinel) *clientEvents {
	ce := &clientEvents{}
	go func() { // ends when the client's Close closes Events
		for e := range s.Events() {
			ce.mu.Lock()
			ce.evs = append(ce.evs, e)
			ce.mu.Unlock()
		}
	}()
	return ce
}

// first returns the first event of kind (ok false if none yet).
func (ce *clientEvents) first(kind string) (sentinel.Event, bool) {
	ce.mu.Lock()
	defer ce.mu.Unlock()
	for _, e := range ce.evs {
		if e.Kind == kind {
			return e, true
		}
	}
	return sentinel.Event{}, false
}

// all returns the events of kind.
func (ce *clientEvents) all(kind string) []sentinel.Event {
	ce.mu.Lock()
	defer ce.mu.Unlock()
	var out []sentinel.Event
	for _, e := range ce.evs {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// clientSwitch waits for the client's own first +switch-master: the
// moment it had stopped writing to the old master.
func (ce *clientEvents) clientSwitch(t *testing.T) time.Time {
	t.Helper()
	var at time.Time
	require.Eventually(t, func() bool {
		e, ok := ce.first(sentinel.EventSwitchMaster)
		at = e.At
		return ok
	}, 30*time.Second, time.Millisecond, "the client heard no +switch-master")
	return at
}

// checkOutcomes asserts the failover contract on a finished load: every
// command resolved within its deadline (+1 s, a tail guard), errors only
// as ambiguous in-flight failures and at most one per writer, and the
// first write acknowledged after the fault came at most a second after
// the first switch (a tail guard; the tight target is the bench
// campaign's).
func checkOutcomes(t *testing.T, results []write, fault time.Time, sw integration.SentinelMessage, clientSw time.Time) time.Duration {
	t.Helper()
	var errs int
	var firstAfter time.Time
	for _, w := range results {
		assert.LessOrEqual(t, w.end.Sub(w.start), deadline+time.Second, "future outlived its deadline: %s (a tail guard)", w.key)
		if w.err != nil {
			errs++
			assert.True(t, errors.Is(w.err, pool.ErrInFlight), "%s: only in-flight commands may fail, got %v", w.key, w.err)
			// Ordered by the client's own clock and events, not against
			// the harness' wall-clock switch time: a write issued after
			// the client stopped writing to the old master cannot be in
			// flight there.
			assert.True(t, w.start.Before(clientSw), "%s failed but was issued after the client followed the switch", w.key)
			continue
		}
		if w.end.After(sw.At) && firstAfter.IsZero() {
			firstAfter = w.end
		}
	}
	assert.LessOrEqual(t, errs, writers, "errors only for commands in flight at the fault")
	require.False(t, firstAfter.IsZero(), "writes succeed after the fault")
	gap := firstAfter.Sub(sw.At)
	assert.LessOrEqual(t, gap, time.Second, "first acknowledged write after the first +switch-master (a tail guard; the ≤ 50 ms target is bench/results/failover.md's campaign)")
	t.Logf("%d writes, %d errors (in flight), first +switch-master from %s %v after the fault, first ack on the new master %v after it",
		len(results), errs, sw.Sentinel, sw.At.Sub(fault).Round(time.Millisecond), gap.Round(100*time.Microsecond))
	return gap
}

// followFailover runs 64 writers through a failover caused by fault; heal,
// if set, runs once the writes go to the new master (with the fault's
// time), and the writers go on through it.
func followFailover(t *testing.T, fault func(d *integration.Deployment) error, heal func(d *integration.Deployment, at time.Time) error) {
	integration.CheckGoroutines(t)
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs()})
	events := collectEvents(s)
	m := s.MasterFor(d.Config.MasterName)
	require.NoError(t, m.Ping(ctx).Err())
	msgs, stopWatch, err := d.Watch(ctx, "+switch-master")
	require.NoError(t, err)
	defer stopWatch()
	r := s.ReplicaFor(d.Config.MasterName)
	require.NoError(t, r.Ping(ctx).Err())
	rr := startReplicaReads(r)

	l := startLoad(m, t.Name())
	l.waitAcks(t, 2000)
	require.NoError(t, fault(d))
	at := time.Now()
	sw := firstSwitch(t, msgs)
	l.waitAcks(t, 2000)
	if heal != nil {
		require.NoError(t, heal(d, at))
		l.waitAcks(t, 2000)
	}
	results := l.finish()
	checkOutcomes(t, results, at, sw, events.clientSwitch(t))

	nm, err := d.WaitForNewMaster(ctx, d.Master.Addr(), 30*time.Second)
	require.NoError(t, err)
	role, err := m.Role(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, "master", role.Role)
	addr, err := s.MasterAddress(ctx, d.Config.MasterName).Result()
	require.NoError(t, err)
	assert.Equal(t, nm.Addr(), addr)
	// Nothing acknowledged after the switch is lost: those writes went to
	// the new master only.
	_, lostAfter := lostAcks(t, m, results, sw.At)
	assert.Zero(t, lostAfter, "writes acknowledged after the first +switch-master were lost")

	// Replicas are readable again within 2 s of the switch, judged by
	// their own ROLE rather than the sentinels' lagging link flag.
	okBefore := rr.ok.Load()
	require.Eventually(t, func() bool { return rr.ok.Load() > okBefore+50 }, 10*time.Second, time.Millisecond, "replica reads work after the failover")
	unreadable := rr.finish(sw.At)
	assert.Zero(t, rr.wrongRole.Load(), "a replica read reached a master")
	t.Logf("replica reads: %d ok, %d errors; the last failed %v after the first +switch-master", rr.ok.Load(), len(rr.failed), unreadable.Round(time.Millisecond))
	assert.LessOrEqual(t, unreadable, 2*time.Second, "replica reads work again within 2 s of the switch")
}

func TestFailoverMasterKilled(t *testing.T) {
	followFailover(t, func(d *integration.Deployment) error { return d.Master.Kill(context.Background()) }, nil)
}

func TestFailoverMasterPaused(t *testing.T) {
	followFailover(t, func(d *integration.Deployment) error { return d.Master.Pause(context.Background()) }, nil)
}

// The master paused for 6 s: long enough to be failed over, then back,
// still saying master until the sentinels convert it.
func TestFailoverMasterPausedSixSeconds(t *testing.T) {
	followFailover(t, func(d *integration.Deployment) error { return d.Master.Pause(context.Background()) },
		func(d *integration.Deployment, at time.Time) error {
			wake := time.NewTimer(time.Until(at.Add(6 * time.Second)))
			defer wake.Stop()
			<-wake.C
			return d.Master.Unpause(context.Background())
		})
}

func TestManualFailoverLosesAtMostInFlight(t *testing.T) {
	integration.CheckGoroutines(t)
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs()})
	events := collectEvents(s)
	name := d.Config.MasterName
	m := s.MasterFor(name)
	r := s.SlaveFor(name)
	require.NoError(t, m.Ping(ctx).Err())
	msgs, stopWatch, err := d.Watch(ctx, "+switch-master")
	require.NoError(t, err)
	defer stopWatch()
	tried, stopTried, err := d.Watch(ctx, "+try-failover")
	require.NoError(t, err)
	defer stopTried()

	// Replica reads run beside the writes and must only ever reach replicas.
	rr := startReplicaReads(r)

	l := startLoad(m, t.Name())
	l.waitAcks(t, 2000)
	require.NoError(t, d.Failover(ctx))
	at := time.Now()
	sw := firstSwitch(t, msgs)
	l.waitAcks(t, 2000)
	results := l.finish()
	checkOutcomes(t, results, at, sw, events.clientSwitch(t))

	nm, err := d.WaitForNewMaster(ctx, d.Master.Addr(), 30*time.Second)
	require.NoError(t, err)
	require.NoError(t, d.WaitSettled(ctx, nm))
	readsBefore := rr.ok.Load()
	require.Eventually(t, func() bool { return rr.ok.Load() > readsBefore+50 }, 10*time.Second, time.Millisecond, "replica reads work after the failover")
	unreadable := rr.finish(sw.At)
	assert.Zero(t, rr.wrongRole.Load(), "a SlaveFor read reached a master")
	t.Logf("replica reads: %d ok, %d errors, %d on a master; the last failed %v after the first +switch-master",
		rr.ok.Load(), len(rr.failed), rr.wrongRole.Load(), unreadable.Round(time.Millisecond))
	assert.LessOrEqual(t, unreadable, 2*time.Second, "replica reads work again within 2 s of the switch")

	// Which acknowledged writes does the new master have? The fence holds
	// writes from the leader's first announcement, so none acknowledged by
	// the old master after its replica stopped replicating can be lost:
	// at most those in flight at the fence.
	lost, lostAfter := lostAcks(t, m, results, sw.At)
	t.Logf("acknowledged writes missing on the new master: %d in all, %d acknowledged after the first +switch-master", lost, lostAfter)
	assert.LessOrEqual(t, lostAfter, writers)
	assert.LessOrEqual(t, lost, writers, "acknowledged writes lost in all")

	// Writes pause for about the failover's own duration, no longer: the
	// longest gap between acknowledgements is at most +try-failover (where
	// the fence rises) to +switch-master, both as the harness heard them,
	// plus a second (a tail guard).
	sel := firstSwitch(t, tried)
	var gap time.Duration
	var last time.Time
	for _, w := range results {
		if w.err != nil {
			continue
		}
		if !last.IsZero() && w.end.Sub(last) > gap {
			gap = w.end.Sub(last)
		}
		last = w.end
	}
	failover := sw.At.Sub(sel.At)
	t.Logf("longest gap between acknowledged writes %v; the failover took %v (+try-failover to +switch-master)", gap.Round(time.Millisecond), failover.Round(time.Millisecond))
	assert.LessOrEqual(t, gap, failover+time.Second, "a tail guard")
}

func TestFailoverListenedSentinelKilledFirst(t *testing.T) {
	integration.CheckGoroutines(t)
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs(), Listeners: 1})
	m := s.MasterFor(d.Config.MasterName)
	require.NoError(t, m.Set(ctx, "before", 1).Err())

	require.NoError(t, d.Sentinels[0].Kill(ctx)) // the only one the client listens to
	require.NoError(t, d.Master.Kill(ctx))
	nm, err := d.WaitForNewMaster(ctx, d.Master.Addr(), 30*time.Second)
	require.NoError(t, err)
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	require.NoError(t, m.Set(cctx, "after", 1).Err(), "the switch is followed without events")
	role, err := m.Role(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, "master", role.Role)
	addr, err := s.DiscoverMaster(ctx, d.Config.MasterName)
	if err != nil {
		for a, f := range s.ExecuteAll(ctx, "MASTER", d.Config.MasterName) {
			v, err := f.Result()
			t.Logf("%s: %v %v", a, v, err)
		}
	}
	require.NoError(t, err)
	assert.Equal(t, nm.Addr(), addr)
}

// lostAcks returns how many acknowledged writes c's master does not have,
// in all and among those acknowledged after the time after.
func lostAcks(t *testing.T, c *async.Client, results []write, after time.Time) (lost, lostAfter int) {
	t.Helper()
	ctx := context.Background()
	futs := make([]*async.Future[int64], len(results))
	for i, w := range results {
		if w.err == nil {
			futs[i] = c.Exists(ctx, w.key)
		}
	}
	for i, w := range results {
		if futs[i] == nil {
			continue
		}
		n, err := futs[i].Result()
		require.NoError(t, err)
		if n == 0 {
			lost++
			if w.end.After(after) {
				lostAfter++
			}
		}
	}
	return lost, lostAfter
}

// The master is paused through its failover and woken 100 ms after the
// first +switch-master: it still says master to ROLE until the sentinels
// convert it, and a rediscovery that started before the promotion, or a
// sentinel that has not caught up, names it. The client must not go back:
// nothing acknowledged after the switch may be lost.
func TestPausedMasterWokenAfterSwitchIsNotFollowedBack(t *testing.T) {
	integration.CheckGoroutines(t)
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs(), EventBuffer: 1 << 16})
	events := collectEvents(s)
	name := d.Config.MasterName
	old := d.Master.Addr()
	m := s.MasterFor(name)
	require.NoError(t, m.Ping(ctx).Err())
	msgs, stopWatch, err := d.Watch(ctx, "+switch-master")
	require.NoError(t, err)
	defer stopWatch()

	l := startLoad(m, t.Name())
	l.waitAcks(t, 2000)
	require.NoError(t, d.Master.Pause(ctx))
	at := time.Now()
	sw := firstSwitch(t, msgs)
	wake := time.NewTimer(time.Until(sw.At.Add(100 * time.Millisecond)))
	<-wake.C
	require.NoError(t, d.Master.Unpause(ctx))
	// Keep writing through the window in which the woken master is still
	// a master to ROLE and the client rechecks (every 2 s).
	l.waitAcks(t, 2000)
	settle := time.NewTimer(5 * time.Second)
	<-settle.C
	l.waitAcks(t, 100)
	results := l.finish()
	checkOutcomes(t, results, at, sw, events.clientSwitch(t))

	backToOld := 0
	for _, e := range events.all(sentinel.EventMasterChanged) {
		if e.Addr == old && e.At.After(sw.At) {
			backToOld++
		}
	}
	assert.Zero(t, backToOld, "the client followed the demoted master again")
	nm, err := d.WaitForNewMaster(ctx, old, 30*time.Second)
	require.NoError(t, err)
	require.NoError(t, d.WaitSettled(ctx, nm))
	lost, lostAfter := lostAcks(t, m, results, sw.At)
	t.Logf("acknowledged writes missing on the new master: %d in all, %d acknowledged after the first +switch-master", lost, lostAfter)
	assert.Zero(t, lostAfter, "writes acknowledged after the switch were lost")
}
