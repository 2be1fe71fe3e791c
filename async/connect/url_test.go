package connect

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStandaloneURLs(t *testing.T) {
	o, err := ParseURL("redis://alice:s3cret@cache.internal:6380/2?client_name=api&protocol=2&dial_timeout=3&read_timeout=500ms&write_timeout=0&pool_size=20&min_size=2&conn_max_idle_time=1m")
	require.NoError(t, err)
	assert.Equal(t, KindStandalone, o.Kind)
	p := o.Pool
	assert.Equal(t, "cache.internal:6380", p.Addr)
	assert.Equal(t, "alice", p.Username)
	assert.Equal(t, "s3cret", p.Password)
	assert.Equal(t, 2, p.DB)
	assert.Equal(t, "api", p.ClientName)
	assert.Equal(t, 2, p.Protocol)
	assert.Equal(t, 3*time.Second, p.DialTimeout)
	assert.Equal(t, 500*time.Millisecond, p.ReadTimeout)
	assert.Equal(t, time.Duration(-1), p.WriteTimeout, "0 disables it")
	assert.Equal(t, 20, p.MaxSize)
	assert.Equal(t, 2, p.MinSize)
	assert.Equal(t, time.Minute, p.IdleTimeout)
	assert.Nil(t, p.TLS)

	o, err = ParseURL("redis://localhost")
	require.NoError(t, err)
	assert.Equal(t, "localhost:6379", o.Pool.Addr, "default port")
	o, err = ParseURL("redis://:pw@[::1]")
	require.NoError(t, err)
	assert.Equal(t, "[::1]:6379", o.Pool.Addr)
	assert.Equal(t, "", o.Pool.Username)
	assert.Equal(t, "pw", o.Pool.Password)
	o, err = ParseURL("redis://h?db=5")
	require.NoError(t, err)
	assert.Equal(t, 5, o.Pool.DB)

	o, err = ParseURL("rediss://h:6390?skip_verify=true")
	require.NoError(t, err)
	require.NotNil(t, o.Pool.TLS)
	assert.True(t, o.Pool.TLS.InsecureSkipVerify)

	o, err = ParseURL("unix://:pw@/var/run/redis.sock?db=3")
	require.NoError(t, err)
	assert.Equal(t, "/var/run/redis.sock", o.Pool.Addr)
	assert.Equal(t, "unix", o.Pool.Network)
	assert.Equal(t, 3, o.Pool.DB)
	assert.Equal(t, "pw", o.Pool.Password)
}

func TestParseSentinelURLs(t *testing.T) {
	// go-redis' failover form: the URL's credentials are the sentinels',
	// username and password the data nodes'.
	o, err := ParseURL("redis://sentuser:sentpw@s1:26380/1?master_name=mymaster&addr=s2:26379&addr=s3:26379&username=app&password=apppw&replica_only=true&sentinel_timeout=200ms")
	require.NoError(t, err)
	assert.Equal(t, KindSentinel, o.Kind)
	assert.Equal(t, "mymaster", o.MasterName)
	assert.Equal(t, []string{"s1:26380", "s2:26379", "s3:26379"}, o.Sentinel.Sentinels)
	assert.Equal(t, "sentuser", o.Sentinel.Sentinel.Username)
	assert.Equal(t, "sentpw", o.Sentinel.Sentinel.Password)
	assert.Equal(t, "app", o.Pool.Username)
	assert.Equal(t, "apppw", o.Pool.Password)
	assert.Equal(t, 1, o.Pool.DB)
	assert.Equal(t, core.ReadReplica, o.Reads)
	assert.Equal(t, 200*time.Millisecond, o.Sentinel.SentinelTimeout)

	o, err = ParseURL("rediss+sentinel://s1?master_name=m&reads=replica_preferred")
	require.NoError(t, err)
	assert.Equal(t, []string{"s1:26379"}, o.Sentinel.Sentinels, "a sentinel's default port")
	assert.NotNil(t, o.Pool.TLS)
	assert.NotNil(t, o.Sentinel.Sentinel.TLS)
	assert.Equal(t, core.ReadReplicaPreferred, o.Reads)

	o, err = ParseFailoverURL("redis://s1:26379?master_name=m")
	require.NoError(t, err)
	assert.Equal(t, KindSentinel, o.Kind)
	_, err = ParseFailoverURL("redis://s1:26379")
	assertBad(t, err, "master_name")
}

