package sentinel

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExecuteTriesSentinelsInOrder(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	topo := newFakeTopology("m", newFakeNode(t, "master"))
	good := newFakeSentinel(t, topo)
	dead := deadAddr(t)
	p := newTestPool(t, Config{Sentinels: []string{dead, good.addr}})

	masters, err := p.Masters(ctx).Result()
	require.NoError(t, err)
	require.Len(t, masters, 1)
	assert.Equal(t, "m", masters[0].Name)
	assert.Equal(t, []string{good.addr, dead}, p.KnownSentinels(), "the one that answered goes first")

	all := p.ExecuteAll(ctx, "MASTERS")
	require.Len(t, all, 2)
	assert.NoError(t, all[good.addr].Err())
	assert.Error(t, all[dead].Err())
}

func TestSentinelCommandsWithoutDocker(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1, n2 := newFakeNode(t, "master"), newFakeNode(t, "slave")
	topo := newFakeTopology("m", n1, n2)
	p := newTestPool(t, Config{Sentinels: []string{newFakeSentinel(t, topo).addr}})

	pong, err := p.PingSentinel(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, "PONG", pong)
	m, err := p.Master(ctx, "m").Result()
	require.NoError(t, err)
	assert.Equal(t, n1.addr, m.Addr())
	assert.True(t, m.IsMaster)
	assert.Equal(t, int64(1), m.ConfigEpoch)
	addr, err := p.MasterAddress(ctx, "m").Result()
	require.NoError(t, err)
	assert.Equal(t, n1.addr, addr)
	for _, f := range []func(context.Context, string) ([]Instance, error){
		func(ctx context.Context, n string) ([]Instance, error) { return p.Replicas(ctx, n).Result() },
		func(ctx context.Context, n string) ([]Instance, error) { return p.Slaves(ctx, n).Result() },
	} {
		reps, err := f(ctx, "m")
		require.NoError(t, err)
		require.Len(t, reps, 1)
		assert.Equal(t, n2.addr, reps[0].Addr())
		assert.True(t, reps[0].IsSlave)
	}
	peers, err := p.Sentinels(ctx, "m").Result()
	require.NoError(t, err)
	assert.Empty(t, peers)
	reset, err := p.Reset(ctx, "*").Result()
	require.NoError(t, err)
	require.Len(t, reset, 1)
	for _, o := range reset {
		assert.Equal(t, int64(1), o.Reply.Int)
	}
	id, err := p.MyID(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, "id-1", id)
	q, err := p.CheckQuorum(ctx, "m").Result()
	require.NoError(t, err)
	assert.Contains(t, q, "usable")
	cfg, err := p.ConfigGet(ctx, "resolve-hostnames").Result()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"resolve-hostnames": "no"}, cfg)
	for _, f := range []interface{ Err() error }{
		p.Monitor(ctx, "m2", "127.0.0.1", 1, 2), p.SetOption(ctx, "m", "down-after-milliseconds", 1000),
		p.Failover(ctx, "m"), p.FlushConfig(ctx), p.ConfigSet(ctx, "resolve-hostnames", "no"), p.Remove(ctx, "m2"),
	} {
		assert.NoError(t, f.Err())
	}
	require.NoError(t, p.Discover(ctx))

	got, err := p.DiscoverMaster(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, n1.addr, got)
	reps, err := p.DiscoverReplicas(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, []string{n2.addr}, reps)
	reps, err = p.DiscoverSlave(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, []string{n2.addr}, reps)
}

func TestUnknownNameAndNoSentinel(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	topo := newFakeTopology("m", newFakeNode(t, "master"))
	p := newTestPool(t, Config{Sentinels: []string{newFakeSentinel(t, topo).addr}, FailFast: true})

	_, err := p.DiscoverMaster(ctx, "nosuch")
	var mnf *MasterNotFoundError
	require.ErrorAs(t, err, &mnf)
	assert.ErrorIs(t, err, ErrUnknownName)
	_, err = p.MasterAddress(ctx, "nosuch").Result()
	assert.ErrorIs(t, err, ErrUnknownName)
	_, err = p.DiscoverReplicas(ctx, "nosuch")
	var rnf *ReplicaNotFoundError
	require.ErrorAs(t, err, &rnf)
	assert.ErrorIs(t, err, ErrUnknownName)

	// FailFast: commands fail at once while no master is known; none was
	// sent.
	err = p.MasterFor("nosuch").Ping(ctx).Err()
	require.ErrorAs(t, err, &mnf)
	assert.True(t, core.SafeToRetry(err))

	none := newTestPool(t, Config{Sentinels: []string{deadAddr(t), deadAddr(t)}, SentinelTimeout: 200 * time.Millisecond})
	_, err = none.DiscoverMaster(ctx, "m")
	assert.ErrorIs(t, err, ErrNoSentinel)
	assert.ErrorIs(t, none.PingSentinel(ctx).Err(), ErrNoSentinel)
}

func TestClosedPoolRefusesEverything(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	topo := newFakeTopology("m", newFakeNode(t, "master"))
	p := newTestPool(t, Config{Sentinels: []string{newFakeSentinel(t, topo).addr}})
	master := p.MasterFor("m")
	require.NoError(t, master.Ping(ctx).Err())
	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "idempotent")
	require.NoError(t, p.WaitClosed(ctx))
	assert.True(t, p.Closed())

	for name, err := range map[string]error{
		"old client":  master.Ping(ctx).Err(),
		"new client":  p.MasterFor("m").Ping(ctx).Err(),
		"replica":     p.ReplicaFor("m").Ping(ctx).Err(),
		"execute":     p.Execute(ctx, "MASTERS").Err(),
		"execute all": p.ExecuteAll(ctx, "MASTERS")[p.KnownSentinels()[0]].Err(),
		"ping":        p.PingSentinel(ctx).Err(),
	} {
		assert.ErrorIs(t, err, ErrClosed, name)
		assert.ErrorIs(t, err, core.ErrClosed, name)
		assert.True(t, core.SafeToRetry(err), name+": not sent")
	}
	assert.ErrorIs(t, errOf(p.DiscoverMaster(ctx, "m")), ErrClosed)
	assert.ErrorIs(t, errOf(p.DiscoverReplicas(ctx, "m")), ErrClosed)
}

