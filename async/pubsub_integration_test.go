package async_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func next(t *testing.T, ps *async.PubSub, kind string) async.Message {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-ps.Messages():
			require.True(t, ok, "Messages closed")
			if m.Kind == kind {
				return m
			}
		case <-timeout:
			t.Fatalf("no %q message within 10s", kind)
		}
	}
}

func TestPubSub(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	c, _ := newClient(t, pool.Config{Addr: r.Addr()})

	ps, err := c.PubSub(async.PubSubConfig{Buffer: 16})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.Subscribe(ctx, "news", "sport"))
	require.NoError(t, ps.PSubscribe(ctx, "log.*"))
	require.NoError(t, ps.SSubscribe(ctx, "shard"))
	handled := make(chan async.Message, 1)
	ps.Handle("sport", func(m async.Message) { handled <- m })

	// Plain commands on the shared connection meanwhile are undisturbed.
	assert.EqualValues(t, 1, must(t, c.Publish(ctx, "news", "hello")))
	m := next(t, ps, "message")
	assert.Equal(t, async.Message{Kind: "message", Channel: "news", Payload: "hello"}, m)
	must(t, c.Publish(ctx, "log.web", "line"))
	m = next(t, ps, "pmessage")
	assert.Equal(t, async.Message{Kind: "pmessage", Channel: "log.web", Pattern: "log.*", Payload: "line"}, m)
	must(t, c.Do(ctx, "SPUBLISH", "shard", "s1"))
	assert.Equal(t, "s1", next(t, ps, "smessage").Payload)
	must(t, c.Publish(ctx, "sport", "goal"))
	select {
	case m := <-handled:
		assert.Equal(t, "goal", m.Payload)
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called")
	}

	require.NoError(t, ps.Unsubscribe(ctx, "news"))
	require.Eventually(t, func() bool { return must(t, c.Publish(ctx, "news", "x")) == 0 }, 5*time.Second, 5*time.Millisecond)

	t.Run("slow consumer: bounded buffer, drops counted", func(t *testing.T) {
		for i := 0; i < 100; i++ {
			must(t, c.Publish(ctx, "log.flood", fmt.Sprint(i)))
		}
		require.Eventually(t, func() bool { return ps.Dropped() > 0 }, 5*time.Second, time.Millisecond)
		assert.LessOrEqual(t, len(ps.Messages()), 16)
		for len(ps.Messages()) > 0 {
			<-ps.Messages()
		}
		assert.Equal(t, "PONG", must(t, c.Ping(ctx)), "the server and pool are unaffected")
	})

	t.Run("killed subscriber connection resubscribes", func(t *testing.T) {
		n := must(t, c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub"))
		assert.EqualValues(t, 1, n.Int)
		next(t, ps, async.KindDisconnected)
		next(t, ps, async.KindResubscribed)
		must(t, c.Publish(ctx, "log.after", "back"))
		m := next(t, ps, "pmessage")
		assert.Equal(t, "back", m.Payload)
	})

	t.Run("unsubscribe without names forgets every channel, also after a reconnect", func(t *testing.T) {
		require.NoError(t, ps.Unsubscribe(ctx))
		require.Eventually(t, func() bool { return must(t, c.Publish(ctx, "sport", "x")) == 0 }, 5*time.Second, 5*time.Millisecond)
		must(t, c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub"))
		next(t, ps, async.KindResubscribed)
		assert.EqualValues(t, 0, must(t, c.Publish(ctx, "sport", "x")), "sport came back after the reconnect")
		must(t, c.Publish(ctx, "log.still", "p"))
		assert.Equal(t, "p", next(t, ps, "pmessage").Payload, "patterns stay")
	})

	require.NoError(t, ps.Close())
	require.NoError(t, ps.Close())
	_, open := <-ps.Messages()
	for open {
		_, open = <-ps.Messages()
	}
}

// A full buffer drops messages, never the news that the connection was
// lost or that the subscriptions are back: a consumer that fell behind
// still learns it missed messages.
func TestPubSubFullBufferKeepsConnectionEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	c, _ := newClient(t, pool.Config{Addr: r.Addr()})
	ps, err := c.PubSub(async.PubSubConfig{Buffer: 4})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.Subscribe(ctx, "flood"))

	const n = 50
	for i := 0; i < n; i++ {
		must(t, c.Publish(ctx, "flood", fmt.Sprint(i)))
	}
	// Every message has been handled: 4 in the buffer, the rest dropped.
	require.Eventually(t, func() bool { return ps.Dropped() == n-4 }, 10*time.Second, time.Millisecond)
	require.Len(t, ps.Messages(), 4)

	assert.EqualValues(t, 1, must(t, c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub")).Int)
	m := next(t, ps, async.KindDisconnected)
	assert.Error(t, m.Err)
	next(t, ps, async.KindResubscribed)
	must(t, c.Publish(ctx, "flood", "after"))
	assert.Equal(t, "after", next(t, ps, "message").Payload)
}

// A subscription the server refuses (here an ACL that allows one channel
// only) fails its Subscribe call with the server's error and costs the
// connection nothing: the channels already subscribed keep receiving on
// it, without a reconnect, and a later subscription on it succeeds. A
// refused resubscription is reported as KindRefused.
func TestPubSubRefusedSubscriptionKeepsTheConnection(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	admin, _ := newClient(t, pool.Config{Addr: r.Addr()})
	must(t, admin.Do(ctx, "ACL", "SETUSER", "listener", "on", ">pw", "~*", "+@all", "resetchannels", "&ok*"))
	c, _ := newClient(t, pool.Config{Addr: r.Addr(), Username: "listener", Password: "pw"})
	ps, err := c.PubSub(async.PubSubConfig{ShowConfirmations: true})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.Subscribe(ctx, "ok"))

	err = ps.Subscribe(ctx, "ok2", "denied")
	require.ErrorIs(t, err, protocol.ErrNoPerm, "the whole command is refused")
	require.NoError(t, ps.SSubscribe(ctx, "ok3"), "the connection still subscribes")
	must(t, admin.Publish(ctx, "ok", "still here"))
	must(t, admin.Do(ctx, "SPUBLISH", "ok3", "new"))
	for _, want := range []string{"message", "smessage"} {
		m := next(t, ps, want)
		assert.Contains(t, []string{"ok", "ok3"}, m.Channel)
	}
	assert.EqualValues(t, 0, must(t, admin.Publish(ctx, "ok2", "x")), "ok2 was refused with denied")
	assert.EqualValues(t, 1, must(t, admin.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub")).Int)
	next(t, ps, async.KindResubscribed)
	assert.EqualValues(t, 1, must(t, admin.Publish(ctx, "ok", "back")), "the refused channels were not asked again")

	// The ACL changes under the subscriber: the server drops its
	// connection, and of what it subscribes again, "ok" is refused.
	must(t, admin.Do(ctx, "ACL", "SETUSER", "listener", "resetchannels", "&ok3"))
	var refused *async.Message
	for resubscribed := false; refused == nil || !resubscribed; {
		select {
		case m := <-ps.Messages():
			switch m.Kind {
			case async.KindRefused:
				refused = &m
			case async.KindResubscribed:
				resubscribed = true
			}
		case <-ctx.Done():
			t.Fatalf("no refusal and resubscription: %v", ctx.Err())
		}
	}
	assert.Equal(t, "ok", refused.Channel)
	require.ErrorIs(t, refused.Err, protocol.ErrNoPerm)
	must(t, admin.Do(ctx, "SPUBLISH", "ok3", "kept"))
	assert.Equal(t, "kept", next(t, ps, "smessage").Payload)
}
