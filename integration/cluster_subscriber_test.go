package integration_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A sharded subscriber with channels on two masters loses one of them.
// The channel on the healthy master misses nothing: its subscription
// there is never dropped, while the whole cluster refuses commands
// (CLUSTERDOWN, until the promotion) and while the lost master's channel
// is subscribed again on its heir — and it receives each message once,
// without delay.
// The lost master's channel follows the slot to the heir. The master's
// process dies (crash), or its host is cut off (disconnect).
func TestClusterSubscriberKeepsTheHealthyMastersChannels(t *testing.T) {
	for _, fault := range []string{"crash", "disconnect"} {
		t.Run(fault, func(t *testing.T) { subscriberKeepsHealthyChannels(t, fault, nil) })
	}
}

// subscriberKeepsHealthyChannels runs the test; load, if set, starts
// more work on the subscriber's client and returns what stops it.
func subscriberKeepsHealthyChannels(t *testing.T, fault string, load func(*async.Client) (stop func())) {
	integration.CheckGoroutines(t)
	rc := integration.StartClusterT(t, integration.ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	victim, heir := rc.Masters[0], rc.Replicas[0]
	lostCh := keysIn(slotSet(t, ctx, rc, victim), "lost:", 1)[0]
	keptCh := keysIn(slotSet(t, ctx, rc, rc.Masters[1]), "kept:", 1)[0]
	cl := connectCluster(t, rc, cluster.Config{}).Client()

	ps, err := cl.PubSub(async.PubSubConfig{Buffer: 1 << 16})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.SSubscribe(ctx, lostCh, keptCh))
	tl := startTally(ps)
	count := tl.count
	stopLoad := func() {}
	if load != nil {
		stopLoad = sync.OnceFunc(load(cl))
	}
	defer stopLoad()
	kept := startPublisher(t, func(ctx context.Context, msg string) (int64, error) {
		return cl.SPublish(ctx, keptCh, msg).Result()
	})
	require.Eventually(t, func() bool { return count(keptCh) > 100 }, 30*time.Second, time.Millisecond)

	if fault == "crash" {
		_, err = victim.Crash(ctx)
	} else {
		err = victim.Disconnect(ctx)
	}
	require.NoError(t, err)
	_, err = rc.WaitPromoted(ctx, heir)
	require.NoError(t, err)
	// The lost master's channel is served again by its heir.
	require.Eventually(t, func() bool {
		n, err := cl.SPublish(ctx, lostCh, "0").Result()
		return err == nil && n > 0
	}, 30*time.Second, 5*time.Millisecond)
	// Under load the publisher's round trips queue behind the crowd's
	// commands: fewer messages make the point.
	before, more := count(keptCh), 200
	if load != nil {
		more = 50
	}
	ok := assert.Eventually(t, func() bool { return count(keptCh) > before+more }, 30*time.Second, time.Millisecond)
	t.Logf("the healthy master's channel: %d messages before the promotion was visible, %d now", before, count(keptCh))
	require.True(t, ok)
	acks := kept.finish()
	stopLoad()
	// What is still on its way arrives within a few seconds.
	waitAtMost(5*time.Second, func() bool { return tl.allIn(keptCh, acks) })
	require.NoError(t, ps.Close())
	<-tl.done

	got, keptAt := tl.got, tl.first[keptCh]
	first := -1 // the first message received: the subscription was in place from then on
	for n := range got[keptCh] {
		if first < 0 || n < first {
			first = n
		}
	}
	var missed, twice []int
	var slowest time.Duration // from a publish's acknowledgment to its message's arrival
	for _, a := range acks {
		if a.n < first {
			continue
		}
		if at, ok := keptAt[a.n]; ok {
			slowest = max(slowest, at.Sub(a.at))
		}
		switch got[keptCh][a.n] {
		case 0:
			missed = append(missed, a.n)
		case 1:
		default:
			twice = append(twice, a.n)
		}
	}
	t.Logf("%d publishes acknowledged on the healthy master's channel, %d missed, %d received more than once; slowest delivery %v after the acknowledgment",
		len(acks), len(missed), len(twice), slowest)
	if len(missed) > 0 {
		t.Errorf("%d publishes acknowledged on the healthy master's channel never received, from %d to %d", len(missed), missed[0], missed[len(missed)-1])
	}
	assert.Empty(t, twice, "messages received more than once")
	// Nor are they held up: the lost master's channel is subscribed again
	// (its dial may hang a second after a crash) without stopping the
	// delivery of what the healthy master's connection reads.
	bound := 200 * time.Millisecond
	if raceOn {
		bound = 500 * time.Millisecond
	}
	if load != nil {
		bound = 2 * crowdBound // the scheduler's queue of thousands of woken writers
	}
	assert.Less(t, slowest, bound, "delivery on the healthy master's channel held up")
	assert.NotEmpty(t, got[lostCh], "the lost master's channel, subscribed again on its heir, receives")
}
