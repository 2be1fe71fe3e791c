package integration_test

import (
	"context"
	"fmt"
	"sync"
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

// TestClusterShardedSubscriberFollowsItsSlot moves the slot of a sharded
// channel to another master, then fails that master over to its
// replica: the subscriber is re-subscribed where the slot now is, with
// KindResubscribed, and receives what is published afterwards.
func TestClusterShardedSubscriberFollowsItsSlot(t *testing.T) {
	t.Parallel() // the package checks for leaked goroutines at its end (TestMain)
	rc := integration.StartClusterT(t, integration.ClusterConfig{})
	c := connectCluster(t, rc, cluster.Config{})
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A channel whose slot master 0 serves.
	slots, err := rc.SlotsOf(ctx, rc.Masters[0])
	require.NoError(t, err)
	first, last := slots[0], slots[len(slots)-1]
	channel := ""
	for i := 0; channel == ""; i++ {
		ch := fmt.Sprint("events:", i)
		if s := int(cluster.Slot(ch)); s >= first && s <= last {
			channel = ch
		}
	}
	slot := int(cluster.Slot(channel))

	ps, err := cl.PubSub(async.PubSubConfig{})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.SSubscribe(ctx, channel))

	// published makes sure a message published now reaches the
	// subscriber: it publishes until one does, and fails after 10 s.
	published := func(stage string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for i := 0; ; i++ {
			payload := fmt.Sprintf("%s-%d", stage, i)
			require.NoError(t, async.Cmd(ctx, cl, async.ToInt64, "SPUBLISH", channel, payload).Err())
			wait := time.After(100 * time.Millisecond)
			for {
				select {
				case m := <-ps.Messages():
					if m.Payload == payload {
						return
					}
					continue
				case <-wait:
				case <-deadline:
					t.Fatalf("%s: nothing published on %s reached the subscriber", stage, channel)
				}
				break
			}
		}
	}
	published("before")

	began := time.Now()
	require.NoError(t, rc.MoveSlots(ctx, []int{slot}, rc.Masters[0], rc.Masters[1]))
	waitKind(t, ps, async.KindResubscribed, 10*time.Second)
	t.Logf("re-subscribed %v after the slot move began", time.Since(began).Round(time.Millisecond))
	published("after the move")
	assert.Equal(t, rc.Masters[1].Addr(), c.SlotOwner(uint16(slot)))

	// The slot's master fails over to its replica.
	replica := rc.Replicas[1]
	m, err := rc.MasterOf(ctx, replica)
	require.NoError(t, err)
	require.Equal(t, rc.Masters[1], m)
	require.NoError(t, rc.Failover(ctx, replica, ""))
	published("after the failover")
	require.Eventually(t, func() bool { return c.SlotOwner(uint16(slot)) == replica.Addr() }, 10*time.Second, 20*time.Millisecond,
		"the client follows the promotion")
}

// waitKind waits for a message of kind on ps.
func waitKind(t *testing.T, ps *async.PubSub, kind string, limit time.Duration) {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case m := <-ps.Messages():
			if m.Kind == kind {
				return
			}
		case <-deadline:
			t.Fatalf("no %s within %v", kind, limit)
		}
	}
}

