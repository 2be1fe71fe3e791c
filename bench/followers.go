package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/sentinel"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// follower is what the followers benchmark asks of a client: reads from
// replicas, publishes through the master, and a subscriber on the master.
type follower struct {
	name      string
	read      func(ctx context.Context, key string) error
	publish   func(ctx context.Context, ch, msg string) (int64, error)   // the receivers the server counted
	subscribe func(ctx context.Context, ch string, got func(msg string)) // runs until ctx ends
	close     func()
}

// followerSettings describes each client as the followers benchmark makes it.
var followerSettings = map[string]string{
	"asyncredis": "sentinel.Config{Sentinels} defaults; reads through ReplicaFor, publishes through MasterFor, a PubSub on MasterFor",
	"rueidis":    "a master client (SentinelOption{MasterSet}, DisableCache) and a replica client (the same with ReplicaOnly: true); the subscriber calls Receive again after it returns (10 ms later after an error, so that a dead master is not spun on)",
	"go-redis":   "NewFailoverClient for the master and NewFailoverClient with ReplicaOnly: true for reads; Subscribe on the master client (it reconnects by itself)",
}

func followerClients(addrs []string, name string) ([]*follower, error) {
	s, err := sentinel.New(sentinel.Config{Sentinels: addrs})
	if err != nil {
		return nil, err
	}
	m, r := s.MasterFor(name), s.ReplicaFor(name)
	ours := &follower{name: "asyncredis",
		read:      func(ctx context.Context, k string) error { return ignoreNil(r.Get(ctx, k).Err()) },
		publish:   func(ctx context.Context, ch, msg string) (int64, error) { return m.Publish(ctx, ch, msg).Result() },
		subscribe: asyncredisSubscriber(m, false),
		close:     func() { s.Close() }}
	opt := rueidis.ClientOption{InitAddress: addrs, DisableCache: true, Sentinel: rueidis.SentinelOption{MasterSet: name}}
	ru, err := rueidis.NewClient(opt)
	if err != nil {
		s.Close()
		return nil, err
	}
	opt.ReplicaOnly = true
	ruR, err := rueidis.NewClient(opt)
	if err != nil {
		s.Close()
		ru.Close()
		return nil, err
	}
	rc := &follower{name: "rueidis",
		read: func(ctx context.Context, k string) error {
			return ignoreNil(ruR.Do(ctx, ruR.B().Get().Key(k).Build()).Error())
		},
		publish: func(ctx context.Context, ch, msg string) (int64, error) {
			return ru.Do(ctx, ru.B().Publish().Channel(ch).Message(msg).Build()).AsInt64()
		},
		subscribe: rueidisSubscriber(ru, func(ch string) rueidis.Completed { return ru.B().Subscribe().Channel(ch).Build() }),
		close:     func() { ru.Close(); ruR.Close() }}
	gr := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: name, SentinelAddrs: addrs})
	grR := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: name, SentinelAddrs: addrs, ReplicaOnly: true})
	gc := &follower{name: "go-redis",
		read:    func(ctx context.Context, k string) error { return ignoreNil(grR.Get(ctx, k).Err()) },
		publish: func(ctx context.Context, ch, msg string) (int64, error) { return gr.Publish(ctx, ch, msg).Result() },
		subscribe: func(ctx context.Context, ch string, got func(string)) {
			goRedisReceive(ctx, gr.Subscribe(ctx, ch), got)
		},
		close: func() { gr.Close(); grR.Close() }}
	return []*follower{ours, rc, gc}, nil
}

// asyncredisSubscriber subscribes through c (SSUBSCRIBE when sharded)
// and passes each message on until ctx ends.
func asyncredisSubscriber(c *async.Client, sharded bool) func(ctx context.Context, ch string, got func(string)) {
	return func(ctx context.Context, ch string, got func(string)) {
		ps, err := c.PubSub(async.PubSubConfig{Buffer: 1 << 16})
		if err != nil {
			return
		}
		defer ps.Close()
		subscribe, kind := ps.Subscribe, "message"
		if sharded {
			subscribe, kind = ps.SSubscribe, "smessage"
		}
		if subscribe(ctx, ch) != nil {
			return
		}
		for {
			select {
			case msg := <-ps.Messages():
				if msg.Kind == kind {
					got(msg.Payload)
				} else if msg.Kind == async.KindDisconnected || msg.Kind == async.KindResubscribed {
					// On stderr, for reading a missed publish against the
					// subscriber's gaps (the contract allows a miss between
					// these two).
					fmt.Fprintf(os.Stderr, "  asyncredis subscriber: %s at %s (%v)\n", msg.Kind, time.Now().Format("15:04:05.000000"), msg.Err)
				}
			case <-ctx.Done():
				return
			}
		}
	}
}