func errOf[T any](_ T, err error) error { return err }

func TestNewRejectsBadConfigs(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no sentinels":          {},
		"negative timeout":      {Sentinels: []string{"s:1"}, SentinelTimeout: -1},
		"negative recheck":      {Sentinels: []string{"s:1"}, RecheckInterval: -time.Second},
		"negative queue":        {Sentinels: []string{"s:1"}, QueueSize: -1},
		"negative listeners":    {Sentinels: []string{"s:1"}, Listeners: -1},
		"pool addr":             {Sentinels: []string{"s:1"}, Pool: poolConfig("x:1")},
		"bad pool template":     {Sentinels: []string{"s:1"}, Pool: poolSizes(-1)},
		"bad sentinel template": {Sentinels: []string{"s:1"}, Sentinel: poolSizes(-1)},
	} {
		_, err := New(cfg)
		assert.Error(t, err, name)
	}
}

func TestErrorsCallersCanActOn(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1 := newFakeNode(t, "master")
	topo := newFakeTopology("m", n1)
	p := newTestPool(t, Config{Sentinels: []string{newFakeSentinel(t, topo).addr}})

	t.Run("context errors stay matchable", func(t *testing.T) {
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		assert.ErrorIs(t, p.Execute(cancelled, "MASTERS").Err(), context.Canceled)
		assert.ErrorIs(t, p.Master(cancelled, "m").Err(), context.Canceled)
		_, err := p.DiscoverMaster(cancelled, "m")
		assert.ErrorIs(t, err, context.Canceled)
		_, err = p.DiscoverReplicas(cancelled, "m")
		assert.ErrorIs(t, err, context.Canceled)
	})

	t.Run("one line, no doubled prefix", func(t *testing.T) {
		dead := newTestPool(t, Config{Sentinels: []string{deadAddr(t), deadAddr(t)}, SentinelTimeout: 200 * time.Millisecond})
		_, err := dead.DiscoverReplicas(ctx, "m")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "\n")
		assert.Equal(t, 1, strings.Count(err.Error(), "sentinel: no replica"), err.Error())
		var de *pool.DialError
		assert.ErrorAs(t, err, &de, "each sentinel's failure stays reachable")
		_, err = p.DiscoverReplicas(ctx, "m") // no replicas at all
		require.Error(t, err)
		assert.Equal(t, 1, strings.Count(err.Error(), "sentinel: no replica"), err.Error())
	})

	t.Run("fail fast says why first", func(t *testing.T) {
		ff := newTestPool(t, Config{Sentinels: []string{deadAddr(t)}, SentinelTimeout: 200 * time.Millisecond, FailFast: true})
		err := ff.MasterFor("m").Ping(ctx).Err()
		assert.ErrorIs(t, err, ErrNoSentinel)
	})

	t.Run("Events ends with Close", func(t *testing.T) {
		q := newTestPool(t, Config{Sentinels: []string{deadAddr(t)}})
		require.NoError(t, q.Close())
		for range q.Events() {
		}
	})
}

func TestWrongReplicaPasswordSaysSo(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	n1, n2 := newFakeNode(t, "master"), newFakeNode(t, "slave")
	n1.password, n2.password = "right", "right"
	topo := newFakeTopology("m", n1, n2)
	p := newTestPool(t, Config{Sentinels: []string{newFakeSentinel(t, topo).addr}, Pool: pool.Config{Password: "wrong"}})
	_, err := p.DiscoverReplicas(ctx, "m")
	assert.ErrorIs(t, err, protocol.ErrAuth)
	var rre *ReplicaReplyError
	assert.ErrorAs(t, err, &rre)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	assert.ErrorIs(t, p.ReplicaFor("m").Ping(short).Err(), protocol.ErrAuth)
	assert.ErrorIs(t, p.MasterFor("m").Ping(short).Err(), protocol.ErrAuth)
}

func TestAdminCommandsReachEverySentinel(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	topo := newFakeTopology("m", newFakeNode(t, "master"))
	s1, s2 := newFakeSentinel(t, topo), newFakeSentinel(t, topo)
	p := newTestPool(t, Config{Sentinels: []string{s1.addr, s2.addr}})
	out, err := p.SetOption(ctx, "m", "down-after-milliseconds", 1000).Result()
	require.NoError(t, err)
	assert.Len(t, out, 2, "both sentinels changed")
	for addr, o := range out {
		assert.NoError(t, o.Err, addr)
		assert.Equal(t, "OK", o.Reply.Str, addr)
	}

	dead := deadAddr(t)
	q := newTestPool(t, Config{Sentinels: []string{s1.addr, dead}, SentinelTimeout: 200 * time.Millisecond})
	err = q.FlushConfig(ctx).Err()
	var ae *AdminError
	require.ErrorAs(t, err, &ae)
	assert.NoError(t, ae.Outcomes[s1.addr].Err)
	assert.Error(t, ae.Outcomes[dead].Err)
	assert.Contains(t, err.Error(), "1 of 2 sentinels failed")
}