// TestClusterReplicaReads sends reads to the READONLY replicas under the
// replica policies, reports each command's node to the hooks, and leaves
// a replica that stops answering out of the reads.
func TestClusterReplicaReads(t *testing.T) {
	t.Parallel() // the package checks for leaked goroutines at its end (TestMain)
	rc := integration.StartClusterT(t, integration.ClusterConfig{})
	var mu sync.Mutex
	served := map[string]int{} // GETs by node address
	hooks := &core.Hooks{Command: func(_ context.Context, info core.CommandInfo) func(core.CommandResult) {
		if info.Name != "GET" {
			return nil
		}
		return func(res core.CommandResult) {
			if res.Err == nil {
				mu.Lock()
				served[info.Addr]++
				mu.Unlock()
			}
		}
	}}
	c := connectCluster(t, rc, cluster.Config{Reads: core.ReadReplica,
		Pool: pool.Config{Hooks: hooks, DialTimeout: time.Second, ReadTimeout: 2 * time.Second}})
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range 300 {
		require.NoError(t, cl.Set(ctx, fmt.Sprint("rr:", i), i).Err())
	}
	// Replication is asynchronous: wait until the replicas have it all.
	for _, r := range rc.Replicas {
		require.Eventually(t, func() bool {
			v, err := r.Do(ctx, "DBSIZE")
			return err == nil && v.(int64) > 50
		}, 10*time.Second, 20*time.Millisecond)
	}
	read := func() {
		t.Helper()
		for i := range 300 {
			v, err := cl.Get(ctx, fmt.Sprint("rr:", i)).Result()
			require.NoError(t, err)
			require.Equal(t, fmt.Sprint(i), v)
		}
	}
	read()
	mu.Lock()
	for _, r := range rc.Replicas {
		assert.Positive(t, served[r.Addr()], "replica %s served reads", r.Name)
	}
	for _, m := range rc.Masters {
		assert.Zero(t, served[m.Addr()], "master %s served no read", m.Name)
	}
	clear(served)
	mu.Unlock()

	// A replica that dies is left out: under ReadReplicaPreferred its
	// reads go to its master.
	c2 := connectCluster(t, rc, cluster.Config{Reads: core.ReadReplicaPreferred,
		Pool: pool.Config{Hooks: hooks, DialTimeout: 300 * time.Millisecond, ReadTimeout: time.Second}})
	require.NoError(t, rc.Replicas[0].Kill(ctx))
	cl2 := c2.Client()
	for i := range 300 {
		v, err := cl2.Get(ctx, fmt.Sprint("rr:", i)).Result()
		require.NoError(t, err, "key %d", i)
		require.Equal(t, fmt.Sprint(i), v)
	}
	mu.Lock()
	assert.Zero(t, served[rc.Replicas[0].Addr()])
	assert.Positive(t, served[rc.Masters[0].Addr()], "the dead replica's master took its reads")
	mu.Unlock()
}

// TestClusterFollowsAKilledMaster kills a master: commands on its slots
// wait (never written) or fail in flight, and are served by the replica
// the cluster promotes; the client reports the change as an event.
func TestClusterFollowsAKilledMaster(t *testing.T) {
	t.Parallel() // the package checks for leaked goroutines at its end (TestMain)
	rc := integration.StartClusterT(t, integration.ClusterConfig{})
	c := connectCluster(t, rc, cluster.Config{Pool: pool.Config{DialTimeout: 500 * time.Millisecond, ReadTimeout: 2 * time.Second}})
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	victim := rc.Masters[0]
	slots, err := rc.SlotsOf(ctx, victim)
	require.NoError(t, err)
	key := ""
	for i := 0; key == ""; i++ {
		k := fmt.Sprint("victim:", i)
		if s := int(cluster.Slot(k)); s >= slots[0] && s <= slots[len(slots)-1] {
			key = k
		}
	}
	require.NoError(t, cl.Set(ctx, key, "before").Err())
	replica := rc.Replicas[0]
	require.Eventually(t, func() bool {
		v, err := replica.Do(ctx, "DBSIZE")
		return err == nil && v.(int64) >= 1
	}, 10*time.Second, 10*time.Millisecond, "the write reached the replica")

	require.NoError(t, victim.Kill(ctx))
	killed := time.Now()
	// A write issued now waits for the promotion (its context allows it)
	// and lands on the new master.
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	require.NoError(t, cl.Set(wctx, key, "after").Err(), "a write issued after the kill waits for the new master")
	t.Logf("write served %v after the kill", time.Since(killed).Round(time.Millisecond))
	assert.Equal(t, replica.Addr(), c.SlotOwner(cluster.Slot(key)))
	v, err := cl.Get(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "after", v)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-c.Events():
			if e.Kind == cluster.EventMasterChanged && e.Addr == replica.Addr() {
				assert.Equal(t, victim.Addr(), e.Old)
				return
			}
		case <-deadline:
			t.Fatal("no master-changed event")
		}
	}
}