// rueidisSubscriber calls Receive with the command build makes again
// after it returns (10 ms later after an error, so that a dead node is
// not spun on), until ctx ends.
func rueidisSubscriber(ru rueidis.Client, build func(ch string) rueidis.Completed) func(ctx context.Context, ch string, got func(string)) {
	return func(ctx context.Context, ch string, got func(string)) {
		for ctx.Err() == nil {
			err := ru.Receive(ctx, build(ch), func(m rueidis.PubSubMessage) { got(m.Message) })
			if err != nil && ctx.Err() == nil {
				t := time.NewTimer(10 * time.Millisecond)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
			}
		}
	}
}

// goRedisReceive passes ps's messages on until ctx ends or ps closes.
func goRedisReceive(ctx context.Context, ps *goredis.PubSub, got func(string)) {
	defer ps.Close()
	msgs := ps.Channel()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return
			}
			got(m.Payload)
		case <-ctx.Done():
			return
		}
	}
}

// ignoreNil counts a missing key as a successful read.
func ignoreNil(err error) error {
	if errors.Is(err, async.ErrNil) || errors.Is(err, goredis.Nil) || rueidis.IsRedisNil(err) {
		return nil
	}
	return err
}

type followerResult struct {
	client, scenario string
	reads, readErrs  int64
	readGap          time.Duration // longest time between two successful replica reads
	published        int           // publishes acknowledged
	missed           int           // acknowledged and never received
	missedDelivered  int           // of those, acknowledged with a receiver counted by the server (lost by the subscriber's client, not by Redis)
	silence          time.Duration // longest time between two received messages
}

// followersOnce runs the followers measurement through one client on a
// fresh Sentinel deployment.
func followersOnce(ctx context.Context, which int, scenario string) (followerResult, error) {
	d, err := integration.StartSentinel(ctx, integration.SentinelConfig{})
	if err != nil {
		return followerResult{}, err
	}
	defer d.Close(ctx)
	clients, err := followerClients(d.SentinelAddrs(), d.Config.MasterName)
	if err != nil {
		return followerResult{}, err
	}
	for _, c := range clients {
		defer c.close()
	}
	keys := make([]string, 16)
	for g := range keys {
		keys[g] = "fr:" + strconv.Itoa(g)
	}
	fault := func() error {
		old := d.Master
		var err error
		switch scenario {
		case "kill":
			err = old.Kill(ctx)
		default:
			err = d.Failover(ctx)
		}
		if err == nil {
			_, err = d.WaitForNewMaster(ctx, old.Addr(), 30*time.Second)
		}
		return err
	}
	r, err := measureFollowers(ctx, clients[which], keys, "fr", fault)
	r.scenario = scenario
	return r, err
}

// measureFollowers runs a replica reader per key, a publisher every
// 500 µs and a subscriber to channel through c, calls fault (which
// returns once the new master is in place), goes on until 2 000 more
// messages have arrived and a second more, and reports what readers and
// subscriber saw.
func measureFollowers(ctx context.Context, c *follower, keys []string, channel string, fault func() error) (followerResult, error) {
	r := followerResult{client: c.name}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex // guards the fields below
	lastRead, lastMsg := time.Now(), time.Time{}
	received := map[int]bool{}
	var reads, readErrs atomic.Int64
	for _, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				cctx, cancel := context.WithTimeout(runCtx, 5*time.Second)
				err := c.read(cctx, key)
				cancel()
				if runCtx.Err() != nil {
					return
				}
				now := time.Now()
				if err != nil {
					readErrs.Add(1)
					continue
				}
				reads.Add(1)
				mu.Lock()
				r.readGap = max(r.readGap, now.Sub(lastRead))
				lastRead = now
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.subscribe(runCtx, channel, func(msg string) {
			n, _ := strconv.Atoi(msg)
			now := time.Now()
			mu.Lock()
			received[n] = true
			if !lastMsg.IsZero() {
				r.silence = max(r.silence, now.Sub(lastMsg))
			}
			lastMsg = now
			mu.Unlock()
		})
	}()
	var acked []int
	pubCtx, stopPub := context.WithCancel(runCtx) // the publisher stops first: its last messages are then waited for
	defer stopPub()
	delivered := map[int]bool{} // acknowledged with a receiver counted by the server
	sentAt := map[int]time.Time{}
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for n := 0; pubCtx.Err() == nil; n++ {
			select {
			case <-tick.C:
			case <-pubCtx.Done():
				return
			}
			cctx, cancel := context.WithTimeout(pubCtx, 5*time.Second)
			sent := time.Now()
			if got, err := c.publish(cctx, channel, strconv.Itoa(n)); err == nil {
				acked = append(acked, n)
				sentAt[n] = sent
				if got > 0 {
					delivered[n] = true
				}
			}
			cancel()
		}
	}()
	waitFor := func(cond func() bool, limit time.Duration) bool {
		deadline := time.Now().Add(limit)
		for !cond() {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(time.Millisecond)
		}
		return true
	}
	var err error
	ok := waitFor(func() bool { mu.Lock(); defer mu.Unlock(); return len(received) > 200 }, 30*time.Second)
	if ok {
		// Then 2 000 messages more on the new master and a second:
		// readers and subscriber settle.
		if err = fault(); err == nil {
			mu.Lock()
			n := len(received)
			mu.Unlock()
			waitFor(func() bool { mu.Lock(); defer mu.Unlock(); return len(received) > n+2000 }, 30*time.Second)
			time.Sleep(time.Second) // the run's length after the switch, not synchronisation
		}
	}
	// The publisher stops, then the subscriber has a moment for what is
	// on its way (a publish acknowledged just before the end is otherwise
	// counted missed, for every client), then everything stops.
	stopPub()
	<-pubDone
	waitFor(func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range acked[max(len(acked)-100, 0):] {
			if !received[n] {
				return false
			}
		}
		return true
	}, time.Second)
	stop()
	wg.Wait()
	if !ok {
		return r, fmt.Errorf("no messages before the fault")
	}
	if err != nil {
		return r, err
	}
	r.reads, r.readErrs = reads.Load(), readErrs.Load()
	// The publisher starts with the subscriber, before its subscription
	// is in place: what is published before the first message the
	// subscriber got was published to nobody (a diagnostic run found
	// every earlier "missed" publish there, for every client).
	first := -1
	for n := range received {
		if first < 0 || n < first {
			first = n
		}
	}
	for _, n := range acked {
		if n < first {
			continue
		}
		r.published++
		if !received[n] {
			fmt.Fprintf(os.Stderr, "  %s: publish %d sent at %s acknowledged, never received\n", c.name, n, sentAt[n].Format("15:04:05.000000"))
			r.missed++
			if delivered[n] {
				r.missedDelivered++
			}
		}
	}
	return r, nil
}

