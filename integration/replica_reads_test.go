package integration_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/sentinel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gapReads runs goroutines reading through c and records the longest
// time between two successful reads, and the failures.
type gapReads struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	ok     atomic.Int64
	mu     sync.Mutex
	last   time.Time
	maxGap time.Duration
	gapEnd time.Time
	errs   []error
}

func startGapReads(c *async.Client, goroutines int) *gapReads {
	keys := make([]string, goroutines)
	for i := range keys {
		keys[i] = fmt.Sprint("gap:", i)
	}
	return startGapReadsOf(c, keys)
}

// startGapReadsOf runs a goroutine per key, each reading its key.
func startGapReadsOf(c *async.Client, keys []string) *gapReads {
	g := &gapReads{stop: make(chan struct{}), last: time.Now()}
	for _, key := range keys {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			for {
				select {
				case <-g.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := c.Get(ctx, key).Err()
				cancel()
				now := time.Now()
				g.mu.Lock()
				if err == nil || errors.Is(err, async.ErrNil) {
					g.ok.Add(1)
					if d := now.Sub(g.last); d > g.maxGap {
						g.maxGap, g.gapEnd = d, now
					}
					g.last = now
				} else {
					g.errs = append(g.errs, err)
				}
				g.mu.Unlock()
			}
		}()
	}
	return g
}

func (g *gapReads) finish() {
	close(g.stop)
	g.wg.Wait()
}

// Replicas keep serving reads while their master is down and while its
// failover runs: 16 goroutines reading through ReplicaFor and 16 through
// ClientFor(ReadReplicaPreferred) see no gap between successful reads
// longer than 50 ms, through a master kill and a manual failover, and no
// error but reads in flight on a connection the sentinels killed.
func TestReplicaReadsThroughMasterDown(t *testing.T) {
	for _, tt := range timingScenarios(masterFaults) {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			d := integration.StartSentinelT(t, integration.SentinelConfig{})
			s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs()})
			name := d.Config.MasterName
			r := s.ReplicaFor(name)
			rp := s.ClientFor(name, sentinel.ReadReplicaPreferred)
			require.Eventually(t, func() bool { return r.Ping(ctx).Err() == nil && rp.Ping(ctx).Err() == nil }, 30*time.Second, 10*time.Millisecond)
			replicas, preferred := startGapReads(r, 16), startGapReads(rp, 16)
			require.Eventually(t, func() bool { return replicas.ok.Load() > 1000 && preferred.ok.Load() > 1000 }, 30*time.Second, time.Millisecond)
			require.NoError(t, tt.fault(ctx, d))
			fault := time.Now()
			nm, err := d.WaitForNewMaster(ctx, d.Master.Addr(), 30*time.Second)
			require.NoError(t, err)
			// Reads go on until the client has followed the switch and a
			// second more.
			require.Eventually(t, func() bool {
				role, err := s.MasterFor(name).Role(ctx).Result()
				return err == nil && role.Role == "master"
			}, 30*time.Second, 10*time.Millisecond)
			okAt := replicas.ok.Load()
			require.Eventually(t, func() bool { return replicas.ok.Load() > okAt+2000 }, 30*time.Second, time.Millisecond)
			replicas.finish()
			preferred.finish()
			_ = nm
			for _, g := range []struct {
				name string
				r    *gapReads
			}{{"ReplicaFor", replicas}, {"ReadReplicaPreferred", preferred}} {
				other := 0
				var first error
				for _, err := range g.r.errs {
					if !errors.Is(err, pool.ErrInFlight) {
						if other++; first == nil {
							first = err
						}
					}
				}
				t.Logf("%s: %d reads ok, %d failed (%d not in flight, the first: %v); longest gap %v, ending %v after the fault",
					g.name, g.r.ok.Load(), len(g.r.errs), other, first, g.r.maxGap.Round(time.Millisecond), g.r.gapEnd.Sub(fault).Round(time.Millisecond))
				assert.LessOrEqual(t, g.r.maxGap, time.Second+raceSlack, "%s: longest gap between successful reads (a tail guard; the tight figure is bench/results/followers.md's)", g.name)
				assert.Zero(t, other, "%s: reads that failed other than in flight", g.name)
			}
		})
	}
}

// With MaxReplicaStaleness set, a replica whose link has been down longer
// is left out: the master killed and its failover slow (down-after 30 s),
// reads through ReplicaFor succeed at first, from the replicas' data, and
// fail with "no replica found" once the bound has passed (and the next
// re-check has seen it), while without a bound they go on.
func TestReplicaStalenessBound(t *testing.T) {
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{DownAfter: 30 * time.Second})
	bounded := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs(), MaxReplicaStaleness: time.Second,
		RecheckInterval: 200 * time.Millisecond})
	unbounded := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs(), RecheckInterval: 200 * time.Millisecond})
	name := d.Config.MasterName
	require.NoError(t, bounded.MasterFor(name).Set(ctx, "k", "v").Err())
	rb, ru := bounded.ReplicaFor(name), unbounded.ReplicaFor(name)
	require.Eventually(t, func() bool { return rb.Get(ctx, "k").Val() == "v" && ru.Get(ctx, "k").Val() == "v" }, 30*time.Second, 10*time.Millisecond)

	killed := time.Now() // before: the container may die well before Kill returns
	require.NoError(t, d.Master.Kill(ctx))
	v, err := rb.Get(ctx, "k").Result()
	require.NoError(t, err, "a replica whose link has just gone down serves")
	assert.Equal(t, "v", v)
	// The bound is a second, seen to the second, plus a re-check.
	var nf *sentinel.ReplicaNotFoundError
	require.Eventually(t, func() bool {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return errors.As(rb.Get(cctx, "k").Err(), &nf)
	}, 10*time.Second, 10*time.Millisecond, "replicas left out past the bound")
	left := time.Since(killed)
	t.Logf("bounded reads stopped %v after the kill", left.Round(time.Millisecond))
	assert.GreaterOrEqual(t, left, time.Second, "not before the bound")
	v, err = ru.Get(ctx, "k").Result()
	require.NoError(t, err, "without a bound the replicas still serve")
	assert.Equal(t, "v", v)
}
