package integration_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/pool/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clusterWrites runs writers that SET their own keys, spread over every
// slot, one after another, each with a 10 s deadline, and records every
// outcome with its slot and time.
type clusterWrites struct {
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	acks atomic.Int64

	mu   sync.Mutex // guards the fields below
	done []clusterWrite
}

type clusterWrite struct {
	key       string
	slot      uint16
	start, at time.Time
	err       error
}

// The writers stop when the test ends, passed or failed (a failed
// require would leave them spinning against a closed client).
func startClusterWrites(t *testing.T, cl *async.Client, writers int, prefix string) *clusterWrites {
	w := &clusterWrites{stop: make(chan struct{})}
	t.Cleanup(func() { w.finish() })
	for g := range writers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			var mine []clusterWrite
			defer func() {
				w.mu.Lock()
				w.done = append(w.done, mine...)
				w.mu.Unlock()
			}()
			for i := 0; ; i++ {
				select {
				case <-w.stop:
					return
				default:
				}
				key := fmt.Sprintf("%s:%d:%d", prefix, g, i)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				start := time.Now()
				err := cl.Set(ctx, key, i).Err()
				cancel()
				mine = append(mine, clusterWrite{key: key, slot: cluster.Slot(key), start: start, at: time.Now(), err: err})
				if err == nil {
					w.acks.Add(1)
				}
			}
		}()
	}
	return w
}

func (w *clusterWrites) waitAcks(t *testing.T, n int64) {
	t.Helper()
	target := w.acks.Load() + n
	require.Eventually(t, func() bool { return w.acks.Load() >= target }, 60*time.Second, time.Millisecond)
}

