package cluster

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// leakChecked holds the tests whose leak check is registered: once per
// test, at its first client, so that it runs after every client of the
// test has closed (a later client's check would see an earlier client's
// goroutines still working).
var leakChecked sync.Map

func checkLeaks(t *testing.T) {
	t.Helper()
	if _, done := leakChecked.LoadOrStore(t, true); done {
		return
	}
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		leakChecked.Delete(t)
		goleak.VerifyNone(t, before)
	})
}

// start connects a client to f; it is closed when the test ends.
func start(t *testing.T, f *fakeCluster, cfg Config) *Cluster {
	t.Helper()
	checkLeaks(t)
	cfg.Seeds = f.seeds()
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = -1 // tests ask for refreshes themselves
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// keyIn returns a key whose slot is served by node i of f (as f stands
// now), distinct per n.
func keyIn(f *fakeCluster, node, n int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; ; i++ {
		k := fmt.Sprintf("k%d-%d", n, i)
		if f.owner[core.Slot([]byte(k))] == node {
			return k
		}
	}
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRoutesEachKeyToItsSlotsMaster(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	for i := range 300 {
		require.NoError(t, cl.Set(ctx, fmt.Sprint("key", i), strconv.Itoa(i)).Err())
	}
	for i := range 300 {
		v, ok := f.value(fmt.Sprint("key", i))
		require.True(t, ok, "key%d is on its slot's master", i)
		assert.Equal(t, strconv.Itoa(i), v)
	}
	assert.Zero(t, f.count("MOVED"))
	assert.Zero(t, c.Stats().Moved, "the map was right: no redirect")
	for n := range 3 {
		assert.Greater(t, f.countAt(n, "SET"), 50, "node %d served its share", n)
	}
}

func TestMovedUpdatesTheSlotAndSendsAgain(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	key := keyIn(f, 0, 1)
	slot := int(core.Slot([]byte(key)))
	require.NoError(t, cl.Set(ctx, key, "v1").Err())
	f.move(slot, 2)

	v, err := cl.Get(ctx, key).Result()
	require.NoError(t, err, "the caller never sees MOVED")
	assert.Equal(t, "v1", v)
	assert.Equal(t, int64(1), c.Stats().Moved)
	assert.Equal(t, f.nodes[2].addr, c.SlotOwner(uint16(slot)), "the slot was updated from the MOVED at once")

	before := f.countAt(0, "GET")
	require.NoError(t, cl.Get(ctx, key).Err())
	assert.Equal(t, before, f.countAt(0, "GET"), "later commands go straight to the new owner")
	assert.Equal(t, int64(1), c.Stats().Moved)
}

func TestAskSendsOnceWithAskingAndKeepsTheMap(t *testing.T) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	key := keyIn(f, 0, 1)
	slot := int(core.Slot([]byte(key)))
	require.NoError(t, cl.Set(ctx, key, "moving").Err())
	f.migrate(slot, 1, key)

	v, err := cl.Get(ctx, key).Result()
	require.NoError(t, err, "the caller never sees ASK")
	assert.Equal(t, "moving", v)
	assert.Equal(t, int64(1), c.Stats().Ask)
	assert.Equal(t, 1, f.countAt(1, "ASKING"))
	assert.Equal(t, f.nodes[0].addr, c.SlotOwner(uint16(slot)), "ASK leaves the map as it is")

	v, err = cl.Get(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "moving", v)
	assert.Equal(t, int64(2), c.Stats().Ask, "each command follows its own ASK")
}

func TestTryAgainAndClusterDownAreRetriedUntilServed(t *testing.T) {
	for _, reply := range []string{"-TRYAGAIN Multiple keys request during rehashing of slot\r\n", "-CLUSTERDOWN The cluster is down\r\n"} {
		t.Run(reply[1:9], func(t *testing.T) {
			f := newFakeCluster(t, 2)
			c := start(t, f, Config{})
			cl, ctx := c.Client(), ctx5(t)
			left := 3
			f.setInject(func(_ int, args []string) string {
				if args[0] == "GET" && left > 0 {
					left--
					return reply
				}
				return ""
			})
			v, err := cl.Get(ctx, "a").Result()
			require.ErrorIs(t, err, async.ErrNil, "served after three refusals: the key is missing")
			assert.Empty(t, v)
			st := c.Stats()
			assert.Equal(t, int64(3), st.TryAgain+st.ClusterDown)
		})
	}
}

func TestRetriesAreBounded(t *testing.T) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{MaxRetries: 2})
	cl, ctx := c.Client(), ctx5(t)
	f.setInject(func(_ int, args []string) string {
		if args[0] == "GET" {
			return "-CLUSTERDOWN The cluster is down\r\n"
		}
		return ""
	})
	err := cl.Get(ctx, "a").Err()
	require.ErrorIs(t, err, protocol.ErrClusterDown)
	assert.Equal(t, 3, f.count("GET"), "the first try and two retries")

	// A context that ends stops the retries too.
	c2 := start(t, f, Config{})
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = c2.Client().Get(short, "a").Err()
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestRedirectedCommandsKeepIssueOrder(t *testing.T) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	key := keyIn(f, 0, 7)
	slot := int(core.Slot([]byte(key)))
	// The slot moves after the 50th INCR reached node 0: the INCRs in
	// flight behind it come back MOVED and must run on node 1 before
	// every INCR issued after them.
	seen := 0
	f.onCommand = func(node int, args []string) {
		if node == 0 && args[0] == "INCR" {
			if seen++; seen == 50 {
				for k, v := range f.nodes[0].data {
					if int(core.Slot([]byte(k))) == slot {
						f.nodes[1].data[k] = v
						delete(f.nodes[0].data, k)
					}
				}
				f.owner[slot] = 1
			}
		}
	}
	const n = 2000
	futs := make([]*async.Future[int64], n)
	for i := range n {
		futs[i] = cl.Incr(ctx, key)
	}
	for i, fu := range futs {
		v, err := fu.Result()
		require.NoError(t, err)
		require.Equal(t, int64(i+1), v, "INCR number %d saw the count of the ones issued before it", i+1)
	}
	assert.Positive(t, c.Stats().Moved)
}

