package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// summary is the median over rounds of one client, workload, concurrency.
type summary struct {
	opsPerSec, allocs, bytes float64
	p50, p99                 time.Duration
	errors                   int64
}

func median[T any](xs []T, less func(a, b T) int) T {
	s := slices.Clone(xs)
	slices.SortFunc(s, less)
	return s[len(s)/2]
}

func summarize(rs []result) summary {
	cmpF := func(a, b float64) int {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	}
	var ops, allocs, bytes []float64
	var p50, p99 []time.Duration
	var errs int64
	for _, r := range rs {
		ops = append(ops, r.opsPerSec())
		allocs = append(allocs, r.allocsPerOp)
		bytes = append(bytes, r.bytesPerOp)
		p50 = append(p50, r.p50)
		p99 = append(p99, r.p99)
		errs += r.errors
	}
	cmpD := func(a, b time.Duration) int { return cmpF(float64(a), float64(b)) }
	return summary{
		opsPerSec: median(ops, cmpF), allocs: median(allocs, cmpF), bytes: median(bytes, cmpF),
		p50: median(p50, cmpD), p99: median(p99, cmpD), errors: errs,
	}
}

func report(results []result, clients []*client, workloads []workload, concs []int, d time.Duration, rounds int, server string) error {
	get := func(w string, c string, n int) summary {
		var rs []result
		for _, r := range results {
			if r.workload == w && r.client == c && r.concurrency == n {
				rs = append(rs, r)
			}
		}
		return summarize(rs)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark results\n\n")
	fmt.Fprintf(&b, "Reproduce: `cd bench && go run . -duration %v -rounds %d`\n\n", d, rounds)
	fmt.Fprintf(&b, "Run %s on %d CPUs, %s, %s/%s; %s shared by all clients; "+
		"clients alternate A B C per round; figures are medians of %d rounds of %v. Allocations are the whole process's mallocs per operation; the benchmark loop itself allocates nothing (keys prebuilt, latency samples preallocated), so they are the client's.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, server, rounds, d)
	fmt.Fprintf(&b, "Clients: asyncredis (pool defaults), rueidis (auto-pipelining, client cache disabled), go-redis v9 (defaults).\n\n")
	for _, w := range workloads {
		fmt.Fprintf(&b, "## %s\n\n", w.name)
		fmt.Fprintf(&b, "| goroutines | client | ops/s | vs rueidis | vs go-redis | p50 | p99 | allocs/op | B/op | errors |\n")
		fmt.Fprintf(&b, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, n := range concs {
			ru, gr := get(w.name, "rueidis", n), get(w.name, "go-redis", n)
			for _, c := range clients {
				s := get(w.name, c.name, n)
				fmt.Fprintf(&b, "| %d | %s | %.0f | %.2f× | %.2f× | %v | %v | %.1f | %.0f | %d |\n",
					n, c.name, s.opsPerSec, s.opsPerSec/ru.opsPerSec, s.opsPerSec/gr.opsPerSec,
					s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond), s.allocs, s.bytes, s.errors)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("Chart: [getset16.svg](getset16.svg)\n")
	if err := os.MkdirAll("results", 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join("results", "results.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return os.WriteFile(filepath.Join("results", "getset16.svg"), []byte(chart(workloads[0].name, clients, concs, get)), 0o644)
}

// chart draws ops/s per concurrency as grouped bars, one colour a client.
func chart(w string, clients []*client, concs []int, get func(string, string, int) summary) string {
	const width, height, left, bottom, top = 720, 360, 70, 40, 40
	colors := []string{"#d62728", "#1f77b4", "#7f7f7f"}
	maxOps := 0.0
	for _, n := range concs {
		for _, c := range clients {
			maxOps = max(maxOps, get(w, c.name, n).opsPerSec)
		}
	}
	plotH := float64(height - bottom - top)
	group := float64(width-left-20) / float64(len(concs))
	bar := group / float64(len(clients)+1)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="20" font-size="14">%s: operations per second (higher is better)</text>`+"\n", left, w)
	for i := 0; i <= 4; i++ {
		y := float64(height-bottom) - plotH*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.0f" y2="%.0f" stroke="#ddd"/><text x="%d" y="%.0f" text-anchor="end">%.0fk</text>`+"\n",
			left, width-20, y, y, left-5, y+4, maxOps*float64(i)/4/1000)
	}
	for gi, n := range concs {
		x0 := float64(left) + group*float64(gi)
		for ci, c := range clients {
			v := get(w, c.name, n).opsPerSec
			h := plotH * v / maxOps
			fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="%s"/>`+"\n",
				x0+bar*float64(ci)+bar/2, float64(height-bottom)-h, bar-2, h, colors[ci%len(colors)])
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%d goroutines</text>`+"\n", x0+group/2, height-bottom+16, n)
	}
	for ci, c := range clients {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			width-160, top+ci*16, colors[ci%len(colors)], width-145, top+ci*16+9, c.name)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
