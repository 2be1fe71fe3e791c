package cluster

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A node that refuses a new subscription for a while (CLUSTERDOWN, as a
// real cluster answers every command while one of its masters is down)
// does not cost the channels already subscribed on its connection
// anything: the connection is kept, they are not subscribed again, and
// the new channel is subscribed once the node accepts it.
func TestRefusedSubscriptionKeepsTheNodesConnection(t *testing.T) {
	f := newFake(t, 2, fakeOptions{resp3: true})
	c := start(t, f, Config{})
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kept, fresh := keyIn(f, 1, 9), keyIn(f, 1, 10)
	ps, err := cl.PubSub(async.PubSubConfig{})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.SSubscribe(ctx, kept))
	f.mu.Lock()
	keptConn := slices.Clone(f.nodes[1].subs[kept])
	f.mu.Unlock()
	require.Len(t, keptConn, 1)

	before := f.countAt(1, "SSUBSCRIBE")
	f.setInject(func(node int, args []string) string {
		if node == 1 && strings.EqualFold(args[0], "SSUBSCRIBE") {
			return "-CLUSTERDOWN The cluster is down\r\n"
		}
		return ""
	})
	done := make(chan error, 1)
	go func() { done <- ps.SSubscribe(ctx, fresh) }()
	require.Eventually(t, func() bool { return f.countAt(1, "SSUBSCRIBE") >= before+2 }, 10*time.Second, time.Millisecond,
		"the refused subscription is asked again")
	f.setInject(nil)
	require.NoError(t, <-done)

	f.mu.Lock()
	assert.Equal(t, keptConn, f.nodes[1].subs[kept], "the node's connection and its subscription are the same")
	assert.Equal(t, keptConn, f.nodes[1].subs[fresh], "the new channel is on that connection")
	f.mu.Unlock()
	receiveAfterPublishing(t, ctx, cl, ps, kept)
	receiveAfterPublishing(t, ctx, cl, ps, fresh)
}
