// Command redis-image prepares the Redis image the integration tests run:
// the one named by ASYNCREDIS_REDIS_IMAGE, or one built from the host's
// redis-server when no such image exists yet. It prints the image's name.
//
//	go run ./integration/cmd/redis-image [-rebuild]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/asyncredis/asyncredis/integration"
	"github.com/testcontainers/testcontainers-go"
)

func main() {
	rebuild := flag.Bool("rebuild", false, "rebuild the local image from the host's binaries even if it exists")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, *rebuild); err != nil {
		fmt.Fprintln(os.Stderr, "redis-image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, rebuild bool) error {
	if err := integration.DockerAvailable(ctx); err != nil {
		return err
	}
	if rebuild && os.Getenv(integration.ImageEnv) == "" {
		cli, err := testcontainers.NewDockerClientWithOpts(ctx)
		if err != nil {
			return err
		}
		defer cli.Close()
		if err := integration.BuildLocalImage(ctx, cli, integration.LocalImage); err != nil {
			return err
		}
	}
	name, err := integration.Image(ctx)
	if err != nil {
		return err
	}
	fmt.Println(name)
	return nil
}
