package main

import (
	"context"
	"testing"

	"github.com/asyncredis/asyncredis/integration"
)

// The README's main command, run as a test: sandbox up, writes and reads,
// forced failover followed, sandbox removed.
func TestQuickstart(t *testing.T) {
	integration.RequireDocker(t)
	t.Setenv("REDIS_SENTINELS", "")
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