func (w *clusterWrites) finish() []clusterWrite {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

// slotsOf returns the set of slots n serves.
func slotSet(t *testing.T, ctx context.Context, rc *integration.RedisCluster, n *integration.Node) map[uint16]bool {
	slots, err := rc.SlotsOf(ctx, n)
	require.NoError(t, err)
	set := map[uint16]bool{}
	for _, s := range slots {
		set[uint16(s)] = true
	}
	return set
}

// TestClusterMasterKilledUnderLoad takes a master away under 64 writers
// over every slot — its process dies (connections refused), or its host
// is cut off (packets dropped, nothing closed) — and checks that writes
// on its slots resume within 50 ms of its replica's promotion being
// visible, that only writes in flight at the fault fail, and that the
// healthy masters' slots see no error at all while the cluster refuses
// everything for a moment (CLUSTERDOWN).
func TestClusterMasterKilledUnderLoad(t *testing.T) {
	for _, fault := range timingScenarios([]string{"crash", "disconnect", "pause"}) {
		t.Run(fault, func(t *testing.T) { masterGoneUnderLoad(t, fault, 64) })
	}
}

// crowdBound bounds a failover gap seen by one of 10 000 goroutines
// (built without -race only): see masterGoneUnderLoad's writer bound.
const crowdBound = 500 * time.Millisecond

func masterGoneUnderLoad(t *testing.T, fault string, writers int) {
	integration.CheckGoroutines(t)
	rc := integration.StartClusterT(t, integration.ClusterConfig{})
	victim, heir := rc.Masters[0], rc.Replicas[0]
	// When the client itself had the first write acknowledged by the heir
	// (its reply read), before any writer goroutine is scheduled to see it.
	var clientAck atomic.Int64
	hooks := &core.Hooks{Command: func(_ context.Context, info core.CommandInfo) func(core.CommandResult) {
		if info.Addr != heir.Addr() || info.Name != "SET" && info.Name != "set" || clientAck.Load() != 0 {
			return nil
		}
		return func(r core.CommandResult) {
			if r.Err == nil {
				clientAck.CompareAndSwap(0, time.Now().UnixNano())
			}
		}
	}}
	// Defaults otherwise: a cut-off node is noticed by the map, not by
	// ReadTimeout (10 s).
	c := connectCluster(t, rc, cluster.Config{Pool: pool.Config{Hooks: hooks}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	victimSlots := slotSet(t, ctx, rc, victim)
	var err error

	// When the client's own map first names the heir for the victim's
	// slots, to tell a late map from a late write.
	var followedAt atomic.Int64
	var probeSlot uint16
	for s := range victimSlots {
		probeSlot = s
		break
	}
	stopProbe := make(chan struct{})
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopProbe:
				return
			case <-tick.C:
			}
			if c.SlotOwner(probeSlot) == heir.Addr() {
				followedAt.Store(time.Now().UnixNano())
				return
			}
		}
	}()
	w := startClusterWrites(t, c.Client(), writers, "kill")
	w.waitAcks(t, 5000)
	var killed time.Time
	switch fault {
	case "crash":
		killed, err = victim.Crash(ctx)
	case "disconnect":
		err = victim.Disconnect(ctx)
		killed = time.Now() // once the cut is made: writes started before may still have got through
	case "pause":
		err = victim.Pause(ctx)
		killed = time.Now()
	}
	require.NoError(t, err)
	visible, err := rc.WaitPromoted(ctx, heir)
	require.NoError(t, err)
	w.waitAcks(t, 5000)
	if fault == "pause" {
		// The paused master wakes up as a replica: the client must not go
		// back to it (writes acknowledged from now on are checked below).
		require.NoError(t, victim.Unpause(ctx))
		w.waitAcks(t, 5000)
	}
	done := w.finish()
	close(stopProbe)
	<-probeDone

	var first time.Time
	inFlight, healthyErrs, other := 0, 0, 0
	var firstOther error
	for _, d := range done {
		switch {
		case d.err == nil:
			if victimSlots[d.slot] && d.start.After(killed) && (first.IsZero() || d.at.Before(first)) {
				first = d.at
			}
		case !victimSlots[d.slot]:
			healthyErrs++
			if firstOther == nil {
				firstOther = d.err
			}
		case errors.Is(d.err, core.ErrInFlight):
			// Written to the master's connection before the client could
			// know (a paused or cut-off node keeps the connection open
			// until ReadTimeout): outcome unknown, as it should be.
			inFlight++
		default:
			if other++; firstOther == nil {
				firstOther = d.err
			}
		}
	}
	require.False(t, first.IsZero(), "no write on the killed master's slots succeeded")
	require.NotZero(t, clientAck.Load(), "the heir acknowledged no write")
	gap, clientGap := first.Sub(visible), time.Unix(0, clientAck.Load()).Sub(visible)
	followed := "never"
	if at := followedAt.Load(); at != 0 {
		followed = time.Unix(0, at).Sub(visible).Round(time.Millisecond).String()
	}
	t.Logf("%s, %d writers: promotion visible %v after the fault; the client's map named the heir %s after that; first write on its slots acknowledged to the client %v after that, to its writer %v after; %d writes, %d failed in flight, %d other failures (first: %v)",
		fault, writers, visible.Sub(killed).Round(time.Millisecond), followed, clientGap.Round(time.Millisecond), gap.Round(time.Millisecond), len(done), inFlight, healthyErrs+other, firstOther)
	// Under -race, with the whole suite beside it on two cores, this
	// measured 7–192 ms: there it is a sanity check (16 times the usual
	// slack); .ci/run checks the bound as written without -race.
	bound := 50*time.Millisecond + 16*raceSlack
	writerBound := bound
	if writers > 64 {
		// 10 000 writers (TestClusterMasterLostUnder10000Writers, never
		// under -race): the client has the first write back 6-58 ms after
		// the promotion is visible in most runs (median about 22 ms),
		// its writer a few ms later: with thousands of goroutines woken
		// at once on two cores (and six servers beside them), the
		// scheduler's queue is in every hop. Before commands that came
		// back from the lost master skipped the retry pause, 3 runs of
		// about 50 took 345-461 ms; none of 14 since, but a CI run took
		// 266 ms, all of it the client's map following the promotion:
		// its refresh waits in the scheduler's queue behind the writers
		// of the healthy masters. The bound keeps CI from failing on a
		// tail this test is not the measure of; the 50 ms target is
		// asserted with 64 writers.
		bound = crowdBound
		writerBound = crowdBound + 100*time.Millisecond
	}
	assert.LessOrEqual(t, clientGap, bound, "first write on the killed master's slots acknowledged to the client after its replica's promotion was visible")
	assert.LessOrEqual(t, gap, writerBound, "first write on the killed master's slots acknowledged to its writer after its replica's promotion was visible")
	assert.Zero(t, healthyErrs, "errors on the healthy masters' slots")
	assert.Zero(t, other, "errors other than in flight at the fault")
	assert.LessOrEqual(t, inFlight, writers, "at most one write in flight per writer")
	var after []string // acknowledged on the killed master's slots after the promotion was visible
	for _, d := range done {
		if d.err == nil && victimSlots[d.slot] && d.start.After(visible) {
			after = append(after, d.key)
		}
	}
	require.NoError(t, rc.WaitHealthyExcept(ctx, victim))
	lost := 0
	for i := 0; i < len(after); i += 500 {
		n, err := c.Client().Exists(ctx, after[i:min(i+500, len(after))]...).Result()
		require.NoError(t, err)
		lost += min(i+500, len(after)) - i - int(n)
	}
	assert.Zero(t, lost, "writes acknowledged after the promotion lost")
}

