package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeylessCommandsAndClusterCommands(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	require.NoError(t, cl.Ping(ctx).Err())
	assert.Equal(t, 1, f.countAt(0, "PING"), "keyless commands go to slot 0's master")
	info, err := c.Info(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, "ok", info["cluster_state"])
	nodes, err := c.Nodes(ctx).Result()
	require.NoError(t, err)
	assert.Contains(t, nodes, "master")
	slot, err := c.KeySlot(ctx, "{a}b").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(Slot("a")), slot)
	require.NoError(t, cl.Set(ctx, "x", "1").Err())
	n, err := c.CountKeysInSlot(ctx, Slot("x")).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	topo, err := c.Shards(ctx)
	require.NoError(t, err)
	assert.Len(t, topo.Shards, 3)
	assert.Len(t, c.Topology().Shards, 3)
	assert.Equal(t, 3, len(c.Masters()))
	assert.Equal(t, 16, c.Config().MaxRedirects, "defaults filled in")
}

func TestScanAndForEachCoverEveryMaster(t *testing.T) {
	f := newFake(t, 3, fakeOptions{replicas: true})
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	want := map[string]bool{}
	for i := range 60 {
		k := fmt.Sprint("s", i)
		want[k] = true
		require.NoError(t, cl.Set(ctx, k, "1").Err())
	}
	got := map[string]bool{}
	for k, err := range c.Scan(ctx, async.ScanArgs{}) {
		require.NoError(t, err)
		got[k] = true
	}
	assert.Equal(t, want, got)

	var masters atomic.Int64
	require.NoError(t, c.ForEachMaster(ctx, func(ctx context.Context, addr string, mc *async.Client) error {
		masters.Add(1)
		return mc.Ping(ctx).Err()
	}))
	assert.Equal(t, int64(3), masters.Load())
	var mu sync.Mutex
	var addrs []string
	require.NoError(t, c.ForEachNode(ctx, func(ctx context.Context, addr string, nc *async.Client) error {
		mu.Lock()
		addrs = append(addrs, addr)
		mu.Unlock()
		return nc.Ping(ctx).Err()
	}))
	assert.Len(t, addrs, 6, "masters and replicas")
	assert.Equal(t, 3, f.count("REPLICA READONLY"), "replica connections are READONLY")
}

func TestReplicaReadsFollowThePolicy(t *testing.T) {
	f := newFake(t, 2, fakeOptions{replicas: true})
	for _, reads := range []core.ReadPolicy{core.ReadReplica, core.ReadReplicaPreferred, core.ReadNearest} {
		t.Run(fmt.Sprint(reads), func(t *testing.T) {
			c := start(t, f, Config{Reads: reads})
			cl, ctx := c.Client(), ctx5(t)
			before := f.count("REPLICA GET")
			for i := range 50 {
				require.NoError(t, cl.Set(ctx, fmt.Sprint("r", i), i).Err(), "writes go to masters")
			}
			for i := range 50 {
				v, err := cl.Get(ctx, fmt.Sprint("r", i)).Result()
				require.NoError(t, err)
				require.Equal(t, fmt.Sprint(i), v)
			}
			assert.Positive(t, f.count("REPLICA GET")-before, "replicas served reads")
			st := c.Stats()
			replicas := 0
			for _, ns := range st.Nodes {
				if ns.Replica {
					replicas++
					assert.True(t, ns.Healthy)
				}
			}
			assert.Equal(t, 2, replicas)
		})
	}
}

func TestDeadReplicaIsLeftOut(t *testing.T) {
	f := newFake(t, 2, fakeOptions{replicas: true})
	c := start(t, f, Config{Reads: core.ReadReplicaPreferred, Pool: poolQuick()})
	cl, ctx := c.Client(), ctx5(t)
	for i := range 20 {
		require.NoError(t, cl.Set(ctx, fmt.Sprint("d", i), i).Err())
	}
	f.replicas[0].srv.Close()
	for i := range 20 {
		v, err := cl.Get(ctx, fmt.Sprint("d", i)).Result()
		require.NoError(t, err, "reads of the dead replica's slots go to the master")
		require.Equal(t, fmt.Sprint(i), v)
	}
	assert.Positive(t, c.Stats().Requeued)
}

