package integration

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ownPackages are the packages whose goroutines must not outlive Close.
var ownPackages = []string{
	"asyncredis/asyncredis/protocol.",
	"asyncredis/asyncredis/async.",
	"asyncredis/asyncredis/pool.",
	"asyncredis/asyncredis/managedpool.",
	"asyncredis/asyncredis/sentinel.",
}

// CheckGoroutines fails tb if, when tb ends (after its other cleanups),
// goroutines started by the project's packages are still running. It
// waits up to two seconds for them to exit, since a closing goroutine
// may still be unwinding.
func CheckGoroutines(tb testing.TB) {
	tb.Helper()
	tb.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			leaked := ownGoroutines()
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				tb.Errorf("%d goroutine(s) leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// ownGoroutines returns the stacks of running goroutines that have a frame
// in the project's packages, other than test functions.
func ownGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		s := string(g)
		if strings.Contains(s, "testing.tRunner") || strings.Contains(s, "integration.ownGoroutines") {
			continue
		}
		for _, p := range ownPackages {
			if strings.Contains(s, p) {
				out = append(out, fmt.Sprint(s))
				break
			}
		}
	}
	return out
}

// LeakCheckMain runs a package's tests and then fails the run if
// goroutines of the project's packages are still running. It is for
// packages with parallel tests, where a per-test check would see the other
// tests' goroutines:
//
//	func TestMain(m *testing.M) { integration.LeakCheckMain(m) }
func LeakCheckMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(5 * time.Second)
		for {
			leaked := ownGoroutines()
			if len(leaked) == 0 {
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "FAIL: %d goroutine(s) leaked after all tests:\n%s\n", len(leaked), strings.Join(leaked, "\n\n"))
				code = 1
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	os.Exit(code)
}
