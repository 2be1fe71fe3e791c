package integration_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/pool/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keysIn returns n keys whose slots the set holds.
func keysIn(slots map[uint16]bool, prefix string, n int) []string {
	var keys []string
	for i := 0; len(keys) < n; i++ {
		if k := fmt.Sprint(prefix, i); slots[cluster.Slot(k)] {
			keys = append(keys, k)
		}
	}
	return keys
}

// A master's followers on a cluster get through its loss as they do on
// Sentinel. Its replica keeps serving reads (ReadReplicaPreferred) while
// the master is down and while it is promoted: with
// cluster-allow-reads-when-down, no gap between successful reads is
// longer than 50 ms; without it (the default) every node refuses every
// command with CLUSTERDOWN from the moment the master is marked failed
// until the promotion, and reads resume at most 50 ms after the
// promotion is visible. A sharded subscriber to a channel of its slots
// receives, at most 50 ms after the publisher's first publish
// acknowledged on the new master, what is published from then on, and
// misses no publish the server acknowledged as delivered to it (but the
// last one before the fault, which the server may not have written). A
// subscriber of a client that reads from replicas is subscribed on the
// replica, which stays subscribed when it is promoted; one of a client
// that reads from masters follows the slot to the promoted replica.
func TestClusterFollowersThroughAMasterLoss(t *testing.T) {
	for _, tt := range timingScenarios([]struct {
		fault                      string
		readsWhenDown, subOnMaster bool
	}{{"crash", false, true}, {"disconnect", false, true}, {"crash", true, false}}) {
		name := tt.fault
		if tt.readsWhenDown {
			name += ", reads allowed when down"
		}
		if !tt.subOnMaster {
			name += ", subscriber on the replica"
		}
		t.Run(name, func(t *testing.T) { followersThroughMasterLoss(t, tt.fault, tt.readsWhenDown, tt.subOnMaster, 16) })
	}
}