func TestAGoneNodesCommandsFollowItsSlots(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{Pool: poolQuick()})
	cl, ctx := c.Client(), ctx5(t)
	key := keyIn(f, 2, 1)
	require.NoError(t, cl.Set(ctx, key, "v").Err())
	// Node 2 goes; its slots (and keys) are taken over by node 0.
	f.takeOver(2, 0)
	f.nodes[2].srv.Close()
	v, err := cl.Get(ctx, key).Result()
	require.NoError(t, err, "the command waited for the map to change and went to the new owner")
	assert.Equal(t, "v", v)
	assert.Equal(t, f.nodes[0].addr, c.SlotOwner(Slot(key)))
	require.Eventually(t, func() bool { _, ok := c.Stats().Nodes[f.nodes[2].addr]; return !ok }, 5*time.Second, 5*time.Millisecond,
		"the node that left the map is closed")
}

func TestCommandsIssuedBehindARetriedOneWait(t *testing.T) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{RetryBackoff: 30 * time.Millisecond, MaxRetryBackoff: 30 * time.Millisecond})
	cl, ctx := c.Client(), ctx5(t)
	key := keyIn(f, 0, 4)
	var order []string
	refused := false
	f.setInject(func(_ int, args []string) string {
		if args[0] == "SET" && args[2] == "first" && !refused {
			refused = true
			return "-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
		}
		if args[0] == "SET" {
			order = append(order, args[2])
		}
		return ""
	})
	first := cl.Set(ctx, key, "first")
	// Counted, then parked: wait for the latter (see below).
	require.Eventually(t, func() bool { s := c.Stats(); return s.TryAgain == 1 && s.Waiting == 1 }, 5*time.Second, time.Millisecond)
	second := cl.Set(ctx, key, "second") // issued while the first waits to be retried
	require.NoError(t, first.Err())
	require.NoError(t, second.Err())
	f.mu.Lock()
	assert.Equal(t, []string{"first", "second"}, order, "the second waited behind the first")
	f.mu.Unlock()
	v, err := cl.Get(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "second", v)
}

func TestShardedSubscriberFollowsAMovedSlot(t *testing.T) {
	f := newFake(t, 2, fakeOptions{resp3: true})
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	ps, err := cl.PubSub(async.PubSubConfig{})
	require.NoError(t, err)
	defer ps.Close()
	ch := keyIn(f, 0, 8)
	require.NoError(t, ps.SSubscribe(ctx, ch, keyIn(f, 1, 8)))
	require.NoError(t, ps.Subscribe(ctx, "plain"))
	require.NoError(t, async.Cmd(ctx, cl, async.ToInt64, "SPUBLISH", ch, "one").Err())
	require.NoError(t, async.Cmd(ctx, cl, async.ToInt64, "PUBLISH", "plain", "p").Err())
	got := map[string]string{}
	for len(got) < 2 {
		m := <-ps.Messages()
		got[m.Channel] = m.Payload
	}
	assert.Equal(t, map[string]string{ch: "one", "plain": "p"}, got)

	f.move(int(Slot(ch)), 1) // node 0 pushes sunsubscribe
	waitKindIn(t, ps, async.KindResubscribed)
	receiveAfterPublishing(t, ctx, cl, ps, ch)
	require.NoError(t, ps.SUnsubscribe(ctx, ch))
	_, isTW := any(c).(core.TargetWatcher)
	assert.True(t, isTW)
}

func waitKindIn(t *testing.T, ps *async.PubSub, kind string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-ps.Messages():
			if m.Kind == kind {
				return
			}
		case <-deadline:
			t.Fatalf("no %s", kind)
		}
	}
}