// runFollowers runs the followers benchmark (scenarios kill and failover,
// the clients alternating) and writes the report to out.
func runFollowers(runs int, out string) error {
	results, err := followerRounds(runs, []string{"kill", "failover"}, func(which int, scenario string) (followerResult, error) {
		return followersOnce(context.Background(), which, scenario)
	})
	if err != nil {
		return err
	}
	head := fmt.Sprintf("# Replica reads and subscribers through a failover\n\nReproduce: `cd bench && go run . -followers -followers-runs %d -followers-out %s`\n\n", runs, out) +
		"Each row: a fresh deployment (1 master, 2 replicas, 3 sentinels, down-after 1 s), 16 goroutines reading through the client's replica reads, one publishing every 500 µs through its master client, one subscriber on the master client. `kill`: the master's container SIGKILLed; `failover`: `SENTINEL FAILOVER`. " + followerColumns
	return writeReport(out, followerReport(head, followerSettings, results))
}

// followerColumns explains the report's columns.
const followerColumns = "*Longest read gap*: the longest time between two successful replica reads (any goroutine); *acknowledged publishes*: from the first message the subscriber received on (the publisher starts before the subscription is in place); *missed*: of those, the ones the subscriber never received (what is published while it is not subscribed on the master that took the publish is gone: Redis keeps nothing for absent subscribers); *of them with a receiver*: the missed publishes whose reply counted a receiver (the server passed them to a subscriber connection: lost on the client's side, unless another subscriber was counted); *longest silence*: between two messages received.\n\n"

// followerNames are the clients of the followers benchmarks, in the
// order they alternate.
var followerNames = []string{"asyncredis", "rueidis", "go-redis"}

// followerRounds runs once for every run, scenario and client, the
// clients alternating.
func followerRounds(runs int, scenarios []string, once func(which int, scenario string) (followerResult, error)) ([]followerResult, error) {
	var results []followerResult
	for range runs {
		for _, scenario := range scenarios {
			for which, name := range followerNames {
				r, err := once(which, scenario)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", name, scenario, err)
				}
				fmt.Fprintf(os.Stderr, "%-8s %-10s reads %7d errors %5d longest gap %v; published %d, missed %d (%d with a receiver counted), longest silence %v\n",
					scenario, r.client, r.reads, r.readErrs, r.readGap.Round(time.Millisecond), r.published, r.missed, r.missedDelivered, r.silence.Round(time.Millisecond))
				results = append(results, r)
			}
		}
	}
	return results, nil
}

// followerReport is a followers report: head, the client settings, a
// row per run.
func followerReport(head string, settings map[string]string, results []followerResult) string {
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("Client settings:\n\n")
	for _, name := range followerNames {
		fmt.Fprintf(&b, "- %s: %s\n", name, settings[name])
	}
	perRun := map[string]int{}
	b.WriteString("\n| scenario | client | run | reads | read errors | longest read gap | acknowledged publishes | missed | of them with a receiver | longest silence |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		perRun[r.scenario+r.client]++
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %v | %d | %d | %d | %v |\n", r.scenario, r.client, perRun[r.scenario+r.client], r.reads, r.readErrs,
			r.readGap.Round(time.Millisecond), r.published, r.missed, r.missedDelivered, r.silence.Round(time.Millisecond))
	}
	return b.String()
}
