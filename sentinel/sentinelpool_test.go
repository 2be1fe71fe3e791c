package sentinel

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventLog keeps the events a test has read, so that it can wait for
// several in any order.
type eventLog struct {
	p    *SentinelPool
	seen []Event
}

// wait returns the first event of kind for addr ("" for any) not returned
// before, or fails t after a generous bound.
func (l *eventLog) wait(t *testing.T, kind, addr string) Event {
	t.Helper()
	match := func(e Event) bool { return e.Kind == kind && (addr == "" || e.Addr == addr) }
	for i, e := range l.seen {
		if match(e) {
			l.seen = append(l.seen[:i], l.seen[i+1:]...)
			return e
		}
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-l.p.Events():
			if match(e) {
				return e
			}
			l.seen = append(l.seen, e)
		case <-timeout:
			t.Fatalf("no %s event for %q", kind, addr)
		}
	}
}

func newTestPool(t *testing.T, cfg Config) *RedisSentinel {
	t.Helper()
	if cfg.RecheckInterval == 0 {
		cfg.RecheckInterval = time.Hour // tests drive discovery through events
	}
	s, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPoolFollowsSwitchWithoutDocker(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1, n2 := newFakeNode(t, "master"), newFakeNode(t, "slave")
	topo := newFakeTopology("m", n1, n2)
	s1, s2 := newFakeSentinel(t, topo), newFakeSentinel(t, topo)
	p := newTestPool(t, Config{Sentinels: []string{s1.addr, s2.addr}, Listeners: 2})

	events := &eventLog{p: p.SentinelPool}
	master := p.MasterFor("m")
	require.NoError(t, master.Set(ctx, "k", "v1").Err())
	v, _ := n1.get("k")
	assert.Equal(t, "v1", v, "written to the first master")
	assert.Equal(t, n1.addr, events.wait(t, EventMasterChanged, n1.addr).Addr)
	assert.Equal(t, []string{n2.addr}, events.wait(t, EventReplicasChanged, "").Addrs)

	replica := p.ReplicaFor("m")
	assert.ErrorIs(t, replica.Get(ctx, "k").Err(), async.ErrNil, "reads go to the replica, which lacks the key")
	assert.Same(t, p.SlaveFor("m").Executor(), replica.Executor(), "SlaveFor is ReplicaFor")

	for range 2 { // both listeners subscribed
		<-topo.subscribed
	}
	topo.failover(0)
	assert.Equal(t, n2.addr, events.wait(t, EventSwitchMaster, n2.addr).Addr)
	changed := events.wait(t, EventMasterChanged, n2.addr)
	assert.Equal(t, "+switch-master", changed.Via)
	assert.Equal(t, n1.addr, changed.OldAddr)
	require.NoError(t, master.Set(ctx, "k", "v2").Err())
	v, _ = n2.get("k")
	assert.Equal(t, "v2", v, "written to the new master")
	v, _ = n1.get("k")
	assert.Equal(t, "v1", v, "nothing more written to the old one")
}

func TestListenerLossTriggersDiscoveryAndResubscribes(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1, n2 := newFakeNode(t, "master"), newFakeNode(t, "slave")
	topo := newFakeTopology("m", n1, n2)
	s1 := newFakeSentinel(t, topo)
	p := newTestPool(t, Config{Sentinels: []string{s1.addr}})
	events := &eventLog{p: p.SentinelPool}
	require.NoError(t, p.MasterFor("m").Ping(ctx).Err())
	<-topo.subscribed

	// The failover happens while the subscription is down: its event is
	// lost, and the discovery that follows the loss finds the new master.
	topo.mu.Lock()
	topo.master, topo.replicas[0] = n2, n1
	topo.epoch++
	topo.mu.Unlock()
	n2.setRole("master", "")
	n1.setRole("slave", n2.addr)
	s1.srv.CloseConns()
	changed := events.wait(t, EventMasterChanged, n2.addr)
	assert.Equal(t, "discovery", changed.Via)
	assert.Equal(t, s1.addr, <-topo.subscribed, "the listener subscribed again")
}

func TestDemotedMasterIsNotUsable(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1 := newFakeNode(t, "slave") // the sentinels still call it master
	topo := newFakeTopology("m", n1)
	p := newTestPool(t, Config{Sentinels: []string{newFakeSentinel(t, topo).addr}})
	_, err := p.DiscoverMaster(ctx, "m")
	assert.ErrorIs(t, err, ErrNotUsable)
	_, err = p.DiscoverReplicas(ctx, "m")
	assert.ErrorIs(t, err, ErrNotUsable, "no replicas")

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, p.MasterFor("m").Ping(short).Err(), ErrNotUsable,
		"waiting commands learn why when no master was ever found")
}

