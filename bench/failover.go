package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/sentinel"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// Sentinel-aware clients for the failover benchmark.
func sentinelClients(addrs []string, name string) ([]*client, error) {
	s, err := sentinel.New(sentinel.Config{Sentinels: addrs})
	if err != nil {
		return nil, err
	}
	m := s.MasterFor(name)
	ours := &client{name: "asyncredis", set: func(ctx context.Context, k, v string) error { return m.Set(ctx, k, v).Err() },
		read:  func(ctx context.Context, k string) (string, error) { return m.Get(ctx, k).Result() },
		close: func() { s.Close() }}
	ru, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true,
		Sentinel: rueidis.SentinelOption{MasterSet: name}})
	if err != nil {
		s.Close()
		return nil, err
	}
	rc := &client{name: "rueidis", set: func(ctx context.Context, k, v string) error {
		return ru.Do(ctx, ru.B().Set().Key(k).Value(v).Build()).Error()
	}, read: func(ctx context.Context, k string) (string, error) {
		return ru.Do(ctx, ru.B().Get().Key(k).Build()).ToString()
	}, close: ru.Close}
	gr := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: name, SentinelAddrs: addrs})
	gc := &client{name: "go-redis", set: func(ctx context.Context, k, v string) error { return gr.Set(ctx, k, v, 0).Err() },
		read:  func(ctx context.Context, k string) (string, error) { return gr.Get(ctx, k).Result() },
		close: func() { gr.Close() }}
	return []*client{ours, rc, gc}, nil
}

// failoverScenarios are the faults, in the order they run.
var failoverScenarios = []string{"kill", "crash", "disconnect", "failover"}

// failoverSettings describes each client as the failover benchmark makes it.
var failoverSettings = map[string]string{
	"asyncredis": "sentinel.Config{Sentinels} defaults (fence on, pool.Config defaults: DialTimeout 5 s, ReadTimeout 10 s, WriteTimeout 10 s, health check every 1 s), MasterFor",
	"rueidis":    "ClientOption{InitAddress: sentinels, DisableCache: true, Sentinel: {MasterSet}} defaults (Dialer.Timeout 5 s, Dialer.KeepAlive 1 s, ConnWriteTimeout 10 × keep-alive = 10 s)",
	"go-redis":   "NewFailoverClient(&FailoverOptions{MasterName, SentinelAddrs}) defaults (DialTimeout 5 s, ReadTimeout 5 s, WriteTimeout = ReadTimeout, MaxRetries 3)",
}

type failoverResult struct {
	client, scenario   string
	writes, errs       int64
	switchAfterFault   time.Duration
	firstAckAfterSwith time.Duration // first acknowledged write after the first +switch-master (kill only)
	lostAfterSwitch    int           // acknowledged after the first +switch-master, missing on the new master
	lostTotal          int
	longestGap         time.Duration // between consecutive acknowledgements
	failoverTook       time.Duration // +try-failover to +switch-master, as the benchmark heard them
}

type ack struct {
	key        string
	start, end time.Time
	err        error
}