func TestOneMovedInAPipelineSendsOneCommandAgain(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	moving := keyIn(f, 0, 99)
	slot := int(core.Slot([]byte(moving)))
	f.move(slot, 1) // the client does not know yet
	p := cl.Pipeline()
	var futs []*async.Future[string]
	keys := []string{moving}
	for i := range 999 {
		k := fmt.Sprint("p", i)
		if int(core.Slot([]byte(k))) == slot {
			continue
		}
		keys = append(keys, k)
	}
	for _, k := range keys {
		futs = append(futs, p.Client().Set(ctx, k, k))
	}
	require.NoError(t, p.Exec(ctx))
	for i, fu := range futs {
		require.NoError(t, fu.Err(), keys[i])
	}
	assert.Equal(t, int64(1), c.Stats().Moved, "one MOVED, one command sent again")
	assert.Equal(t, len(keys)+1, f.count("SET"))
}

func TestSplitsMultiKeyCommandsBySlotAndMergesInKeyOrder(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "missing"}
	var pairs []any
	for _, k := range keys[:7] {
		pairs = append(pairs, k, "v-"+k)
	}
	require.NoError(t, cl.MSet(ctx, pairs...).Err())
	vals, err := cl.MGet(ctx, keys...).Result()
	require.NoError(t, err)
	require.Len(t, vals, len(keys))
	for i, k := range keys[:7] {
		assert.Equal(t, "v-"+k, vals[i].String, k)
	}
	assert.False(t, vals[7].Valid)
	n, err := cl.Exists(ctx, keys...).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(7), n)
	n, err = cl.Del(ctx, "a", "b", "missing").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	assert.Zero(t, f.count("CROSSSLOT"))

	// Many slots (past the split's linear grouping), keys repeated and
	// in no order of slot.
	var many []string
	pairs = nil
	for i := range 60 {
		k := fmt.Sprint("many:", i%45)
		many = append(many, k)
		pairs = append(pairs, k, "w-"+k)
	}
	require.NoError(t, cl.MSet(ctx, pairs...).Err())
	vals, err = cl.MGet(ctx, many...).Result()
	require.NoError(t, err)
	require.Len(t, vals, len(many))
	for i, k := range many {
		assert.Equal(t, "w-"+k, vals[i].String, k)
	}
	n, err = cl.Exists(ctx, many...).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(60), n, "EXISTS counts a key once per mention")
}

func TestCrossSlotCommandsAreRefusedBeforeSending(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	err := async.Cmd(ctx, cl, async.ToInt64, "SUNIONSTORE", "dst", "a", "b").Err()
	require.ErrorIs(t, err, ErrCrossSlot)
	var cs *CrossSlotError
	require.ErrorAs(t, err, &cs)
	assert.Len(t, cs.Slots, 3)
	assert.Zero(t, f.count("SUNIONSTORE"), "nothing was sent")

	require.NoError(t, async.Cmd(ctx, cl, async.ToInt64, "SUNIONSTORE", "{t}dst", "{t}a", "{t}b").Err(),
		"keys with one hash tag go as they are")

	err = async.Cmd(ctx, cl, async.ToValue, "SCAN", "0").Err()
	require.ErrorIs(t, err, ErrWholeCluster)
}