// TestClusterManualFailoverUnderLoad runs CLUSTER FAILOVER on a replica
// under 64 writers: no write fails and none acknowledged is lost. With
// FORCE or TAKEOVER (the replica does not wait for its master to agree,
// or for the other masters) the old master may still acknowledge writes
// until it hears of the new epoch; what is checked there is that no
// write fails other than in flight and none acknowledged after the
// promotion was visible is lost.
func TestClusterManualFailoverUnderLoad(t *testing.T) {
	for _, mode := range []string{"", "FORCE", "TAKEOVER"} {
		name := mode
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) { manualFailoverUnderLoad(t, mode) })
	}
}

func manualFailoverUnderLoad(t *testing.T, mode string) {
	integration.CheckGoroutines(t)
	rc := integration.StartClusterT(t, integration.ClusterConfig{})
	c := connectCluster(t, rc, cluster.Config{})
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w := startClusterWrites(t, cl, 64, "manual")
	w.waitAcks(t, 5000)
	require.NoError(t, rc.Failover(ctx, rc.Replicas[0], mode))
	visible := time.Now()
	w.waitAcks(t, 5000)
	done := w.finish()
	var errs []error
	inFlight := 0
	var acked []string
	for _, d := range done {
		switch {
		case d.err == nil && (mode == "" || d.start.After(visible)):
			acked = append(acked, d.key)
		case d.err == nil:
		case mode != "" && errors.Is(d.err, core.ErrInFlight):
			inFlight++
		default:
			errs = append(errs, d.err)
		}
	}
	lost := 0
	for i := 0; i < len(acked); i += 500 {
		n, err := cl.Exists(ctx, acked[i:min(i+500, len(acked))]...).Result()
		require.NoError(t, err)
		lost += min(i+500, len(acked)) - i - int(n)
	}
	t.Logf("CLUSTER FAILOVER %s: %d writes checked, %d failed (%d more in flight), %d lost; MOVED %d handled",
		mode, len(acked), len(errs), inFlight, lost, c.Stats().Moved)
	assert.Empty(t, errs, "writes failed through a manual failover")
	assert.Zero(t, lost, "acknowledged writes lost")
}

