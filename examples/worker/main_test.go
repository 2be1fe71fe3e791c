package main

import (
	"context"
	"testing"

	"github.com/asyncredis/asyncredis/integration"
)

func TestWorker(t *testing.T) {
	integration.RequireDocker(t)
	t.Setenv("REDIS_SENTINELS", "")
	if err := run(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
}
