package sentinel

import (
	"fmt"
	"testing"

	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigMasksSecretsForEveryVerb(t *testing.T) {
	cfg := Config{Sentinels: []string{"s:26379"}, Pool: pool.Config{Password: "data-secret"}, Sentinel: pool.Config{Password: "sentinel-secret"}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		for _, v := range []any{cfg, &cfg} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, "data-secret", verb)
			assert.NotContains(t, out, "sentinel-secret", verb)
			assert.Contains(t, out, "s:26379", verb)
		}
	}
}

func TestLimitsReachEveryConnection(t *testing.T) {
	lim := protocol.Limits{MaxBulkLen: 1 << 10, MemorySlack: 1 << 20}
	slim := protocol.Limits{MaxDepth: 8}
	cfg, err := Config{Sentinels: []string{"s:26379"}, Pool: pool.Config{Limits: lim}, Sentinel: pool.Config{Limits: slim}}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, lim, cfg.dataConfig("a:1").Limits)
	assert.Equal(t, slim, cfg.sentinelConfig("s:26379").Limits)
}
