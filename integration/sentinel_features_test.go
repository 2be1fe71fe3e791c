package integration_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/asyncredis/asyncredis/sentinel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Pub/sub, scripts, pipelines and transactions through MasterFor, before
// and after a failover.
func TestMasterForFeaturesAcrossFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs()})
	m := s.MasterFor(d.Config.MasterName)

	ps, err := m.PubSub(async.PubSubConfig{})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.Subscribe(ctx, "events"))
	_, err = m.Publish(ctx, "events", "before").Result()
	require.NoError(t, err)
	assert.Equal(t, "before", waitMessage(t, ps, "message").Payload)

	script := async.NewScript("return redis.call('INCR', KEYS[1])")
	v, err := script.Run(ctx, m, []string{"n"}).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, v.Int)

	require.NoError(t, d.Master.Kill(ctx))
	nm, err := d.WaitForNewMaster(ctx, d.Master.Addr(), 30*time.Second)
	require.NoError(t, err)

	// The subscriber follows the master: it resubscribes on the new one.
	waitMessage(t, ps, async.KindResubscribed)
	n, err := m.Publish(ctx, "events", "after").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	assert.Equal(t, "after", waitMessage(t, ps, "message").Payload)

	// The new master never ran the script: EVALSHA falls back to EVAL.
	v, err = script.Run(ctx, m, []string{"n"}).Result()
	require.NoError(t, err)
	assert.Positive(t, v.Int)
	_, err = nm.Do(ctx, "SCRIPT", "EXISTS", script.Hash())
	require.NoError(t, err)

	pl := m.Pipeline()
	a := pl.Client().Set(ctx, "pipe", "1")
	b := pl.Client().Get(ctx, "pipe")
	require.NoError(t, pl.Exec(ctx))
	assert.Equal(t, "OK", a.Val())
	assert.Equal(t, "1", b.Val())
	require.NoError(t, m.WatchRetry(ctx, 3, func(tx *async.Tx) error {
		tx.Queue().Incr(ctx, "pipe")
		return nil
	}, "pipe"))
	assert.Equal(t, "2", m.Get(ctx, "pipe").Val())
	role, err := m.Role(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, "master", role.Role)
}

func waitMessage(t *testing.T, ps *async.PubSub, kind string) async.Message {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-ps.Messages():
			if m.Kind == kind {
				return m
			}
		case <-timeout:
			t.Fatalf("no %q message within 30s", kind)
		}
	}
}

// proxy forwards TCP connections from a loopback address to target and
// counts them, to stand for the NAT that AddrMapper exists for.
type proxy struct {
	ln     net.Listener
	target string
	conns  atomic.Int64
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(up, c); up.Close(); done <- struct{}{} }()
				go func() { io.Copy(c, up); c.Close(); done <- struct{}{} }()
				<-done
				<-done
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

// AddrMapper rewrites every address the sentinels report: here each data
// node is reached only through a loopback proxy.
func TestAddrMapperReachesNodesThroughTheirMappedAddresses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	proxies := map[string]*proxy{}
	for _, n := range d.DataNodes() {
		proxies[n.Addr()] = startProxy(t, n.Addr())
	}
	mapped := func(addr string) string {
		if p, ok := proxies[addr]; ok {
			return p.ln.Addr().String()
		}
		return addr
	}
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs(), AddrMapper: mapped})
	m := s.MasterFor(d.Config.MasterName)
	require.NoError(t, m.Set(ctx, "mapped", "1").Err())
	assert.Positive(t, proxies[d.Master.Addr()].conns.Load(), "the master was reached through its mapped address")
	addr, err := s.DiscoverMaster(ctx, d.Config.MasterName)
	require.NoError(t, err)
	assert.Equal(t, mapped(d.Master.Addr()), addr)
	reps, err := s.DiscoverReplicas(ctx, d.Config.MasterName)
	require.NoError(t, err)
	var want []string
	for _, r := range d.Replicas {
		want = append(want, mapped(r.Addr()))
	}
	assert.ElementsMatch(t, want, reps, "replicas, mapped, and judged linked to the mapped master")
	v, err := s.ReplicaFor(d.Config.MasterName).Role(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, "slave", v.Role)
}

// With every replica down, ReplicaFallbackToMaster reads from the master;
// without it, a replica client says no replica is usable.
func TestReplicaFallbackToMaster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	fb := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs(), ReplicaFallbackToMaster: true})
	strict := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs()})
	name := d.Config.MasterName
	r, rs := fb.ReplicaFor(name), strict.ReplicaFor(name)
	role, err := r.Role(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, "slave", role.Role)

	for _, n := range d.Replicas {
		require.NoError(t, n.Kill(ctx))
	}
	var last string // what the replica client said last, for a failure's message
	ok := assert.Eventually(t, func() bool {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		role, err := r.Role(cctx).Result()
		last = fmt.Sprintf("role %q, error %v", role.Role, err)
		return err == nil && role.Role == "master"
	}, 30*time.Second, 10*time.Millisecond, "reads fall back to the master")
	if !ok {
		reps, err := fb.Replicas(ctx, name).Result()
		t.Fatalf("the replica client's last answer: %s; the sentinels list the replicas as %+v (%v)", last, reps, err)
	}
	require.Eventually(t, func() bool {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		var rnf *sentinel.ReplicaNotFoundError
		return errors.As(rs.Ping(cctx).Err(), &rnf)
	}, 30*time.Second, 10*time.Millisecond, "without the fallback, no replica is usable")
}

