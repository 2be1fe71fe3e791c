package integration_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/sentinel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// registerOp is one SET or GET of the single key.
type registerOp struct {
	write bool
	value string
}

// register is the model of one key: SET replaces the value, GET returns it.
var register = porcupine.Model{
	Init: func() any { return "init" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(registerOp)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(registerOp)
		if in.write {
			return "set " + in.value
		}
		return "get -> " + output.(string)
	},
}

// registerHistory runs clients goroutines doing SET of unique values and
// GET of one key through c until stop is closed; each waits a little
// between operations, so that the history stays small enough to check.
func registerHistory(c *async.Client, key string, clients int, stop <-chan struct{}) []porcupine.Operation {
	var mu sync.Mutex
	var ops []porcupine.Operation
	var wg sync.WaitGroup
	base := time.Now()
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				in := registerOp{write: i%2 == 0, value: fmt.Sprintf("%d-%d", id, i)}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				call := time.Since(base).Nanoseconds()
				var out string
				var err error
				if in.write {
					err = c.Set(ctx, key, in.value).Err()
				} else {
					out, err = c.Get(ctx, key).Result()
				}
				ret := time.Since(base).Nanoseconds()
				cancel()
				switch {
				case err == nil:
				case core.SafeToRetry(err) || !in.write:
					continue // never ran, or a read that returned nothing
				default:
					ret = 1 << 62 // may have run, at any time from now on
				}
				mu.Lock()
				ops = append(ops, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	<-stop
	wg.Wait()
	return ops
}

// A single-key register used around a manual failover is linearizable:
// with the fence, no write acknowledged by the old master is lost, and no
// read sees a value that a later read no longer sees.
func TestManualFailoverIsLinearizable(t *testing.T) {
	t.Parallel() // the package checks for leaked goroutines at its end (TestMain)
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs()})
	m := s.MasterFor(d.Config.MasterName)
	require.NoError(t, m.Set(ctx, "register", "init").Err())
	msgs, stopWatch, err := d.Watch(ctx, "+switch-master")
	require.NoError(t, err)
	defer stopWatch()

	stop := make(chan struct{})
	done := make(chan []porcupine.Operation)
	go func() { done <- registerHistory(m, "register", 8, stop) }()
	warm := time.NewTimer(300 * time.Millisecond)
	<-warm.C
	require.NoError(t, d.Failover(ctx))
	sw := firstSwitch(t, msgs)
	after := time.NewTimer(time.Until(sw.At.Add(time.Second)))
	<-after.C
	close(stop)
	ops := <-done

	checkLinearizable(t, ops)
}

// checkLinearizable asserts that a register history is linearizable,
// writing it out as HTML when it is not.
func checkLinearizable(t *testing.T, ops []porcupine.Operation) {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(register, ops, time.Minute)
	t.Logf("%d operations; linearizable: %s", len(ops), res)
	if res != porcupine.Ok {
		if err := porcupine.VisualizePath(register, info, t.TempDir()+"/history.html"); err == nil {
			t.Logf("history written to %s", t.TempDir())
		}
	}
	assert.Equal(t, porcupine.Ok, res)
}