func TestRefreshesAreCoalesced(t *testing.T) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	before := f.count("CLUSTER SHARDS")
	// Every slot of node 0 moves: each command on them comes back MOVED
	// and asks for a refresh.
	f.mu.Lock()
	for s := range NumSlots {
		f.owner[s] = 1
	}
	f.mu.Unlock()
	var futs []*async.Future[string]
	for i := range 2000 {
		futs = append(futs, cl.Set(ctx, fmt.Sprint("r", i), "x"))
	}
	for _, fu := range futs {
		require.NoError(t, fu.Err())
	}
	moved := c.Stats().Moved
	assert.Positive(t, moved)
	refreshes := f.count("CLUSTER SHARDS") - before
	assert.Less(t, int64(refreshes), moved/4, "refreshes (%d) are coalesced, not one per MOVED (%d)", refreshes, moved)
}

func TestFallsBackToClusterSlots(t *testing.T) {
	f := newFakeCluster(t, 3)
	f.shardsErr = true
	c := start(t, f, Config{})
	require.Len(t, c.Masters(), 3)
	require.NoError(t, c.Client().Set(ctx5(t), "x", "1").Err())
	assert.Positive(t, f.count("CLUSTER SLOTS"))
}

func TestNewFailsWhenNoSeedAnswers(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := New(ctx, Config{Seeds: []string{"127.0.0.1:1"}, Pool: poolQuick()})
	require.ErrorIs(t, err, ErrNoNodes)
	_, err = New(ctx, Config{})
	require.Error(t, err)
}

func TestTransactionsNeedOneSlot(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	tx := cl.TxPipeline()
	tx.Client().Set(ctx, "{u}a", "1")
	tx.Client().Set(ctx, "{u}b", "2")
	require.NoError(t, tx.Exec(ctx))

	tx = cl.TxPipeline()
	tx.Client().Set(ctx, "a", "1")
	tx.Client().Set(ctx, "b", "2")
	err := tx.Exec(ctx)
	require.ErrorIs(t, err, ErrCrossSlot)
}

func TestTransactionHitByMovedIsSafeToRetry(t *testing.T) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	key := keyIn(f, 0, 3)
	slot := int(core.Slot([]byte(key)))
	var out *async.Future[string]
	err := cl.Watch(ctx, func(tx *async.Tx) error {
		f.move(slot, 1) // between WATCH and the queued SET
		out = tx.Queue().Set(ctx, key, "1")
		return nil
	}, key)
	require.Error(t, err)
	assert.True(t, core.SafeToRetry(err), "%v", err)
	assert.True(t, core.SafeToRetry(out.Err()), "%v", out.Err())
	assert.Equal(t, f.nodes[1].addr, c.SlotOwner(uint16(slot)), "the MOVED updated the map")
}

func TestEventsReportMovedSlots(t *testing.T) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{})
	key := keyIn(f, 0, 5)
	slot := core.Slot([]byte(key))
	require.NoError(t, c.Client().Set(ctx5(t), key, "v").Err())
	f.move(int(slot), 1)
	require.NoError(t, c.Client().Get(ctx5(t), key).Err())
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-c.Events():
			if e.Kind == EventSlotsMoved && len(e.Slots) == 1 && e.Slots[0].From == slot {
				assert.Equal(t, f.nodes[1].addr, e.Addr)
				return
			}
		case <-timeout:
			t.Fatal("no slots-moved event")
		}
	}
}

func TestClosedClusterFailsCommandsNotSent(t *testing.T) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{})
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	err := c.Client().Get(ctx5(t), "a").Err()
	require.ErrorIs(t, err, core.ErrClosed)
	assert.True(t, core.SafeToRetry(err))
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Seeds: []string{"a:1"}, MaxRedirects: -1},
		{Seeds: []string{"a:1"}, RetryBackoff: time.Second, MaxRetryBackoff: time.Millisecond},
		{Seeds: []string{"a:1"}, Reads: 9},
		{Seeds: []string{"a:1"}, Pool: poolBadProtocol()},
	} {
		_, err := cfg.withDefaults()
		assert.Error(t, err, "%+v", cfg.Seeds)
	}
}

func TestWaitingCommandsExpireWithTheirContext(t *testing.T) {
	f := newFakeCluster(t, 2)
	c := start(t, f, Config{RetryBackoff: time.Second, MaxRetryBackoff: time.Second})
	f.setInject(func(_ int, args []string) string {
		if args[0] == "GET" {
			return "-TRYAGAIN busy\r\n"
		}
		return ""
	})
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := cl.Get(ctx, "a").Err()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second+raceSlack, "ended by its deadline, not retried until RetryTimeout (10 s; a tail guard)")
	require.Eventually(t, func() bool { return c.Stats().Waiting == 0 }, time.Second, 5*time.Millisecond,
		"the expired command left the line")
}
