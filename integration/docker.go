package integration

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// verboseEnv names the environment variable that, set to any value, lets
// testcontainers-go print its progress lines.
const verboseEnv = "ASYNCREDIS_HARNESS_VERBOSE"

func init() {
	// The reaper's image lives in a registry; where none can be reached,
	// starting it would fail every test. The harness removes what it starts.
	if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !set {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	if os.Getenv(verboseEnv) == "" {
		tclog.SetDefault(quietLogger{})
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

var docker struct {
	mu  sync.Mutex // guards the fields below
	cli *testcontainers.DockerClient
}

// dockerClient returns the shared Docker client, creating it on first use.
func dockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	docker.mu.Lock()
	defer docker.mu.Unlock()
	if docker.cli != nil {
		return docker.cli, nil
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("integration: docker client: %w", err)
	}
	docker.cli = cli
	return cli, nil
}

// DockerAvailable reports whether a Docker engine answers within a few
// seconds, and why not when it does not.
func DockerAvailable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	if _, err := cli.Ping(ctx); err != nil {
		return fmt.Errorf("integration: docker engine not reachable: %w", err)
	}
	return nil
}

// RequireDocker skips tb with one line when no Docker engine is reachable,
// except when CI=true, where the missing engine fails the test instead.
func RequireDocker(tb testing.TB) {
	tb.Helper()
	err := DockerAvailable(context.Background())
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("integration tests need Docker and CI=true: %v", err)
	}
	tb.Skipf("skipping integration test: %v", err)
}
