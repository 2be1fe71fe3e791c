// Command worker is an event-driven worker: one select loop over command
// futures, a pub/sub channel, topology events and its context.
//
//	REDIS_SENTINELS=host:26379,... REDIS_MASTER_NAME=mymaster go run ./examples/worker
//
// Without REDIS_SENTINELS it starts a sandbox deployment in Docker. It
// subscribes to "jobs", and for each job fans out commands and awaits them
// together; publish jobs with PUBLISH jobs <id>. It stops on Ctrl-C or after
// -jobs jobs (a few are published by itself to start with).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/sentinel"
)

func main() {
	jobs := flag.Int("jobs", 5, "stop after this many jobs (0: run until Ctrl-C)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *jobs); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, maxJobs int) error {
	sentinels, name, sandbox, err := integration.SentinelsFromEnv(ctx, func(msg string) { fmt.Println(msg) })
	if err != nil {
		return err
	}
	if sandbox != nil {
		defer sandbox.Close(context.WithoutCancel(ctx))
	}
	s, err := sentinel.New(sentinel.Config{Sentinels: sentinels})
	if err != nil {
		return err
	}
	defer s.Close()
	c := s.MasterFor(name)

	ps, err := c.PubSub(async.PubSubConfig{})
	if err != nil {
		return err
	}
	defer ps.Close()
	if err := ps.Subscribe(ctx, "jobs"); err != nil {
		return err
	}
	for i := 1; i <= min(maxJobs, 3); i++ {
		c.Publish(ctx, "jobs", fmt.Sprint(i)) // fire and forget: the future is not needed
	}

	type result struct {
		job   string
		count *async.Future[int64]
		done  *async.Future[struct{}]
	}
	var inflight []result
	var doneCh <-chan struct{} // Done of the oldest job in flight
	handled := 0
	for {
		if len(inflight) > 0 {
			doneCh = inflight[0].done.Done()
		} else {
			doneCh = nil
		}
		select {
		case <-ctx.Done():
			fmt.Println("stopping:", ctx.Err())
			return nil
		case m, ok := <-ps.Messages():
			if !ok {
				return nil
			}
			switch m.Kind {
			case async.KindDisconnected, async.KindResubscribed:
				fmt.Println("pub/sub:", m.Kind)
				continue
			}
			// Fan out: three commands at once, one future that awaits them
			// all without blocking anyone.
			count := c.Incr(ctx, "jobs:count")
			state := c.HSet(ctx, "job:"+m.Payload, "state", "done")
			expiry := c.Expire(ctx, "job:"+m.Payload, time.Hour, "")
			inflight = append(inflight, result{job: m.Payload, count: count, done: async.Join(count, state, expiry)})
		case <-doneCh:
			r := inflight[0]
			inflight = inflight[1:]
			err := r.done.Err()
			fmt.Printf("job %s: handled (jobs so far %d, err %v)\n", r.job, r.count.Val(), err)
			if err != nil {
				return fmt.Errorf("job %s: %w", r.job, err)
			}
			if handled++; maxJobs > 0 && handled >= maxJobs {
				return nil
			}
			if handled < maxJobs {
				c.Publish(ctx, "jobs", fmt.Sprint(handled+3))
			}
		case ev, open := <-s.Events():
			if !open {
				return nil // the sentinel client was closed
			}
			fmt.Printf("topology: %s %s %s%v\n", ev.Kind, ev.Name, ev.Addr, ev.Addrs)
		}
	}
}