// failoverOnce runs 64 writers through c on a fresh deployment, injects
// the fault and measures what the writers saw.
func failoverOnce(ctx context.Context, which int, scenario string) (failoverResult, error) {
	d, err := integration.StartSentinel(ctx, integration.SentinelConfig{})
	if err != nil {
		return failoverResult{}, err
	}
	defer d.Close(ctx)
	clients, err := sentinelClients(d.SentinelAddrs(), d.Config.MasterName)
	if err != nil {
		return failoverResult{}, err
	}
	for _, c := range clients {
		defer c.close()
	}
	c := clients[which]
	msgs, stopWatch, err := d.Watch(ctx, "+switch-master")
	if err != nil {
		return failoverResult{}, err
	}
	defer stopWatch()
	selected, stopSelected, err := d.Watch(ctx, "+try-failover")
	if err != nil {
		return failoverResult{}, err
	}
	defer stopSelected()

	var acks atomic.Int64
	var mu sync.Mutex
	var all []ack
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []ack
			for i := 0; ; i++ {
				select {
				case <-stop:
					mu.Lock()
					all = append(all, mine...)
					mu.Unlock()
					return
				default:
				}
				a := ack{key: fmt.Sprintf("fo:%d:%d", g, i), start: time.Now()}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				a.err = c.set(cctx, a.key, "v")
				cancel()
				a.end = time.Now()
				if a.err == nil {
					acks.Add(1)
				}
				mine = append(mine, a)
			}
		}()
	}
	waitAcks := func(n int64, limit time.Duration) {
		target := acks.Load() + n
		deadline := time.Now().Add(limit)
		for acks.Load() < target && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	waitAcks(2000, 10*time.Second)
	old := d.Master
	fault := time.Now()
	switch scenario {
	case "kill":
		err = old.Kill(ctx)
	case "crash":
		fault, err = old.Crash(ctx)
	case "disconnect":
		err = old.Disconnect(ctx)
	default:
		err = d.Failover(ctx)
	}
	if scenario != "crash" {
		fault = time.Now()
	}
	if err != nil {
		close(stop)
		wg.Wait()
		return failoverResult{}, err
	}
	var sw integration.SentinelMessage
	select {
	case sw = <-msgs:
	case <-time.After(30 * time.Second):
		close(stop)
		wg.Wait()
		return failoverResult{}, fmt.Errorf("no +switch-master")
	}
	waitAcks(2000, 20*time.Second)
	close(stop)
	wg.Wait()
	sort.Slice(all, func(i, j int) bool { return all[i].end.Before(all[j].end) })

	r := failoverResult{client: c.name, scenario: scenario, switchAfterFault: sw.At.Sub(fault)}
	select {
	case sel := <-selected:
		r.failoverTook = sw.At.Sub(sel.At)
	default: // not heard: the table says so
		r.failoverTook = -1
	}
	r.firstAckAfterSwith = -1
	var last time.Time
	for _, a := range all {
		r.writes++
		if a.err != nil {
			r.errs++
			continue
		}
		if r.firstAckAfterSwith < 0 && a.end.After(sw.At) {
			r.firstAckAfterSwith = a.end.Sub(sw.At)
		}
		if !last.IsZero() && a.end.Sub(last) > r.longestGap {
			r.longestGap = a.end.Sub(last)
		}
		last = a.end
	}
	if scenario == "failover" {
		nm, err := d.WaitForNewMaster(ctx, old.Addr(), 30*time.Second)
		if err != nil {
			return r, err
		}
		p, err := pool.New(pool.Config{Addr: nm.Addr()})
		if err != nil {
			return r, err
		}
		defer p.Close()
		check := async.NewClient(p)
		futs := make([]*async.Future[int64], len(all))
		for i, a := range all {
			if a.err == nil {
				futs[i] = check.Exists(ctx, a.key)
			}
		}
		for i, a := range all {
			if futs[i] == nil {
				continue
			}
			if n, err := futs[i].Result(); err == nil && n == 0 {
				r.lostTotal++
				if a.end.After(sw.At) {
					r.lostAfterSwitch++
				}
			}
		}
	}
	return r, nil
}

