// Command quickstart connects through Redis Sentinel, writes and reads
// through MasterFor and ReplicaFor, forces a failover and shows the client
// following it.
//
//	go run ./examples/quickstart
//
// With REDIS_SENTINELS (comma-separated host:port) and REDIS_MASTER_NAME set
// it uses that deployment; otherwise it starts a sandbox (1 master, 2
// replicas, 3 sentinels) in Docker through the integration harness and
// removes it at the end, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/sentinel"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("%s  "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

func run(ctx context.Context) error {
	start := time.Now()
	sentinels, name, sandbox, err := integration.SentinelsFromEnv(ctx, func(msg string) { step("%s", msg) })
	if err != nil {
		return err
	}
	if sandbox != nil {
		defer func() {
			step("removing the sandbox...")
			if err := sandbox.Close(context.WithoutCancel(ctx)); err != nil {
				fmt.Fprintln(os.Stderr, "quickstart:", err)
			}
		}()
		step("sandbox up in %v: sentinels %s", time.Since(start).Round(time.Millisecond), strings.Join(sentinels, ", "))
	}

	s, err := sentinel.New(sentinel.Config{Sentinels: sentinels})
	if err != nil {
		return err
	}
	defer s.Close()
	master, replica := s.MasterFor(name), s.ReplicaFor(name)

	addr, err := s.DiscoverMaster(ctx, name)
	if err != nil {
		return err
	}
	step("master of %q is %s", name, addr)

	// Fire a batch of writes without waiting for each: every call returns a
	// future at once, and all of them go out pipelined.
	futs := make([]async.Awaitable, 100)
	for i := range futs {
		futs[i] = master.Set(ctx, fmt.Sprintf("quickstart:%d", i), i)
	}
	if err := async.WaitAll(ctx, futs...); err != nil {
		return err
	}
	step("100 writes acknowledged by the master")
	v, err := replica.Get(ctx, "quickstart:42").Wait(ctx)
	for errors.Is(err, async.ErrNil) { // replication is asynchronous
		v, err = replica.Get(ctx, "quickstart:42").Result()
	}
	if err != nil {
		return err
	}
	role, _ := replica.Role(ctx).Result()
	step("read quickstart:42 = %s from a %s", v, role.Role)

	if sandbox == nil {
		step("not forcing a failover on a deployment this program did not start")
		return nil
	}

	// Keep writing while the sentinels fail over; measure the pause.
	step("forcing SENTINEL FAILOVER while writing...")
	if err := s.Failover(ctx, name).Err(); err != nil {
		return err
	}
	var lastOK, pauseStart time.Time
	var longest time.Duration
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := master.Set(cctx, "quickstart:counter", i).Err()
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		now := time.Now()
		if err != nil {
			if pauseStart.IsZero() {
				pauseStart = now
			}
			step("write %d failed (%v)", i, err)
			continue
		}
		if !lastOK.IsZero() && now.Sub(lastOK) > longest {
			longest = now.Sub(lastOK)
		}
		lastOK = now
		cur, _ := s.DiscoverMaster(ctx, name)
		if cur != addr && cur != "" {
			step("client followed the failover: master is now %s; longest gap between acknowledged writes %v",
				cur, longest.Round(time.Microsecond))
			return nil
		}
	}
	return errors.New("no failover seen within 20s")
}
