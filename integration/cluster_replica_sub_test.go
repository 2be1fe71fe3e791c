package integration_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A sharded subscriber of a client that reads from replicas is
// subscribed on a replica of its shard. Through a CLUSTER FAILOVER of
// that shard — to the replica it is on, to another replica, and back to
// the old master, which demotes the node it is on — it misses nothing
// published after its last KindResubscribed event (or no event at all):
// what a node dropped while it moved is said by KindDisconnected.
// (Issue 35 point 8; go test -count=3 for the three runs.)
func TestClusterReplicaSubscriberThroughAManualFailover(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replicas int
		back     bool
	}{{"to its replica", 1, false}, {"and back", 1, true}, {"to the other replica", 2, false}} {
		t.Run(tc.name, func(t *testing.T) { replicaSubscriberThroughFailover(t, tc.replicas, tc.back) })
	}
}

func replicaSubscriberThroughFailover(t *testing.T, replicas int, back bool) {
	integration.CheckGoroutines(t)
	rc := integration.StartClusterT(t, integration.ClusterConfig{ReplicasPerMaster: replicas})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	master, replica := rc.Masters[0], rc.Replicas[0]
	channel := keysIn(slotSet(t, ctx, rc, master), "replica-sub:", 1)[0]
	subc := connectCluster(t, rc, cluster.Config{Reads: core.ReadReplicaPreferred, RefreshInterval: 500 * time.Millisecond})
	pubc := connectCluster(t, rc, cluster.Config{}).Client()

	ps, err := subc.Client().PubSub(async.PubSubConfig{Buffer: 1 << 16})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.SSubscribe(ctx, channel))

	var mu sync.Mutex
	got := map[int]bool{}
	var events []string
	var lastEvent time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ps.Messages() {
			mu.Lock()
			if m.Kind == "smessage" {
				n, _ := strconv.Atoi(m.Payload)
				got[n] = true
			} else {
				lastEvent = time.Now()
				events = append(events, m.Kind+"@"+lastEvent.Format("05.000000"))
			}
			mu.Unlock()
		}
	}()
	pub := startPublisher(t, func(ctx context.Context, msg string) (int64, error) {
		return pubc.SPublish(ctx, channel, msg).Result()
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	require.Eventually(t, func() bool { return count() > 100 }, 30*time.Second, time.Millisecond, "the replica subscriber receives")

	slot := cluster.Slot(channel)
	require.NoError(t, rc.Failover(ctx, replica, ""))
	if back {
		require.Eventually(t, func() bool { return subc.SlotOwner(slot) == replica.Addr() }, 10*time.Second, time.Millisecond,
			"the client follows the first failover")
		require.NoError(t, rc.Failover(ctx, master, ""))
	}
	promoted := time.Now()
	// Publish on for 3 s after the promotion (a span of load, not a
	// synchronisation), then wait for what is on its way.
	time.Sleep(3 * time.Second)
	acks := pub.finish()
	mu.Lock()
	since := lastEvent
	mu.Unlock()
	var after []publish
	for _, a := range acks {
		if a.sent.After(since) && a.sent.After(promoted) {
			after = append(after, a)
		}
	}
	require.NotEmpty(t, after, "publishes sent after the promotion and the subscriber's last event")
	waitAtMost(5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range after {
			if !got[a.n] {
				return false
			}
		}
		return true
	})
	ps.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	var missed []string
	for _, a := range after {
		if !got[a.n] {
			missed = append(missed, fmt.Sprintf("%d sent %s (%d receivers)", a.n, a.sent.Format("05.000000"), a.receivers))
		}
	}
	if len(missed) > 6 {
		missed = append(missed[:3], append([]string{fmt.Sprintf("... %d in all ...", len(missed))}, missed[len(missed)-3:]...)...)
	}
	assert.Empty(t, missed, "sent after the promotion (%s) and the subscriber's last event (%v), never received (of %d)",
		promoted.Format("05.000000"), events, len(after))
}
