package pool

import (
	"testing"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/async/core/coretest"
	"github.com/stretchr/testify/assert"
)

// A blocking command's sink forwards the reply and what the caller's sink
// says of itself, but is never pulled, never lets its reply array be
// reused (it may keep the reply for the put-back) and never requeues (the
// pool waits for its Complete): each on purpose, see blocking.go.
func TestBlockingSinkCapabilities(t *testing.T) {
	inner := &coretest.Inner{}
	w := &blockingSink{Wrapper: core.Wrapper{Inner: inner}, done: make(chan struct{})}
	assert.Equal(t, map[string]bool{"SetPull": false, "Resolved": true, "Consumes": false, "Requeue": false, "Offer": true},
		coretest.Forwarded(w, inner, true))
	assert.Zero(t, inner.PullCalls+inner.ConsumesCalls+inner.RequeueCalls, "overridden capabilities do not reach the caller's sink")
}
