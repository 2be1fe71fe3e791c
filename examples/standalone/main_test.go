package main

import (
	"context"
	"testing"

	"github.com/asyncredis/asyncredis/integration"
)

// The README's standalone example, run as a test against a server it
// starts itself.
func TestStandalone(t *testing.T) {
	integration.CheckGoroutines(t)
	integration.RequireDocker(t)
	t.Setenv("REDIS_URL", "")
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