func TestParseShardsResp3AndSlots(t *testing.T) {
	str := func(s string) protocol.Value { return protocol.Value{Kind: protocol.KindBulkString, Str: s} }
	num := func(n int64) protocol.Value { return protocol.Value{Kind: protocol.KindInteger, Int: n} }
	node := func(host string, port int64, role, health string) protocol.Value {
		return protocol.Value{Kind: protocol.KindMap, Elems: []protocol.Value{
			str("id"), str(host), str("port"), num(port), str("tls-port"), num(port + 1000),
			str("endpoint"), str(host), str("role"), str(role), str("health"), str(health)}}
	}
	shards := protocol.Value{Kind: protocol.KindArray, Elems: []protocol.Value{
		{Kind: protocol.KindMap, Elems: []protocol.Value{
			str("slots"), {Kind: protocol.KindArray, Elems: []protocol.Value{num(0), num(99), num(200), num(300)}},
			str("nodes"), {Kind: protocol.KindArray, Elems: []protocol.Value{node("10.0.0.1", 6379, "master", "online"), node("?", 6380, "replica", "loading")}},
		}},
	}}
	mapped := func(a string) string { return "m:" + a }
	topo, err := parseShards(shards, mapReader{askedHost: "10.0.0.9", mapAddr: mapped})
	require.NoError(t, err)
	require.Len(t, topo.Shards, 1)
	s := topo.Shards[0]
	assert.Equal(t, []SlotRange{{0, 99}, {200, 300}}, s.Slots)
	assert.Equal(t, "m:10.0.0.1:6379", s.Master.Addr)
	assert.True(t, s.Master.Healthy)
	assert.Equal(t, "m:10.0.0.9:6380", s.Replicas[0].Addr, "an unknown endpoint is the node asked")
	assert.False(t, s.Replicas[0].Healthy)
	topo, err = parseShards(shards, mapReader{askedHost: "h", tls: true})
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.1:7379", topo.Shards[0].Master.Addr, "TLS uses the tls-port")
	o := topo.owners()
	assert.Equal(t, "10.0.0.1:7379", o[250])
	assert.Empty(t, o[150])

	bad := protocol.Value{Kind: protocol.KindArray, Elems: []protocol.Value{{Kind: protocol.KindMap, Elems: []protocol.Value{
		str("slots"), {Kind: protocol.KindArray, Elems: []protocol.Value{num(5), num(20000)}}}}}}
	_, err = parseShards(bad, mapReader{})
	require.Error(t, err)
	_, err = parseShards(str("x"), mapReader{})
	require.Error(t, err)

	slots := protocol.Value{Kind: protocol.KindArray, Elems: []protocol.Value{
		{Kind: protocol.KindArray, Elems: []protocol.Value{num(0), num(10), {Kind: protocol.KindArray, Elems: []protocol.Value{str(""), num(7000), str("id1")}},
			{Kind: protocol.KindArray, Elems: []protocol.Value{str("r1"), num(7001)}}}},
		{Kind: protocol.KindArray, Elems: []protocol.Value{num(20), num(30), {Kind: protocol.KindArray, Elems: []protocol.Value{str(""), num(7000), str("id1")}}}},
	}}
	topo, err = parseSlots(slots, mapReader{askedHost: "seed"})
	require.NoError(t, err)
	require.Len(t, topo.Shards, 1, "one master with two ranges")
	assert.Equal(t, "seed:7000", topo.Shards[0].Master.Addr)
	assert.Len(t, topo.Shards[0].Slots, 2)
	for _, v := range []protocol.Value{
		str("x"),
		{Kind: protocol.KindArray, Elems: []protocol.Value{{Kind: protocol.KindArray, Elems: []protocol.Value{num(0)}}}},
		{Kind: protocol.KindArray, Elems: []protocol.Value{{Kind: protocol.KindArray, Elems: []protocol.Value{num(0), num(99999), {Kind: protocol.KindArray}}}}},
		{Kind: protocol.KindArray, Elems: []protocol.Value{{Kind: protocol.KindArray, Elems: []protocol.Value{num(0), num(1), {Kind: protocol.KindArray}}}}},
	} {
		_, err := parseSlots(v, mapReader{})
		assert.Error(t, err)
	}
}