func TestLaggingSentinelLosesToNewerEpoch(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	old, cur := newFakeNode(t, "slave"), newFakeNode(t, "master")
	lagging := newFakeTopology("m", old)
	current := newFakeTopology("m", cur)
	current.epoch = 5
	p := newTestPool(t, Config{Sentinels: []string{newFakeSentinel(t, lagging).addr, newFakeSentinel(t, current).addr}})
	got, err := p.DiscoverMaster(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, cur.addr, got, "the highest config epoch wins")
}

func poolConfig(addr string) pool.Config { return pool.Config{Addr: addr} }
func poolSizes(n int) pool.Config        { return pool.Config{MinSize: n} }

func TestFenceHoldsWritesUntilSwitchWithoutDocker(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1, n2 := newFakeNode(t, "master"), newFakeNode(t, "slave")
	topo := newFakeTopology("m", n1, n2)
	s1, s2 := newFakeSentinel(t, topo), newFakeSentinel(t, topo)
	p := newTestPool(t, Config{Sentinels: []string{s1.addr, s2.addr}})
	events := &eventLog{p: p.SentinelPool}
	master := p.MasterFor("m")
	require.NoError(t, master.Set(ctx, "k", "before").Err())
	for range 2 {
		<-topo.subscribed
	}

	host, port, _ := net.SplitHostPort(n1.addr)
	rh, rp, _ := net.SplitHostPort(n2.addr)
	topo.publish("+selected-slave", "slave "+n2.addr+" "+rh+" "+rp+" @ m "+host+" "+port)
	assert.Equal(t, n1.addr, events.wait(t, EventWritesFenced, n1.addr).Addr)
	held := master.Set(ctx, "k", "during")
	topo.failover(0)
	require.NoError(t, held.Err())
	v, _ := n2.get("k")
	assert.Equal(t, "during", v, "the held write went to the new master")
	v, _ = n1.get("k")
	assert.Equal(t, "before", v, "and not to the old one")

	// An aborted failover resumes writes on the same master.
	host, port, _ = net.SplitHostPort(n2.addr)
	rh, rp, _ = net.SplitHostPort(n1.addr)
	topo.publish("+selected-slave", "slave "+n1.addr+" "+rh+" "+rp+" @ m "+host+" "+port)
	events.wait(t, EventWritesFenced, n2.addr)
	held = master.Set(ctx, "k", "after abort")
	topo.publish("-failover-abort-no-good-slave", "master m "+host+" "+port)
	events.wait(t, EventWritesResumed, n2.addr)
	require.NoError(t, held.Err())
	v, _ = n2.get("k")
	assert.Equal(t, "after abort", v)
}

func TestReplicasJudgedByTheirOwnRole(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1, n2, n3 := newFakeNode(t, "master"), newFakeNode(t, "slave"), newFakeNode(t, "slave")
	topo := newFakeTopology("m", n1, n2, n3)
	n3.setRole("slave", deadAddr(t)) // still replicating from an old master
	p := newTestPool(t, Config{Sentinels: []string{newFakeSentinel(t, topo).addr}})
	reps, err := p.DiscoverReplicas(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, []string{n2.addr}, reps, "only the replica linked to the current master")
	n3.setRole("slave", n1.addr)
	reps, err = p.DiscoverReplicas(ctx, "m")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{n2.addr, n3.addr}, reps)
}

// A replica whose link to its master is down keeps serving reads (Redis
// serves stale data) unless MaxReplicaStaleness is set and the link has
// been down longer; one receiving a full copy from its master only when
// no other is usable.
func TestReplicasWithTheirLinkDown(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1, n2, n3 := newFakeNode(t, "master"), newFakeNode(t, "slave"), newFakeNode(t, "slave")
	topo := newFakeTopology("m", n1, n2, n3)
	sentinels := []string{newFakeSentinel(t, topo).addr}
	for _, tt := range []struct {
		name    string
		state   string
		downFor int
		bound   time.Duration
		want    []string
	}{
		{"link down, no bound", "connect", 3600, 0, []string{n2.addr, n3.addr}},
		{"link down, within the bound", "connecting", 2, 5 * time.Second, []string{n2.addr, n3.addr}},
		{"link down, past the bound", "connect", 10, 5 * time.Second, []string{n2.addr}},
		{"handshake, within the bound", "handshake", 0, 5 * time.Second, []string{n2.addr, n3.addr}},
		{"loading a full copy", "sync", 0, 0, []string{n2.addr}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n3.setLink(tt.state, tt.downFor)
			p := newTestPool(t, Config{Sentinels: sentinels, MaxReplicaStaleness: tt.bound})
			reps, err := p.DiscoverReplicas(ctx, "m")
			require.NoError(t, err)
			assert.ElementsMatch(t, tt.want, reps)
		})
	}
	// Replicas receiving a full copy are a last resort: when every one
	// is, they serve (their old data) rather than none.
	n2.setLink("sync", 0)
	n3.setLink("sync", 0)
	p := newTestPool(t, Config{Sentinels: sentinels})
	reps, err := p.DiscoverReplicas(ctx, "m")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{n2.addr, n3.addr}, reps)
}

