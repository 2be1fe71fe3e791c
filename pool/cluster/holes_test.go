package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One MOVED to a node that then turns out dead must not pin its slot:
// the maps that follow, naming the slot's true owner at the same config
// epoch as before, are followed. (The MOVED used to raise the slot's
// recorded epoch, so every later map looked older than it.)
func TestAMovedDoesNotOutrankLaterMaps(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{Pool: poolQuick()})
	cl := c.Client()
	key := keyIn(f, 0, 1)
	require.NoError(t, cl.Set(ctx5(t), key, "v").Err())
	f.nodes[2].srv.Close() // in the map, but gone
	lied := false
	f.setInject(func(node int, args []string) string {
		if node == 0 && strings.EqualFold(args[0], "GET") && !lied {
			lied = true
			return fmt.Sprintf("-MOVED %d %s\r\n", Slot(key), f.nodes[2].addr)
		}
		return ""
	})
	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		v, err := cl.Get(ctx, key).Result()
		cancel()
		require.NoError(t, err, "GET %d", i)
		assert.Equal(t, "v", v)
	}
	assert.Equal(t, f.nodes[0].addr, c.SlotOwner(Slot(key)))
}

// A node that announces an absurd config epoch does not freeze its slots
// against a later failover: an older claim than the one followed is
// ignored for a bounded time only (epochTrust), then followed.
func TestAnAbsurdEpochDoesNotFreezeASlot(t *testing.T) {
	f := newFakeCluster(t, 3)
	f.epoch[1] = 1 << 62
	c := start(t, f, Config{Pool: poolQuick()})
	cl := c.Client()
	key := keyIn(f, 1, 1)
	require.NoError(t, cl.Set(ctx5(t), key, "v").Err())
	f.takeOver(1, 2)
	f.mu.Lock()
	f.epoch[2] = 7 // the failover's honest epoch, below the lie
	f.mu.Unlock()
	f.nodes[1].srv.Close()
	// Served about epochTrust after the failover (2.0–2.1 s measured);
	// the deadline is a tail guard.
	ctx, cancel := context.WithTimeout(context.Background(), epochTrust+10*time.Second)
	defer cancel()
	v, err := cl.Get(ctx, key).Result()
	require.NoError(t, err, "the slot's new owner is followed once the trust in the lie ran out")
	assert.Equal(t, "v", v)
	assert.Equal(t, f.nodes[2].addr, c.SlotOwner(Slot(key)))
}

// A command whose slot no master serves ends by RetryTimeout when its
// context has no deadline, with an error that says why and that it was
// not sent.
func TestACommandOnAnUnservedSlotEndsByRetryTimeout(t *testing.T) {
	f := newFakeCluster(t, 3)
	key := keyIn(f, 1, 1)
	f.owner[Slot(key)] = -1
	c := start(t, f, Config{RetryTimeout: 300 * time.Millisecond})
	fut := c.Client().Get(context.Background(), key)
	select {
	case <-fut.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("still waiting 5 s after a RetryTimeout of 300 ms (%+v)", c.Stats())
	}
	err := fut.Err()
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrSlotNotServed)
	assert.ErrorIs(t, err, ErrRetryTimeout)
	assert.ErrorIs(t, err, core.ErrNotSent)
	assert.True(t, core.SafeToRetry(err))
	assert.Zero(t, c.Stats().Waiting)

	// MaxRetries ends it too, whichever comes first.
	c2 := start(t, f, Config{MaxRetries: 2})
	err = c2.Client().Get(ctx5(t), key).Err()
	assert.ErrorIs(t, err, ErrSlotNotServed)
	assert.ErrorIs(t, err, ErrMaxRetries)
}