func TestErrorsSayWhatHappened(t *testing.T) {
	cs := &CrossSlotError{Command: "SUNIONSTORE", Slots: []uint16{1, 2}}
	assert.Contains(t, cs.Error(), "slots 1, 2")
	assert.True(t, core.IsPermanent(cs))
	re := &RedirectError{Err: protocol.ParseError("MOVED 1 a:1")}
	assert.ErrorIs(t, re, protocol.ErrMoved)
	assert.True(t, core.SafeToRetry(re))
	assert.Contains(t, re.Error(), "MOVED")
	nn := &NoNodesError{Tried: map[string]error{"a:1": fmt.Errorf("refused")}}
	assert.ErrorIs(t, nn, ErrNoNodes)
	assert.Contains(t, nn.Error(), "a:1: refused")
	assert.Len(t, nn.Unwrap(), 1)
	assert.Contains(t, (&splitNeeded{name: "MGET"}).Error(), "MGET")
}

func TestDedicatedConnectionBindsToOneSlot(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{})
	ctx := ctx5(t)
	ex, release, err := c.AcquireExecutor(ctx)
	require.NoError(t, err)
	dc := async.NewClient(ex)
	require.NoError(t, dc.Ping(ctx).Err(), "keyless first: bound to slot 0's master")
	k0 := keyIn(f, 0, 2)
	require.NoError(t, dc.Set(ctx, k0, "1").Err())
	err = dc.Set(ctx, keyIn(f, 1, 2), "1").Err()
	require.ErrorIs(t, err, ErrCrossSlot)
	release(false)

	// A MOVED on a dedicated connection reaches the caller, retryable,
	// and updates the map.
	ex, release, err = c.AcquireExecutor(ctx)
	require.NoError(t, err)
	defer release(true)
	dc = async.NewClient(ex)
	require.NoError(t, dc.Get(ctx, k0).Err())
	f.move(int(Slot(k0)), 2)
	err = dc.Get(ctx, k0).Err()
	var rerr *RedirectError
	require.ErrorAs(t, err, &rerr)
	assert.True(t, core.SafeToRetry(err))
	assert.Eventually(t, func() bool { return c.SlotOwner(Slot(k0)) == f.nodes[2].addr }, time.Second, time.Millisecond)
}

func TestAFullWaitingLineMakesCallersWaitForRoom(t *testing.T) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{MaxWaiting: 2, RetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond})
	cl, ctx := c.Client(), ctx5(t)
	key := keyIn(f, 0, 6)
	var left atomic.Int64
	left.Store(1)
	f.setInject(func(_ int, args []string) string {
		if args[0] == "INCR" && left.Add(-1) >= 0 {
			return "-TRYAGAIN busy\r\n"
		}
		return ""
	})
	first := cl.Incr(ctx, key)
	// Counted first, then parked (the slot gated): wait for the latter,
	// or an INCR below may reach the server ahead of the retry.
	require.Eventually(t, func() bool { s := c.Stats(); return s.TryAgain == 1 && s.Waiting == 1 }, 5*time.Second, time.Millisecond)
	// The slot waits behind the refused INCR: ten more wait in a line of
	// two, the rest of them for room, and all run after it, in order.
	var futs []*async.Future[int64]
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			futs = append(futs, cl.Incr(ctx, key))
		}
	}()
	v, err := first.Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), v)
	<-done
	for i, fu := range futs {
		v, err := fu.Result()
		require.NoError(t, err)
		assert.Equal(t, int64(i+2), v)
	}
	assert.Zero(t, c.Stats().Waiting)
}

