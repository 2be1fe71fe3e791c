package pool

import (
	"testing"

	"go.uber.org/goleak"
)

// checkLeaks fails t if goroutines started during the test are still
// running once the test and its other cleanups have finished.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

// CheckLeaks lets the external test package use checkLeaks.
var CheckLeaks = checkLeaks