// A single-key register used around a CLUSTER FAILOVER is linearizable:
// the old master stops taking writes before its replica takes over, and
// the client follows the MOVED it then answers.
func TestClusterManualFailoverIsLinearizable(t *testing.T) {
	t.Parallel() // the package checks for leaked goroutines at its end (TestMain)
	rc := integration.StartClusterT(t, integration.ClusterConfig{})
	c := connectCluster(t, rc, cluster.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const key = "register"
	require.NoError(t, c.Client().Set(ctx, key, "init").Err())
	var heir *integration.Node
	for i, m := range rc.Masters {
		if slotSet(t, ctx, rc, m)[cluster.Slot(key)] {
			heir = rc.Replicas[i]
		}
	}
	require.NotNil(t, heir)

	stop := make(chan struct{})
	done := make(chan []porcupine.Operation)
	go func() { done <- registerHistory(c.Client(), key, 8, stop) }()
	warm := time.NewTimer(300 * time.Millisecond)
	<-warm.C
	require.NoError(t, rc.Failover(ctx, heir, ""))
	after := time.NewTimer(time.Second)
	<-after.C
	close(stop)
	ops := <-done

	checkLinearizable(t, ops)
	assert.Equal(t, heir.Addr(), c.SlotOwner(cluster.Slot(key)))
}

// A master restarted under a new address (cut off, attached again at
// another IP, announcing it): the cluster learns the address from its
// gossip and the client follows the map there. Writes on its slots
// resume, only those in flight at the cut fail, and the old address
// gets no command once the map has moved.
func TestClusterFollowsANodeToANewAddress(t *testing.T) {
	integration.CheckGoroutines(t)
	rc := integration.StartClusterT(t, integration.ClusterConfig{})
	c := connectCluster(t, rc, cluster.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	victim := rc.Masters[0]
	slots := slotSet(t, ctx, rc, victim)
	oldAddr := victim.Addr()
	ip := net.ParseIP(victim.IP).To4()
	ip[3] += 100 // unused: the harness numbers nodes from .10
	newIP := ip.String()
	newAddr := net.JoinHostPort(newIP, strconv.Itoa(victim.Port))

	w := startClusterWrites(t, c.Client(), 64, "moved")
	w.waitAcks(t, 5000)
	cut := time.Now()
	require.NoError(t, victim.MoveTo(ctx, newIP))
	_, err := victim.Do(ctx, "CONFIG", "SET", "cluster-announce-ip", newIP)
	require.NoError(t, err)
	announced := time.Now()
	require.Eventually(t, func() bool {
		for s := range slots {
			if c.SlotOwner(s) != newAddr {
				return false
			}
		}
		return true
	}, 30*time.Second, time.Millisecond, "the client follows the node to %s", newAddr)
	followed := time.Now()
	w.waitAcks(t, 5000)
	done := w.finish()

	var first time.Time
	inFlight, other := 0, 0
	var firstOther error
	for _, d := range done {
		switch {
		case d.err == nil:
			if slots[d.slot] && d.start.After(announced) && (first.IsZero() || d.at.Before(first)) {
				first = d.at
			}
		case errors.Is(d.err, core.ErrInFlight) && slots[d.slot]:
			inFlight++
		default:
			if other++; firstOther == nil {
				firstOther = d.err
			}
		}
	}
	require.False(t, first.IsZero(), "no write on the moved node's slots succeeded")
	t.Logf("cut to new address announced %v; map followed %v after that; first write on its slots acknowledged %v after the announcement; %d writes, %d failed in flight, %d other failures (first: %v)",
		announced.Sub(cut).Round(time.Millisecond), followed.Sub(announced).Round(time.Millisecond), first.Sub(announced).Round(time.Millisecond),
		len(done), inFlight, other, firstOther)
	assert.Zero(t, other, "failures other than in flight at the cut")
	assert.LessOrEqual(t, inFlight, 64, "at most one write in flight per writer")
	// The writes out on the old address fail once it has been silent for
	// a second (it may still answer: pool.Pool.Drain), and then the
	// waiting ones go to the new one.
	assert.LessOrEqual(t, first.Sub(followed), time.Second+16*raceSlack, "first write on its slots after the map followed it")
	for s := range slots {
		assert.Equal(t, newAddr, c.SlotOwner(s), "slot %d still names %s", s, oldAddr)
	}
	_, kept := c.Stats().Nodes[oldAddr]
	assert.False(t, kept, "the old address is still a node of the client's")
}
