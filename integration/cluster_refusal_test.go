package integration_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A sharded subscriber asks a master for a channel whose slot has just
// moved to another master, before the client's map knows: the node
// refuses it (MOVED). The refusal costs the connection to that master
// nothing — the channel already subscribed there misses no message and
// its connection is the same — and the new channel is subscribed where
// the MOVED points.
func TestClusterSubscriberKeepsItsConnectionThroughAMoved(t *testing.T) {
	subscriberKeepsConnThroughMoved(t, nil)
}

// subscriberKeepsConnThroughMoved runs the test; load, if set, starts
// more work on the subscriber's client, on keys of the master that takes
// no part (their MOVED would tell the client of the move first), and
// returns what stops it.
func subscriberKeepsConnThroughMoved(t *testing.T, load func(cl *async.Client, prefix string) (stop func())) {
	integration.CheckGoroutines(t)
	rc := integration.StartClusterT(t, integration.ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	from, to := rc.Masters[1], rc.Masters[2]
	keptCh := keysIn(slotSet(t, ctx, rc, from), "kept:", 1)[0]
	var laterCh string
	for _, k := range keysIn(slotSet(t, ctx, rc, from), "later:", 20) {
		if cluster.Slot(k) != cluster.Slot(keptCh) {
			laterCh = k
			break
		}
	}
	// No periodic refresh: the client learns of the move from the MOVED.
	cl := connectCluster(t, rc, cluster.Config{RefreshInterval: time.Hour}).Client()
	ps, err := cl.PubSub(async.PubSubConfig{Buffer: 1 << 16})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.SSubscribe(ctx, keptCh))
	if load != nil {
		tag := keysIn(slotSet(t, ctx, rc, rc.Masters[0]), "elsewhere", 1)[0]
		defer sync.OnceFunc(load(cl, "{"+tag+"}"))()
	}
	pubsubConns := func() string {
		v, err := from.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub")
		require.NoError(t, err)
		var ids []string
		for _, line := range strings.Split(strings.TrimSpace(v.(string)), "\n") {
			ids = append(ids, strings.Fields(line)[0]) // id=N
		}
		return strings.Join(ids, " ")
	}
	connBefore := pubsubConns()

	tl := startTally(ps)
	count := tl.count
	kept := startPublisher(t, func(ctx context.Context, msg string) (int64, error) {
		return cl.SPublish(ctx, keptCh, msg).Result()
	})
	require.Eventually(t, func() bool { return count(keptCh) > 100 }, 30*time.Second, time.Millisecond)

	require.NoError(t, rc.MoveSlots(ctx, []int{int(cluster.Slot(laterCh))}, from, to))
	require.NoError(t, ps.SSubscribe(ctx, laterCh))
	n, err := cl.SPublish(ctx, laterCh, "0").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "the new channel is subscribed on the slot's new master")
	before := count(keptCh)
	require.Eventually(t, func() bool { return count(keptCh) > before+100 }, 30*time.Second, time.Millisecond)
	acks := kept.finish()
	waitAtMost(5*time.Second, func() bool { return tl.allIn(keptCh, acks) })
	assert.Equal(t, connBefore, pubsubConns(), "the subscriber's connection to the refusing master is the same")
	require.NoError(t, ps.Close())
	<-tl.done

	got := tl.got
	var missed []int
	for _, a := range acks {
		if got[keptCh][a.n] == 0 {
			missed = append(missed, a.n)
		}
	}
	assert.Empty(t, missed, "acknowledged publishes on the kept channel never received")
	assert.Equal(t, 1, got[laterCh][0], "the new channel's message")
}