func TestParseClusterURLs(t *testing.T) {
	o, err := ParseURL("redis+cluster://u:pw@n1:7000?addr=n2:7001&addr=n3:7002&read_only=true&max_redirects=5&max_retries=3&min_retry_backoff=10ms&max_retry_backoff=1")
	require.NoError(t, err)
	assert.Equal(t, KindCluster, o.Kind)
	assert.Equal(t, []string{"n1:7000", "n2:7001", "n3:7002"}, o.Cluster.Seeds)
	assert.Equal(t, "u", o.Pool.Username)
	assert.Equal(t, "pw", o.Pool.Password)
	assert.Equal(t, core.ReadReplicaPreferred, o.Reads)
	assert.Equal(t, 5, o.Cluster.MaxRedirects)
	assert.Equal(t, 3, o.Cluster.MaxRetries)
	assert.Equal(t, 10*time.Millisecond, o.Cluster.RetryBackoff)
	assert.Equal(t, time.Second, o.Cluster.MaxRetryBackoff)

	o, err = ParseClusterURL("redis://n1:7000?addr=n2:7001&route_randomly=true")
	require.NoError(t, err)
	assert.Equal(t, KindCluster, o.Kind)
	assert.Equal(t, []string{"n1:7000", "n2:7001"}, o.Cluster.Seeds)
	assert.Equal(t, core.ReadNearest, o.Reads)
}

// assertBad checks err is a URLError naming part.
func assertBad(t *testing.T, err error, part string) {
	t.Helper()
	require.Error(t, err)
	var ue *URLError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, ue.Part, part)
	assert.True(t, errors.Is(err, ErrBadURL))
}

func TestBadURLsNameTheWrongPart(t *testing.T) {
	for _, tt := range []struct{ url, part string }{
		{"", "scheme"},
		{"localhost:6379", "scheme"},
		{"http://h", "scheme"},
		{"redis://h:port", "syntax"},
		{"redis://h/x", "path"},
		{"redis://h/-1", "path"},
		{"unix://", "path"},
		{"unix:///s?master_name=m", "scheme"},
		{"redis://h?db=x", `"db"`},
		{"redis://h?protocol=4", `"protocol"`},
		{"redis://h?dial_timeout=soon", `"dial_timeout"`},
		{"redis://h?dial_timeout=0", `"dial_timeout"`},
		{"redis://h?pool_size=0", `"pool_size"`},
		{"redis://h?pool_size=1&pool_size=2", `"pool_size"`},
		{"redis://h?no_such_option=1", `"no_such_option"`},
		{"redis://h?addr=h2:6379", "addr"},
		{"redis+cluster://h?addr=h2", "addr"},
		{"redis://h?max_redirects=3", `"max_redirects"`},
		{"redis://h?read_only=true", `"read_only"`},
		{"redis://h?skip_verify=true", `"skip_verify"`},
		{"redis+sentinel://h?master_name=m&reads=fastest", `"reads"`},
		{"redis+sentinel://h", "master_name"},
		{"redis://h?replica_only=maybe&master_name=m", `"replica_only"`},
	} {
		t.Run(tt.url, func(t *testing.T) {
			_, err := ParseURL(tt.url)
			assertBad(t, err, tt.part)
		})
	}
}

// No error and no printed configuration shows a password.
func TestPasswordsNeverShow(t *testing.T) {
	const secret = "Zq9-very-secret"
	for _, raw := range []string{
		"redis://u:" + secret + "@h:port",        // url.Parse's own error holds the URL
		"redis://u:" + secret + "@h/x",           // a bad path
		"redis://u:" + secret + "@h?db=x",        // a bad option
		"redis://h?password=" + secret + "&db=x", // the password as an option
		"redis://h?password=" + secret + "&password=" + secret,
		"redis+sentinel://u:" + secret + "@h?password=" + secret,
		"redis%://u:" + secret + "@h",
	} {
		_, err := ParseURL(raw)
		require.Error(t, err, raw)
		assert.NotContains(t, err.Error(), secret, raw)
	}
	for _, raw := range []string{
		"redis://u:" + secret + "@h",
		"redis://h?password=" + secret,
		"redis+sentinel://su:" + secret + "@h?master_name=m&password=" + secret,
		"redis+cluster://u:" + secret + "@h",
	} {
		o, err := ParseURL(raw)
		require.NoError(t, err, raw)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			assert.NotContains(t, fmt.Sprintf(verb, o), secret, verb)
			assert.NotContains(t, fmt.Sprintf(verb, *o), secret, verb)
			assert.NotContains(t, fmt.Sprintf(verb, o.Sentinel), secret, verb)
			assert.NotContains(t, fmt.Sprintf(verb, o.Cluster), secret, verb)
		}
		assert.True(t, strings.Contains(o.String(), "***"), o.String())
	}
}