// A command that reaches its deadline while the cluster keeps refusing
// it, or while its node cannot be reached, gets an error that wraps the
// context's and the last cause it met.
func TestDeadlineErrorsSayWhy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fakeCluster, key string)
		cause error
	}{
		{"tryagain", func(f *fakeCluster, key string) {
			f.setInject(func(_ int, args []string) string {
				if strings.EqualFold(args[0], "GET") {
					return "-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
				}
				return ""
			})
		}, protocol.ErrTryAgain},
		{"clusterdown", func(f *fakeCluster, key string) {
			f.setInject(func(_ int, args []string) string {
				if strings.EqualFold(args[0], "GET") {
					return "-CLUSTERDOWN The cluster is down\r\n"
				}
				return ""
			})
		}, protocol.ErrClusterDown},
		{"unreachable", func(f *fakeCluster, key string) { f.nodes[1].srv.Close() }, syscall.ECONNREFUSED},
		{"unserved", func(f *fakeCluster, key string) {
			f.mu.Lock()
			f.owner[Slot(key)] = -1
			f.mu.Unlock()
		}, ErrSlotNotServed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCluster(t, 3)
			c := start(t, f, Config{Pool: poolQuick()})
			key := keyIn(f, 1, 1)
			tc.setup(f, key)
			if tc.name == "unserved" {
				require.NoError(t, c.refresh(ctx5(t)))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := c.Client().Get(ctx, key).Err()
			require.Error(t, err)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.ErrorIs(t, err, tc.cause, "the error says why: %v", err)
			// The client ends it when its next retry would come after the
			// deadline (nothing ran); if the context ends first (it was
			// with a node's pool then), the future's error wraps the cause.
			var gu *GaveUpError
			var we *core.WaitingError
			switch {
			case errors.As(err, &gu):
				assert.True(t, core.SafeToRetry(err), "nothing ran: %v", err)
			case errors.As(err, &we):
				assert.False(t, core.SafeToRetry(err), "a context's error: %v", err)
			default:
				t.Errorf("%T: %v", err, err)
			}
		})
	}
}

// Two nodes redirecting a slot to each other (a move's end heard by one
// before the other) do not exhaust a command's redirects in a moment:
// after two, each redirect waits the retry backoff, and the command is
// served once the nodes agree.
func TestRedirectPingPongPauses(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{})
	cl := c.Client()
	key := keyIn(f, 0, 1)
	require.NoError(t, cl.Set(ctx5(t), key, "v").Err())
	until := time.Now().Add(300 * time.Millisecond)
	moves := 0
	f.setInject(func(node int, args []string) string {
		if strings.EqualFold(args[0], "GET") && time.Now().Before(until) && node < 2 {
			moves++
			return fmt.Sprintf("-MOVED %d %s\r\n", Slot(key), f.nodes[1-node].addr)
		}
		return ""
	})
	v, err := cl.Get(ctx5(t), key).Result()
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Less(t, moves, 16, "redirects while the nodes disagreed")
}

// A sharded channel is subscribed on a replica only when its master's
// own view names that replica (the master passes its messages to those
// only); otherwise on the master. The map alone, read from another node,
// may name a demoted master as a replica before the new master knows.
func TestReplicaSubscriptionsNeedTheMastersOwnView(t *testing.T) {
	f := newFake(t, 2, fakeOptions{replicas: true, resp3: true})
	c := start(t, f, Config{Reads: core.ReadReplicaPreferred})
	slot := int(Slot(keyIn(f, 0, 1)))
	master, replica := f.nodes[0].addr, f.replicas[0].addr
	require.Equal(t, replica, c.subscribeTarget(ctx5(t), slot).addr, "the master's view names its replica")

	// The master forgets its replica (it has not heard of it yet): its
	// CLUSTER NODES names none.
	f.setInject(func(node int, args []string) string {
		if node == 0 && len(args) > 1 && strings.EqualFold(args[1], "NODES") {
			return bulk1(fmt.Sprintf("node0-0 %s@1 myself,master - 0 0 1 connected\n", master))
		}
		return ""
	})
	require.NoError(t, c.refresh(ctx5(t)))
	c.mu.Lock()
	m := c.slots.ownerLocked(slot)
	c.mu.Unlock()
	m.view.Store(nil) // not known: subscribeTarget asks the master
	assert.Equal(t, master, c.subscribeTarget(ctx5(t), slot).addr, "not on a replica its master does not name")
	c.mu.Lock()
	r := pickReplica(m, slot, false)
	serves := c.servesLocked(slot, r)
	c.mu.Unlock()
	assert.False(t, serves, "a subscription on that replica is moved")
	// A subscription kept on the replica while its master's view is not
	// known: the set asks the master, and moves.
	m.view.Store(nil)
	s := c.newSubConn(func(protocol.Value) {})
	s.subs.Place(shards, keyIn(f, 0, 1), r)
	assert.True(t, s.stale(), "the master's view, once asked, does not name the replica")

	f.setInject(nil)
	m.view.Store(nil)
	assert.False(t, s.stale(), "named again: the subscription stays")
	m.view.Store(nil)
	assert.Equal(t, replica, c.subscribeTarget(ctx5(t), slot).addr, "named again")
}
