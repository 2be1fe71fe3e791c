package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A master whose connection dies and whose redial hangs (a host gone:
// the dial, or here the handshake, is never answered) gives no sign but
// commands waiting in its pool: no reply is owed on a connection, and
// after downPause it no longer counts as down. The map must still be
// watched: when the cluster gives its slots to another master, the
// waiting commands go there at once, not when the dial times out. (This
// was the kill tail of issue 36: the map was read again only at
// RefreshInterval, and the writers parked on the lost slots ran into
// their deadlines.)
func TestAMasterWhoseRedialHangsIsWatched(t *testing.T) {
	for _, tc := range []struct {
		name string
		gets int
	}{{"one GET", 1}, {"10000 unawaited GETs", 10000}} {
		t.Run(tc.name, func(t *testing.T) { redialHangs(t, tc.gets) })
	}
}

func redialHangs(t *testing.T, gets int) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{
		RefreshInterval: time.Minute, RetryTimeout: time.Minute,
		Pool: pool.Config{DialTimeout: time.Minute, ReconnectBackoff: 5 * time.Millisecond, MaxReconnectBackoff: 20 * time.Millisecond},
	})
	cl := c.Client()
	key := keyIn(f, 0, 1)
	require.NoError(t, cl.Set(ctx5(t), key, "v").Err())

	f.nodes[0].hold(t)          // new connections' handshakes are never answered
	f.nodes[0].srv.CloseConns() // and the one open dies
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	futs := make([]*async.Future[string], gets)
	for i := range futs {
		futs[i] = cl.Get(ctx, key)
	}
	c.mu.Lock()
	n := c.nodes[f.nodes[0].addr]
	c.mu.Unlock()
	require.Eventually(t, func() bool { return !n.pool.DialStall().IsZero() }, 10*time.Second, time.Millisecond,
		"the GETs wait in node 0's pool for a connection")
	require.Eventually(t, func() bool { return !n.down() }, 10*time.Second, time.Millisecond,
		"node 0 no longer counts as down (downPause after its connection died)")

	// The fault lasts on past the down watch (a span of fault, not a
	// synchronisation: the old code's last refresh came within
	// downRefresh of here, and none after).
	time.Sleep(300 * time.Millisecond)
	f.takeOver(0, 1)
	for i, fu := range futs {
		v, err := fu.Result()
		require.NoError(t, err, "GET %d", i)
		assert.Equal(t, "v", v)
	}
	assert.Equal(t, f.nodes[1].addr, c.SlotOwner(Slot(key)))
}
