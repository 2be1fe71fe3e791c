package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// summary is the median over the clean rounds (or all, when none was
// clean) of one client, workload and concurrency.
type summary struct {
	opsPerSec, allocs, bytes, writes float64
	cpu, server, p50, p99            time.Duration
	errors, bad                      int64
	clean, rounds                    int
}

func median[T any](xs []T, less func(a, b T) int) T {
	s := slices.Clone(xs)
	slices.SortFunc(s, less)
	return s[len(s)/2]
}

func summarize(all []result) summary {
	var rs []result
	for _, r := range all {
		if !r.loaded() {
			rs = append(rs, r)
		}
	}
	clean := len(rs)
	if clean == 0 {
		rs = all
	}
	if len(rs) == 0 {
		return summary{}
	}
	cmpF := func(a, b float64) int {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	}
	var ops, allocs, bytes, writes []float64
	var cpu, srv, p50, p99 []time.Duration
	var errs, bad int64
	for _, r := range rs {
		ops = append(ops, r.opsPerSec())
		allocs = append(allocs, r.allocsPerOp)
		bytes = append(bytes, r.bytesPerOp)
		writes = append(writes, r.writesPerOp)
		cpu = append(cpu, r.cpuPerOp)
		srv = append(srv, r.serverPerOp)
		p50 = append(p50, r.p50)
		p99 = append(p99, r.p99)
	}
	for _, r := range all {
		errs, bad = errs+r.errors, bad+r.bad
	}
	cmpD := func(a, b time.Duration) int { return cmpF(float64(a), float64(b)) }
	return summary{
		opsPerSec: median(ops, cmpF), allocs: median(allocs, cmpF), bytes: median(bytes, cmpF), writes: median(writes, cmpF),
		cpu: median(cpu, cmpD), server: median(srv, cmpD), p50: median(p50, cmpD), p99: median(p99, cmpD), errors: errs, bad: bad,
		clean: clean, rounds: len(all),
	}
}

// moduleVersion is the version of a dependency this binary was built with.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "?"
}

func report(results []result, clients []string, workloads []workload, concs []int, d time.Duration, rounds int, server, reproduce, out string) error {
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
	fmt.Fprintf(&b, "Reproduce: `%s`\n\n", reproduce)
	fmt.Fprintf(&b, "Run %s on %d CPUs, %s, %s/%s, against %s, shared by all clients. "+
		"Per point and round, each client is created afresh, warmed up, then measured for %v; the order of the clients rotates per round (A B C, B C A, C A B, ...). "+
		"Figures are medians over the clean rounds of %d: a round in which other processes (not this one, not redis-server) used more than %.0f%% of the machine is flagged and left out (the `clean` column). "+
		"Each workload has its own keyspace of %d keys holding values of its stated size; every GET and MGET reply is checked (`bad`). "+
		"CPU is the benchmark process's user+system time per operation (steadier than ops/s on a shared machine); the servers' CPU is that of the redis-server processes per operation, where they run on this machine (— otherwise): on a machine the servers share with the client, ops/s is bounded by the two together; writes are write system calls per operation; allocations are the whole process's mallocs per operation (the benchmark loop allocates nothing), so they are the client's.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, server, d, rounds, 100*loadedShare, keys)
	fmt.Fprintf(&b, "Clients:\n\n")
	versions := map[string]string{"rueidis": moduleVersion("github.com/redis/rueidis"), "go-redis": moduleVersion("github.com/redis/go-redis/v9")}
	for _, c := range clients {
		v := versions[c]
		if v == "" {
			v = "(this module)"
		}
		fmt.Fprintf(&b, "- %s %s: %s\n", c, v, settings[c])
	}
	b.WriteString("\n")
	for _, w := range workloads {
		fmt.Fprintf(&b, "## %s\n\n", w.name)
		fmt.Fprintf(&b, "| goroutines | client | ops/s | vs rueidis | vs go-redis | CPU µs/op | servers' CPU µs/op | writes/op | p50 | p99 | allocs/op | B/op | errors | bad | clean |\n")
		fmt.Fprintf(&b, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, n := range concs {
			ru, gr := get(w.name, "rueidis", n), get(w.name, "go-redis", n)
			for _, c := range clients {
				s := get(w.name, c, n)
				srv := "—"
				if s.server > 0 {
					srv = fmt.Sprintf("%.2f", float64(s.server)/1e3)
				}
				fmt.Fprintf(&b, "| %d | %s | %.0f | %.2f× | %.2f× | %.2f | %s | %.2f | %v | %v | %.1f | %.0f | %d | %d | %d/%d |\n",
					n, c, s.opsPerSec, s.opsPerSec/ru.opsPerSec, s.opsPerSec/gr.opsPerSec, float64(s.cpu)/1e3, srv, s.writes,
					s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond), s.allocs, s.bytes, s.errors, s.bad, s.clean, s.rounds)
			}
		}
		b.WriteString("\n")
	}
	chartFile := filepath.Join(filepath.Dir(out), "getset16.svg")
	if out != "results/results.md" {
		chartFile = strings.TrimSuffix(out, ".md") + ".svg"
	}
	fmt.Fprintf(&b, "Chart: [%s](%s)\n", filepath.Base(chartFile), filepath.Base(chartFile))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return os.WriteFile(chartFile, []byte(chart(workloads[0].name, clients, concs, get)), 0o644)
}

// chart draws ops/s per concurrency as grouped bars, one colour a client.
func chart(w string, clients []string, concs []int, get func(string, string, int) summary) string {
	const width, height, left, bottom, top = 720, 360, 70, 40, 40
	colors := []string{"#d62728", "#1f77b4", "#7f7f7f"}
	maxOps := 0.0
	for _, n := range concs {
		for _, c := range clients {
			maxOps = max(maxOps, get(w, c, n).opsPerSec)
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
			v := get(w, c, n).opsPerSec
			h := plotH * v / maxOps
			fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="%s"/>`+"\n",
				x0+bar*float64(ci)+bar/2, float64(height-bottom)-h, bar-2, h, colors[ci%len(colors)])
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%d goroutines</text>`+"\n", x0+group/2, height-bottom+16, n)
	}
	for ci, c := range clients {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			width-160, top+ci*16, colors[ci%len(colors)], width-145, top+ci*16+9, c)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