func TestADownMastersSlotsAreFollowedWithinMilliseconds(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{Pool: poolQuick()})
	cl, ctx := c.Client(), ctx5(t)
	key := keyIn(f, 2, 11)
	require.NoError(t, cl.Set(ctx, key, "v").Err())
	f.nodes[2].srv.Close() // refused from now on; the map still names it
	got := cl.Get(ctx, key)
	// The command waits; the client keeps reading the map. Some time
	// later the cluster hands node 2's slots to node 0.
	time.Sleep(300 * time.Millisecond)
	require.False(t, got.IsResolved(), "the command waits for a new owner")
	f.takeOver(2, 0)
	moved := time.Now()
	v, err := got.Result()
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	assert.Less(t, time.Since(moved), time.Second+raceSlack, "served once the map changed (a tail guard: refreshes come only from the down watch here, RefreshInterval is off)")
}

// A node that has not heard of a failover yet still names the old
// master, at its old config epoch: once a newer view has named the new
// master, the stale view must not send commands back to the demoted node.
// (Redis gives every failover and move a greater epoch; a node seen
// demoted is followed again only with one, or after epochTrust.)
func TestAStaleViewDoesNotBringBackADemotedMaster(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	key := "k0"
	for i := 0; Slot(key) >= NumSlots/3; i++ {
		key = fmt.Sprint("k", i)
	}
	other := "o0" // another slot of master 0, which no MOVED will name
	for i := 0; Slot(other) >= NumSlots/3 || Slot(other) == Slot(key); i++ {
		other = fmt.Sprint("o", i)
	}
	require.NoError(t, cl.Set(ctx, key, "1").Err())
	f.freeze(0) // master 0 keeps its view: it owns its slots, at epoch 1
	f.takeOver(0, 1)
	// Only the stale node answers for the map from now on.
	f.setInject(func(node int, args []string) string {
		if node != 0 && len(args) > 1 && strings.EqualFold(args[0], "CLUSTER") {
			return "-ERR not now\r\n"
		}
		return ""
	})
	require.NoError(t, cl.Set(ctx, key, "2").Err(), "MOVED to master 1")
	require.Equal(t, f.nodes[1].addr, c.SlotOwner(Slot(key)))
	// A MOVED carries no epoch and never outranks a later map, even a
	// stale one (TestAMovedDoesNotOutrankLaterMaps): the slot may go back
	// to master 0, which redirects its commands to master 1 again.
	require.NoError(t, c.refresh(ctx))
	require.NoError(t, cl.Set(ctx, key, "2b").Err())
	v, _ := f.value(key)
	assert.Equal(t, "2b", v)

	// A newer view, then the stale one again: every slot stays.
	onlyStale := f.inject
	f.setInject(nil)
	f.mu.Lock()
	stale := f.frozen[0]
	delete(f.frozen, 0)
	f.mu.Unlock()
	require.NoError(t, c.refresh(ctx))
	require.Equal(t, f.nodes[1].addr, c.SlotOwner(Slot(other)))
	f.mu.Lock()
	f.frozen[0] = stale
	f.mu.Unlock()
	f.setInject(onlyStale)
	require.NoError(t, c.refresh(ctx))
	assert.Equal(t, f.nodes[1].addr, c.SlotOwner(Slot(other)), "the stale view took back slots a newer view had moved")
	sets := f.countAt(0, "SET")
	require.NoError(t, cl.Set(ctx, other, "3").Err())
	assert.Equal(t, sets, f.countAt(0, "SET"), "a write went to the demoted master")
}

