package managedpool

import (
	"context"
	"testing"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/async/core/coretest"
	"github.com/stretchr/testify/assert"
)

// A command's entry passes every capability of the caller's sink on
// (the pull shortcut and reply-array reuse through a managed pool); its
// Requeue is its own: it sends the command to the next address.
func TestEntryForwardsCapabilities(t *testing.T) {
	inner := &coretest.Inner{}
	p := New(Config{})
	defer p.Close()
	e := &entry{Wrapper: core.Wrapper{Inner: inner}, p: p, ctx: context.Background()}
	assert.Equal(t, map[string]bool{"SetPull": true, "Resolved": true, "Consumes": true, "Offer": true},
		coretest.Forwarded(e, inner, false))
}
