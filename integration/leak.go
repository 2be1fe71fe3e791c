package integration

import (
	"testing"

	"go.uber.org/goleak"
)

// dockerIdle ignores the idle keep-alive connections of the Docker
// client the harness uses; they belong to the process, not to a test.
var dockerIdle = []goleak.Option{
	goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
}

// CheckGoroutines fails tb if, when tb ends (after its other cleanups),
// goroutines started during it are still running (goleak, with the
// Docker client's idle connections ignored).
func CheckGoroutines(tb testing.TB) {
	tb.Helper()
	opts := append([]goleak.Option{goleak.IgnoreCurrent()}, dockerIdle...)
	tb.Cleanup(func() { goleak.VerifyNone(tb, opts...) })
}

// LeakCheckMain runs a package's tests and then fails the run if any
// goroutine is left (goleak.VerifyTestMain, with the Docker client's idle
// connections ignored). It is for packages with parallel tests, where a
// per-test check would see the other tests' goroutines:
//
//	func TestMain(m *testing.M) { integration.LeakCheckMain(m) }
func LeakCheckMain(m *testing.M) { goleak.VerifyTestMain(m, dockerIdle...) }