// A node that does not answer (a host cut off) holds up a refresh by
// hedgeAfter, not by RefreshTimeout: the next node is asked meanwhile.
func TestASilentNodeDoesNotHoldUpTheMap(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{RefreshTimeout: 5 * time.Second})
	ctx := ctx5(t)
	f.setInject(func(node int, args []string) string {
		if node != 2 && strings.EqualFold(args[0], "CLUSTER") {
			return noReply
		}
		return ""
	})
	begin := time.Now()
	for range 5 { // the nodes are asked in random order: the silent ones come first in some
		require.NoError(t, c.refresh(ctx))
	}
	took := time.Since(begin)
	t.Logf("5 refreshes with 2 of 3 nodes silent: %v", took)
	assert.Less(t, took, 5*time.Second, "a refresh waited for a silent node's RefreshTimeout")
}

// pastDeadline is a context whose deadline has passed while its Err is
// still nil: the moment between a socket deadline copied from it firing
// and its own timer ending it.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// A command given back unwritten because its caller's deadline cut the
// dial it waited for says nothing about the node: the caller gets the
// deadline, the node is not counted down and nothing is sent again.
func TestACallersDeadlineDoesNotMarkTheNodeDown(t *testing.T) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{Pool: poolQuick()})
	key := keyIn(f, 0, 9)
	slot := int(Slot(key))
	c.mu.Lock()
	n := c.slots.ownerLocked(slot)
	c.mu.Unlock()
	require.NotNil(t, n)
	cmd := core.NewCommand()
	cmd.Buf, _ = protocol.AppendCommand(cmd.Buf, "BLPOP", key, 0)
	sink := &lastErr{}
	r := c.newRequest(pastDeadline{context.Background()}, cmd, sink, slot)
	c.slots.gates[slot].w.Add(1) // as sendTo's caller counts it out
	r.sent = n
	sent := r.copyCmd()
	r.Requeue(sent, core.NotSent(&pool.DialError{Addr: n.addr, Step: "client id", Err: context.DeadlineExceeded}))
	require.Equal(t, 1, sink.n)
	assert.ErrorIs(t, sink.err, context.DeadlineExceeded)
	assert.False(t, n.down(), "the node is not counted down")
	assert.Zero(t, c.Stats().Requeued)
	assert.Zero(t, c.slots.gates[slot].w.Load(), "the slot's count is back")
}

// lastErr records how often it was completed, and the last error.
type lastErr struct {
	n   int
	err error
}

func (s *lastErr) Complete(_ protocol.Value, err error) { s.n++; s.err = err }

// A subscriber that lost its connection and is dialling its channel's
// node again, the dial stuck in the handshake (a host gone mid-dial, a
// node that stopped answering), gives that attempt up as soon as the map
// names another owner for the slot: it subscribes there at once, not
// after DialTimeout.
func TestShardedSubscriberLeavesAStalledDialWhenTheSlotMoves(t *testing.T) {
	f := newFake(t, 2, fakeOptions{resp3: true})
	c := start(t, f, Config{Pool: pool.Config{DialTimeout: 10 * time.Second}})
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ch := keyIn(f, 0, 9)
	ps, err := cl.PubSub(async.PubSubConfig{})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.SSubscribe(ctx, ch))

	var stalled atomic.Int64 // HELLOs node 0 left unanswered
	f.setInject(func(node int, args []string) string {
		if node == 0 && strings.EqualFold(args[0], "HELLO") {
			stalled.Add(1)
			return noReply
		}
		return ""
	})
	f.mu.Lock()
	subs := f.nodes[0].subs[ch]
	f.mu.Unlock()
	require.Len(t, subs, 1)
	subs[0].conn.Reset() // only the subscriber's connection: the cluster's own stay up
	// The subscriber dials node 0 again and waits for its HELLO reply.
	require.Eventually(t, func() bool { return stalled.Load() == 1 }, 5*time.Second, time.Millisecond)

	f.move(int(Slot(ch)), 1) // node 0 keeps its other slots, and its place in the map
	moved := time.Now()
	require.NoError(t, c.refresh(ctx))
	receiveAfterPublishing(t, ctx, cl, ps, ch)
	assert.Less(t, time.Since(moved), 2*time.Second, "the stalled dial was given up when the slot moved (DialTimeout is 10 s)")
}

