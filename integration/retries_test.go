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
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/sentinel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With the opt-in retry policy, reads through a Sentinel master get
// through its kill with no error (those in flight at the kill are sent
// again to the new master); writes behave as without it: those in flight
// fail with ErrInFlight (they may have run), and none other fails.
func TestRetriedReadsThroughAMasterKill(t *testing.T) {
	t.Parallel() // the package checks for leaked goroutines at its end (TestMain)
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs()})
	plain := s.MasterFor(d.Config.MasterName)
	c := plain.WithRetries(async.Retries{})
	require.NoError(t, c.Set(ctx, "r:0", "v").Err())

	var readOK, writeOK atomic.Int64
	var mu sync.Mutex
	var readErrs, writeErrs []error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				var err error
				if g%2 == 0 {
					err = c.Get(cctx, "r:0").Err()
				} else {
					err = c.Set(cctx, fmt.Sprintf("w:%d:%d", g, i), i).Err()
				}
				cancel()
				mu.Lock()
				switch {
				case err == nil && g%2 == 0:
					readOK.Add(1)
				case err == nil:
					writeOK.Add(1)
				case g%2 == 0:
					readErrs = append(readErrs, err)
				default:
					writeErrs = append(writeErrs, err)
				}
				mu.Unlock()
			}
		}()
	}
	require.Eventually(t, func() bool { return readOK.Load() > 2000 && writeOK.Load() > 2000 }, 30*time.Second, time.Millisecond)
	require.NoError(t, d.Master.Kill(ctx))
	_, err := d.WaitForNewMaster(ctx, d.Master.Addr(), 30*time.Second)
	require.NoError(t, err)
	r0, w0 := readOK.Load(), writeOK.Load()
	require.Eventually(t, func() bool { return readOK.Load() > r0+2000 && writeOK.Load() > w0+2000 }, 30*time.Second, time.Millisecond)
	close(stop)
	wg.Wait()

	inFlight, other := 0, 0
	for _, err := range writeErrs {
		if errors.Is(err, core.ErrInFlight) {
			inFlight++
		} else {
			other++
		}
	}
	t.Logf("reads: %d ok, %d failed (%v); writes: %d ok, %d failed in flight, %d otherwise", readOK.Load(), len(readErrs), firstErr(readErrs), writeOK.Load(), inFlight, other)
	assert.Empty(t, readErrs, "reads that failed")
	assert.Zero(t, other, "writes that failed other than in flight")
	assert.LessOrEqual(t, inFlight, 32, "at most one write in flight per writer")
}

func firstErr(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}