// followersThroughMasterLoss runs the test with readers goroutines
// reading, each its own key.
func followersThroughMasterLoss(t *testing.T, fault string, readsWhenDown, subOnMaster bool, readers int) {
	integration.CheckGoroutines(t)
	rc := integration.StartClusterT(t, integration.ClusterConfig{AllowReadsWhenDown: readsWhenDown})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	victim, heir := rc.Masters[0], rc.Replicas[0]
	victimSlots := slotSet(t, ctx, rc, victim)
	var heirReads atomic.Int64 // reads the replica served
	hooks := &core.Hooks{Command: func(_ context.Context, info core.CommandInfo) func(core.CommandResult) {
		if info.Addr != heir.Addr() {
			return nil
		}
		return func(res core.CommandResult) {
			if res.Err == nil {
				heirReads.Add(1)
			}
		}
	}}
	// One client reads from replicas, publishes and (unless subOnMaster)
	// subscribes, as a service would.
	reader := connectCluster(t, rc, cluster.Config{Reads: core.ReadReplicaPreferred, Pool: pool.Config{Hooks: hooks}})
	cl := reader.Client()
	sub := cl
	if subOnMaster {
		sub = connectCluster(t, rc, cluster.Config{}).Client()
	}

	keys := keysIn(victimSlots, "follow:", readers)
	sets := make([]*async.Future[string], len(keys))
	for i, k := range keys {
		sets[i] = cl.Set(ctx, k, "v")
	}
	for _, f := range sets {
		require.NoError(t, f.Err())
	}

	channel := keysIn(victimSlots, "ticks:", 1)[0]
	ps, err := sub.PubSub(async.PubSubConfig{Buffer: 1 << 16})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.SSubscribe(ctx, channel))
	var mu sync.Mutex
	received := map[int]time.Time{}
	resubscribed := 0
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for m := range ps.Messages() {
			now := time.Now()
			mu.Lock()
			switch m.Kind {
			case "smessage", "message":
				n, _ := strconv.Atoi(m.Payload)
				received[n] = now
			case async.KindResubscribed:
				resubscribed++
			}
			mu.Unlock()
		}
	}()
	pub := startPublisher(t, func(ctx context.Context, msg string) (int64, error) {
		return cl.SPublish(ctx, channel, msg).Result()
	})
	reads := startGapReadsOf(cl, keys)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(received) }
	// The replica serves the reads (once its first sync is done) and the
	// subscriber receives.
	require.Eventually(t, func() bool { return count() > 100 && heirReads.Load() > 1000 }, 30*time.Second, time.Millisecond)

	var killed time.Time
	switch fault {
	case "crash":
		killed, err = victim.Crash(ctx)
	case "disconnect":
		err = victim.Disconnect(ctx)
		killed = time.Now()
	}
	require.NoError(t, err)
	visible, err := rc.WaitPromoted(ctx, heir)
	require.NoError(t, err)
	before, okAt := count(), reads.ok.Load()
	// With 10 000 readers on the client the publisher's round trips
	// queue behind their reads: fewer messages make the point.
	more := 500
	if readers > 64 {
		more = 50
	}
	require.Eventually(t, func() bool { return count() > before+more && reads.ok.Load() > okAt+2000 }, 30*time.Second, time.Millisecond)
	acks := pub.finish()
	reads.finish()
	// The last publishes acknowledged as delivered may still be on their
	// way to the subscriber: closing it now would count them as missed
	// (a CI run did: the last publish, acknowledged 0.7 s after the
	// promotion). Wait for them, a few seconds at most; the assertion
	// below reports any that never come.
	allDelivered := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range acks {
			if _, ok := received[a.n]; !ok && a.receivers > 0 {
				return false
			}
		}
		return true
	}
	waitAtMost(5*time.Second, allDelivered)
	require.NoError(t, ps.Close())
	<-readDone

	mu.Lock()
	defer mu.Unlock()
	var firstAck publish
	lastBefore := -1 // the last publish the lost master acknowledged
	for i, a := range acks {
		if a.at.Before(killed) {
			lastBefore = i
		}
	}
	missed, missedDelivered := 0, 0
	for i, a := range acks {
		if a.at.After(killed) && firstAck.at.IsZero() {
			firstAck = a
		}
		if _, ok := received[a.n]; !ok {
			missed++
			if a.receivers == 0 {
				continue
			}
			if i == lastBefore {
				// Redis writes a publish's reply to the publisher
				// before the message to its subscribers (one pass over
				// the clients with output pending, the publisher
				// first): a kill or a cut between the two writes
				// leaves the publish acknowledged as delivered and the
				// subscriber without it. Only the last one before the
				// fault: the publisher sends the next after the reply,
				// so the message before it had left. The fault's time
				// is when Docker's call returned, some time after the
				// fact, hence negative times here (-233 ms and -45 ms
				// seen).
				t.Logf("publish %d, the last the lost master acknowledged (%v after the fault), never reached the subscriber", a.n, a.at.Sub(killed))
				continue
			}
			missedDelivered++
			t.Logf("publish %d, acknowledged as delivered %v after the fault, not received", a.n, a.at.Sub(killed))
		}
	}
	require.False(t, firstAck.at.IsZero(), "publishes acknowledged after the fault")
	firstMsg := firstReceivedFrom(received, firstAck.n)
	require.False(t, firstMsg.IsZero(), "messages received after the fault")
	lag := firstMsg.Sub(firstAck.at)
	other := 0
	var firstErr error
	for _, err := range reads.errs {
		if !errors.Is(err, core.ErrInFlight) {
			if other++; firstErr == nil {
				firstErr = err
			}
		}
	}
	t.Logf("%s: promotion visible %v after the fault; first publish acknowledged %v after that, received %v later; %d publishes acknowledged, %d not received (%d of them acknowledged as delivered); resubscribed %d times; replica reads: %d ok, %d failed (%d not in flight, first: %v), longest gap %v ending %v after the fault",
		fault, visible.Sub(killed).Round(time.Millisecond), firstAck.at.Sub(visible).Round(100*time.Microsecond), lag.Round(100*time.Microsecond),
		len(acks), missed, missedDelivered, resubscribed, reads.ok.Load(), len(reads.errs), other, firstErr,
		reads.maxGap.Round(time.Millisecond), reads.gapEnd.Sub(killed).Round(time.Millisecond))
	// Under -race, with the suite beside it, a sanity check (127 ms seen
	// once in CI); .ci/run checks 50 ms without -race.
	bound := 50*time.Millisecond + 16*raceSlack
	if readers > 64 {
		bound = crowdBound
	}
	assert.LessOrEqual(t, lag, bound, "the subscriber's first message after the first publish acknowledged on the new master")
	assert.Zero(t, missedDelivered, "publishes acknowledged as delivered to a subscriber but not received")
	if subOnMaster {
		assert.Positive(t, resubscribed, "the subscriber followed the slot")
	} else {
		assert.Zero(t, resubscribed, "the subscriber on the replica stayed subscribed through its promotion")
	}
	// Under -race a sanity check as above (a 126 ms read gap seen once in
	// CI); .ci/run checks 50 ms without -race.
	if readsWhenDown {
		assert.LessOrEqual(t, reads.maxGap, bound, "longest gap between successful replica reads")
	} else {
		assert.LessOrEqual(t, reads.gapEnd.Sub(visible), bound, "replica reads resumed after the promotion was visible")
	}
	assert.Zero(t, other, "replica reads that failed other than in flight")
}