// receiveAfterPublishing publishes on ch until ps receives one of those
// messages (a resubscription is written, not necessarily run, before a
// publish on another connection).
func receiveAfterPublishing(t *testing.T, ctx context.Context, cl *async.Client, ps *async.PubSub, ch string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		payload := fmt.Sprint("after-", i)
		require.NoError(t, async.Cmd(ctx, cl, async.ToInt64, "SPUBLISH", ch, payload).Err())
		select {
		case m := <-ps.Messages():
			if m.Kind == "smessage" && m.Channel == ch {
				return
			}
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("nothing published after the move reached the subscriber")
		}
	}
}

// When one node's subscriber connection is lost, the set's successor
// keeps the other node's: its subscription is not made again (which the
// node, were it refusing commands with CLUSTERDOWN as a real cluster
// does while a master is down, would answer with an error the connection
// cannot match), a Subscribe of its channel is confirmed at once, and its
// messages keep coming on the same connection.
func TestSubscriberSuccessorKeepsTheOtherNodesConnection(t *testing.T) {
	f := newFake(t, 2, fakeOptions{resp3: true})
	c := start(t, f, Config{})
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lost, kept := keyIn(f, 0, 9), keyIn(f, 1, 9)
	ps, err := cl.PubSub(async.PubSubConfig{})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.SSubscribe(ctx, lost, kept))
	subscribedAt := func(node int, ch string) []*connState {
		f.mu.Lock()
		defer f.mu.Unlock()
		return slices.Clone(f.nodes[node].subs[ch])
	}
	keptConn := subscribedAt(1, kept)
	require.Len(t, keptConn, 1)
	f.setInject(func(node int, args []string) string {
		if node == 1 && strings.EqualFold(args[0], "SSUBSCRIBE") {
			return "-CLUSTERDOWN The cluster is down\r\n"
		}
		return ""
	})
	before := f.countAt(1, "SSUBSCRIBE")

	subscribedAt(0, lost)[0].conn.Reset()
	for m := range ps.Messages() {
		if m.Kind == async.KindResubscribed {
			break
		}
	}
	assert.Equal(t, keptConn, subscribedAt(1, kept), "the healthy node's connection and subscription are the same")
	assert.Equal(t, before, f.countAt(1, "SSUBSCRIBE"), "nothing subscribed again on the healthy node")
	require.NoError(t, ps.SSubscribe(ctx, kept), "a held channel is confirmed")
	receiveAfterPublishing(t, ctx, cl, ps, kept)
	receiveAfterPublishing(t, ctx, cl, ps, lost)
}

// A channel its node never confirmed (the SSUBSCRIBE was lost) is not
// taken as held by the set's successor: it is subscribed again there.
func TestSubscriberSuccessorSubscribesWhatWasNotConfirmed(t *testing.T) {
	f := newFake(t, 2, fakeOptions{resp3: true})
	c := start(t, f, Config{})
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lost, kept, unconfirmed := keyIn(f, 0, 9), keyIn(f, 1, 9), keyIn(f, 1, 10)
	ps, err := cl.PubSub(async.PubSubConfig{})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.SSubscribe(ctx, lost, kept))
	f.setInject(func(node int, args []string) string {
		if node == 1 && strings.EqualFold(args[0], "SSUBSCRIBE") {
			return noReply // neither subscribed nor confirmed
		}
		return ""
	})
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	require.ErrorIs(t, ps.SSubscribe(short, unconfirmed), context.DeadlineExceeded)
	f.setInject(nil)

	f.mu.Lock()
	f.nodes[0].subs[lost][0].conn.Reset()
	f.mu.Unlock()
	receiveAfterPublishing(t, ctx, cl, ps, unconfirmed)
	receiveAfterPublishing(t, ctx, cl, ps, kept)
}
