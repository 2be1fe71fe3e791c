package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/asyncredis/asyncredis/integration"
)

// registerOp is one SET or GET of the register's key.
type registerOp struct {
	write bool
	value string
}

// register models one key: SET replaces its value, GET returns it.
var register = porcupine.Model{
	Init: func() any { return "init" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(registerOp)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
}

// registerOnce runs 8 goroutines doing SET of unique values and GET of one
// key, one operation per goroutine per millisecond, through client which
// on a fresh deployment, around a SENTINEL FAILOVER (from 300 ms before
// it to 1 s after the first +switch-master), and checks the history for
// linearizability. A write that failed may have run: it is kept, open
// until the end; a read that failed is dropped.
func registerOnce(ctx context.Context, which int) (string, porcupine.CheckResult, int, error) {
	d, err := integration.StartSentinel(ctx, integration.SentinelConfig{})
	if err != nil {
		return "", "", 0, err
	}
	defer d.Close(ctx)
	clients, err := sentinelClients(d.SentinelAddrs(), d.Config.MasterName)
	if err != nil {
		return "", "", 0, err
	}
	for _, c := range clients {
		defer c.close()
	}
	c := clients[which]
	if err := c.set(ctx, "register", "init"); err != nil {
		return c.name, "", 0, err
	}
	msgs, stopWatch, err := d.Watch(ctx, "+switch-master")
	if err != nil {
		return c.name, "", 0, err
	}
	defer stopWatch()

	var mu sync.Mutex
	var ops []porcupine.Operation
	stop := make(chan struct{})
	var wg sync.WaitGroup
	base := time.Now()
	for id := range 8 {
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
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				call := time.Since(base).Nanoseconds()
				var out string
				var err error
				if in.write {
					err = c.set(cctx, "register", in.value)
				} else {
					out, err = c.read(cctx, "register")
				}
				ret := time.Since(base).Nanoseconds()
				cancel()
				if err != nil {
					if !in.write {
						continue
					}
					ret = 1 << 62
				}
				mu.Lock()
				ops = append(ops, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	warm := time.NewTimer(300 * time.Millisecond)
	<-warm.C
	if err := d.Failover(ctx); err != nil {
		close(stop)
		wg.Wait()
		return c.name, "", 0, err
	}
	var sw integration.SentinelMessage
	select {
	case sw = <-msgs:
	case <-time.After(30 * time.Second):
		close(stop)
		wg.Wait()
		return c.name, "", 0, fmt.Errorf("no +switch-master")
	}
	after := time.NewTimer(time.Until(sw.At.Add(time.Second)))
	<-after.C
	close(stop)
	wg.Wait()
	return c.name, porcupine.CheckOperationsTimeout(register, ops, time.Minute), len(ops), nil
}