// runFailover runs the scenarios named in which (of failoverScenarios,
// and "register" for the linearizability check) and writes the report
// to out.
func runFailover(runs int, which, out string) error {
	ctx := context.Background()
	want := map[string]bool{}
	for _, w := range strings.Split(which, ",") {
		if w = strings.TrimSpace(w); w != "register" && !slices.Contains(failoverScenarios, w) {
			return fmt.Errorf("unknown failover scenario %q", w)
		}
		want[strings.TrimSpace(w)] = true
	}
	failoverScenarios := slices.DeleteFunc(slices.Clone(failoverScenarios), func(s string) bool { return !want[s] })
	var results []failoverResult
	names := []string{"asyncredis", "rueidis", "go-redis"}
	for run := 0; run < runs; run++ {
		for _, scenario := range failoverScenarios {
			for which := range names { // A B C per scenario and run
				r, err := failoverOnce(ctx, which, scenario)
				if err != nil {
					return fmt.Errorf("%s %s: %w", names[which], scenario, err)
				}
				fmt.Fprintf(os.Stderr, "%-8s %-10s writes %6d errors %5d switch %v after fault, first ack %v after switch, lost after switch %d (total %d)\n",
					scenario, r.client, r.writes, r.errs, r.switchAfterFault.Round(time.Millisecond), r.firstAckAfterSwith.Round(100*time.Microsecond), r.lostAfterSwitch, r.lostTotal)
				results = append(results, r)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Failover benchmark\n\nReproduce: `cd bench && go run . -failover -failover-runs %d -failover-scenarios %s -failover-out %s`\n\n", runs, which, out)
	b.WriteString("Each row: a fresh deployment (1 master, 2 replicas, 3 sentinels, down-after 1 s, failover-timeout 3 s), 64 writers doing SET with 10 s deadlines through the client's sentinel support (asyncredis `MasterFor`, rueidis `SentinelOption`, go-redis `NewFailoverClient`, all defaults; asyncredis fences writes from the first `+try-failover`). `kill`: the master's container SIGKILLed — the process dies, so the kernel closes its connections at once (clients see EOF), and its address then answers nothing (the host is gone); `crash`: the same kill, then another container takes the master's address (and hardware address) with nothing listening on its port, so new connections are refused and packets on old ones are answered with resets (a process died on a host that stays up; the address is silent for the fraction of a second that container takes to start); `disconnect`: the master's container cut off the network — the process runs on, packets to and from it are dropped, nothing is closed, so clients notice only by their own timeouts; `failover`: `SENTINEL FAILOVER` with the old master alive. `+try-failover` and the first `+switch-master` are taken from the benchmark's own subscriptions to every sentinel. *Lost after switch*: writes acknowledged after the first `+switch-master` that the new master does not have; *lost in all*: every acknowledged write the new master does not have. *Longest gap*: the longest time between two consecutive acknowledgements; *failover*: `+try-failover` (where asyncredis' fence rises) to `+switch-master`.\n\n")
	b.WriteString("Client settings:\n\n")
	for _, name := range names {
		fmt.Fprintf(&b, "- %s: %s\n", name, failoverSettings[name])
	}
	b.WriteString("\n")
	b.WriteString("## Summary (median — the upper of the two middle runs — and worst)\n\n| scenario | client | runs | errors seen by callers | first ack after first +switch-master | lost in all | runs with lost in all ≤ 64 | longest gap | failover |\n| --- | --- | ---: | --- | --- | --- | ---: | --- | --- |\n")
	for _, scenario := range failoverScenarios {
		for _, name := range names {
			var errs, lostAll []float64
			var acks, gaps, took []time.Duration
			okRuns, n := 0, 0
			for _, r := range results {
				if r.scenario != scenario || r.client != name {
					continue
				}
				n++
				errs = append(errs, float64(r.errs))
				acks = append(acks, r.firstAckAfterSwith)
				gaps = append(gaps, r.longestGap)
				took = append(took, r.failoverTook)
				if scenario == "failover" {
					lostAll = append(lostAll, float64(r.lostTotal))
					if r.lostTotal <= 64 {
						okRuns++
					}
				}
			}
			lost, okCol := "—", "—"
			if scenario == "failover" {
				lost = fmt.Sprintf("%.0f, %.0f", mid(lostAll), worst(lostAll))
				okCol = fmt.Sprintf("%d of %d", okRuns, n)
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %.0f, %.0f | %v, %v | %s | %s | %v, %v | %v |\n", scenario, name, n,
				mid(errs), worst(errs), medianDur(acks).Round(100*time.Microsecond), worstDur(acks).Round(100*time.Microsecond),
				lost, okCol, medianDur(gaps).Round(time.Millisecond), worstDur(gaps).Round(time.Millisecond), medianDur(took).Round(time.Millisecond))
		}
	}
	b.WriteString("\n## Every run\n\n| scenario | client | run | writes | errors seen by callers | first ack after first +switch-master | lost after switch | lost in all | longest gap | failover |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for i, r := range results {
		ack := r.firstAckAfterSwith.Round(100 * time.Microsecond).String()
		lost := "—"
		lostAll := "—"
		if r.scenario == "failover" {
			lost, lostAll = fmt.Sprint(r.lostAfterSwitch), fmt.Sprint(r.lostTotal)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %s | %s | %s | %v | %v |\n", r.scenario, r.client, i/(len(failoverScenarios)*len(names))+1, r.writes, r.errs, ack, lost, lostAll,
			r.longestGap.Round(time.Millisecond), r.failoverTook.Round(time.Millisecond))
	}
	// The register check, in its own deployments, alternating clients.
	type regResult struct {
		client string
		res    porcupine.CheckResult
		ops    int
	}
	var regs []regResult
	for run := 0; run < runs && want["register"]; run++ {
		for which := range names {
			name, res, n, err := registerOnce(ctx, which)
			if err != nil {
				return fmt.Errorf("%s register: %w", names[which], err)
			}
			fmt.Fprintf(os.Stderr, "register %-10s %d operations: %s\n", name, n, res)
			regs = append(regs, regResult{name, res, n})
		}
	}
	if !want["register"] {
		return writeReport(out, b.String())
	}
	b.WriteString("\n## Linearizable register around a manual failover\n\n" +
		"Each run: a fresh deployment, 8 goroutines each doing one SET of a unique value or GET of one key per millisecond through the client, from 300 ms before `SENTINEL FAILOVER` to 1 s after the first `+switch-master`; the history is checked with porcupine (a failed write may have run and stays open; a failed read is dropped).\n\n" +
		"| client | linearizable runs | every run |\n| --- | ---: | --- |\n")
	for _, name := range names {
		ok, n := 0, 0
		var each []string
		for _, r := range regs {
			if r.client != name {
				continue
			}
			n++
			if r.res == porcupine.Ok {
				ok++
			}
			each = append(each, fmt.Sprintf("%s (%d ops)", r.res, r.ops))
		}
		fmt.Fprintf(&b, "| %s | %d of %d | %s |\n", name, ok, n, strings.Join(each, ", "))
	}
	return writeReport(out, b.String())
}

// writeReport prints report and writes it to out.
func writeReport(out, report string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	fmt.Print(report)
	return os.WriteFile(out, []byte(report), 0o644)
}

func mid(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return median(xs, cmp.Compare[float64])
}

func worst(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return slices.Max(xs)
}

func medianDur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return median(ds, cmp.Compare[time.Duration])
}

func worstDur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}