// Sentinels and data nodes reached over TLS only: queries, the event
// subscription, ROLE checks and the managed pools all go through the one
// dial path with the two TLS settings, across a failover.
func TestSentinelTLSAndTLSDataNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{TLS: true})
	var sentinels []string
	for _, a := range d.SentinelAddrs() {
		sentinels = append(sentinels, integration.TLSAddr(a))
	}
	s := newSentinel(t, sentinel.Config{
		Sentinels:  sentinels,
		Sentinel:   pool.Config{TLS: d.TLSConfig},
		Pool:       pool.Config{TLS: d.TLSConfig},
		AddrMapper: integration.TLSAddr,
	})
	events := collectEvents(s)
	name := d.Config.MasterName
	m := s.MasterFor(name)
	require.NoError(t, m.Set(ctx, "tls", "1").Err())
	role, err := s.ReplicaFor(name).Role(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, "slave", role.Role)
	addr, err := s.DiscoverMaster(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, integration.TLSAddr(d.Master.Addr()), addr)

	require.NoError(t, d.Master.Kill(ctx))
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, m.Set(cctx, "tls", "2").Err())
	role, err = m.Role(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, "master", role.Role)
	require.Eventually(t, func() bool {
		_, ok := events.first(sentinel.EventSwitchMaster)
		return ok
	}, 30*time.Second, 10*time.Millisecond, "the +switch-master came over a TLS subscription")

	// Without TLS the sentinels' TLS ports refuse the client.
	plain := newSentinel(t, sentinel.Config{Sentinels: sentinels, SentinelTimeout: 300 * time.Millisecond})
	_, err = plain.DiscoverMaster(ctx, name)
	assert.ErrorIs(t, err, sentinel.ErrNoSentinel)
}

// A wrong data-node password says so, for masters and replicas alike,
// instead of "not found".
func TestWrongDataPasswordIsAnAuthError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{Password: "datapw"})
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs(), Pool: pool.Config{Password: "wrong"}})
	name := d.Config.MasterName
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := s.MasterFor(name).Ping(cctx).Err()
	assert.ErrorIs(t, err, protocol.ErrAuth)
	var mre *sentinel.MasterReplyError
	assert.ErrorAs(t, err, &mre)
	err = s.ReplicaFor(name).Ping(cctx).Err()
	assert.ErrorIs(t, err, protocol.ErrAuth)
	var rre *sentinel.ReplicaReplyError
	assert.ErrorAs(t, err, &rre)
	_, err = s.DiscoverReplicas(ctx, name)
	assert.ErrorIs(t, err, protocol.ErrAuth)
}

// Operators move the master by hand: a replica is promoted, the sentinels
// are re-pointed with SENTINEL REMOVE + MONITOR (no failover, so no
// +switch-master is ever published) and the old master is made a replica.
// The old master's READONLY replies are the client's only sign; it must
// follow the new master at once, not at the next periodic re-check (an
// hour here).
func TestReadOnlyReplyTriggersRediscoveryOnRealServers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	name := d.Config.MasterName
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs(), RecheckInterval: time.Hour})
	events := collectEvents(s)
	m := s.MasterFor(name)
	require.NoError(t, m.Set(ctx, "k", "before").Err())

	old, next := d.Master, d.Replicas[0]
	_, err := next.Do(ctx, "REPLICAOF", "NO", "ONE")
	require.NoError(t, err)
	for _, sn := range d.Sentinels {
		_, err := sn.Do(ctx, "SENTINEL", "REMOVE", name)
		require.NoError(t, err)
		_, err = sn.Do(ctx, "SENTINEL", "MONITOR", name, next.IP, strconv.Itoa(next.Port), strconv.Itoa(d.Config.Quorum))
		require.NoError(t, err)
	}
	require.NoError(t, m.Set(ctx, "k", "still old").Err())
	v, err := old.Do(ctx, "GET", "k")
	require.NoError(t, err)
	require.Equal(t, "still old", v, "nothing told the client yet: it still writes to the old master")

	_, err = old.Do(ctx, "REPLICAOF", next.IP, strconv.Itoa(next.Port))
	require.NoError(t, err)
	demoted := time.Now()
	assert.ErrorIs(t, m.Set(ctx, "k", "refused").Err(), protocol.ErrReadOnly)
	var followed time.Duration
	require.Eventually(t, func() bool {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		followed = time.Since(demoted)
		return m.Set(cctx, "k", "after").Err() == nil
	}, 10*time.Second, time.Millisecond, "writes resume on the new master")
	t.Logf("writes resumed %v after the old master was demoted", followed)
	assert.Less(t, followed, time.Second, "the READONLY reply, not the hourly re-check, moved the client")
	v, err = next.Do(ctx, "GET", "k")
	require.NoError(t, err)
	assert.Equal(t, "after", v)

	changes := events.all(sentinel.EventMasterChanged)
	require.Len(t, changes, 2, "the first discovery, then the move")
	assert.Equal(t, next.Addr(), changes[1].Addr)
	assert.Equal(t, old.Addr(), changes[1].OldAddr)
	assert.Equal(t, "discovery", changes[1].Via)
	assert.Empty(t, events.all(sentinel.EventSwitchMaster), "no sentinel announced a switch")
}
