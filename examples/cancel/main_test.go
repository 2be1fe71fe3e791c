package main

import (
	"context"
	"testing"

	"github.com/asyncredis/asyncredis/integration"
)

func TestCancel(t *testing.T) {
	integration.RequireDocker(t)
	t.Setenv("REDIS_ADDR", "")
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