func TestClientForSplitsReadsFromWrites(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1, n2 := newFakeNode(t, "master"), newFakeNode(t, "slave")
	n1.data["k"], n2.data["k"] = "on master", "on replica"
	topo := newFakeTopology("m", n1, n2)
	p := newTestPool(t, Config{Sentinels: []string{newFakeSentinel(t, topo).addr}})
	events := &eventLog{p: p.SentinelPool}

	c := p.ClientFor("m", ReadReplica)
	v, err := c.Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "on replica", v, "a read goes to the replica")
	raw, err := c.Do(ctx, "get", "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "on replica", raw.Str, "Do is routed by the same table")
	require.NoError(t, c.Set(ctx, "w", "1").Err(), "a write goes to the master (a replica would say READONLY)")
	got, _ := n1.get("w")
	assert.Equal(t, "1", got)

	pipe := c.Pipeline()
	g := pipe.Client().Get(ctx, "k")
	require.NoError(t, pipe.Exec(ctx))
	assert.Equal(t, "on master", g.Val(), "pipelines go to the master")

	v, err = p.ClientFor("m", ReadMaster).Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "on master", v)

	// With no usable replica, ReadReplicaPreferred falls back to the master.
	n2.setRole("slave", deadAddr(t)) // linked elsewhere: not usable
	topo.mu.Lock()
	topo.replicas = nil
	topo.mu.Unlock()
	<-topo.subscribed
	topo.publish("+reboot", "slave "+n2.addr+" 127.0.0.1 1 @ m 127.0.0.1 1")
	for len(events.wait(t, EventReplicasChanged, "").Addrs) > 0 {
	}
	v, err = p.ClientFor("m", ReadReplicaPreferred).Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "on master", v)
}

// A master that turns into a replica without any event reaching the
// client: its READONLY reply makes the client rediscover at once, instead
// of at the next periodic re-check (an hour here).
func TestReadOnlyReplyTriggersRediscovery(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1, n2 := newFakeNode(t, "master"), newFakeNode(t, "slave")
	topo := newFakeTopology("m", n1, n2)
	p := newTestPool(t, Config{Sentinels: []string{newFakeSentinel(t, topo).addr}, DisableFence: true})
	events := &eventLog{p: p.SentinelPool}
	master := p.MasterFor("m")
	require.NoError(t, master.Set(ctx, "k", "1").Err())

	topo.mu.Lock()
	topo.master, topo.replicas[0] = n2, n1
	topo.epoch++
	topo.mu.Unlock()
	n2.setRole("master", "")
	n1.setRole("slave", n2.addr)
	assert.ErrorIs(t, master.Set(ctx, "k", "2").Err(), protocol.ErrReadOnly)
	changed := events.wait(t, EventMasterChanged, n2.addr)
	assert.Equal(t, "discovery", changed.Via)
	require.NoError(t, master.Set(ctx, "k", "3").Err())
	v, _ := n2.get("k")
	assert.Equal(t, "3", v)
}

func TestReadNearestFollowsMeasuredRoundTrips(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1, n2 := newFakeNode(t, "master"), newFakeNode(t, "slave")
	n1.data["k"], n2.data["k"] = "on master", "on replica"
	n1.setDelay(40 * time.Millisecond)
	topo := newFakeTopology("m", n1, n2)
	p := newTestPool(t, Config{Sentinels: []string{newFakeSentinel(t, topo).addr}, RecheckInterval: 50 * time.Millisecond})
	c := p.ClientFor("m", ReadNearest)
	servedBy := func(want string) func() bool {
		return func() bool {
			v, err := c.Get(ctx, "k").Result()
			return err == nil && v == want
		}
	}
	require.Eventually(t, servedBy("on replica"), 10*time.Second, 5*time.Millisecond, "the replica answers faster")
	require.NoError(t, c.Set(ctx, "w", "1").Err(), "writes still go to the master")
	n1.setDelay(0)
	n2.setDelay(40 * time.Millisecond)
	require.Eventually(t, servedBy("on master"), 10*time.Second, 5*time.Millisecond, "now the master is nearer")
}
