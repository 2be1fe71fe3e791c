package async

import (
	"math"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConverters(t *testing.T) {
	i := func(n int64) protocol.Value { return protocol.Value{Kind: protocol.KindInteger, Int: n} }
	null := protocol.Value{Kind: protocol.KindNull}
	arr := func(vs ...protocol.Value) protocol.Value { return protocol.Value{Kind: protocol.KindArray, Elems: vs} }

	n, err := ToInt64(bulk("12"))
	require.NoError(t, err)
	assert.EqualValues(t, 12, n)
	_, err = ToInt64(null)
	assert.ErrorIs(t, err, ErrNil)
	_, err = ToInt64(arr())
	var te *TypeError
	assert.ErrorAs(t, err, &te)

	f, err := ToFloat64(bulk("inf"))
	require.NoError(t, err)
	assert.True(t, math.IsInf(f, 1))
	b, err := ToBool(i(1))
	require.NoError(t, err)
	assert.True(t, b)

	m, err := ToStringMap(arr(bulk("a"), bulk("1"), bulk("b"), bulk("2")))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "1", "b": "2"}, m)
	m, err = ToStringMap(protocol.Value{Kind: protocol.KindMap, Elems: []protocol.Value{bulk("x"), bulk("y")}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"x": "y"}, m)

	ns, err := ToNullStrings(arr(bulk("a"), null))
	require.NoError(t, err)
	assert.Equal(t, []NullString{{String: "a", Valid: true}, {}}, ns)

	zs, err := ToZs(arr(bulk("m"), bulk("1.5")))
	require.NoError(t, err)
	assert.Equal(t, []Z{{Member: "m", Score: 1.5}}, zs)
	zs, err = ToZs(arr(arr(bulk("m"), protocol.Double(2))))
	require.NoError(t, err)
	assert.Equal(t, []Z{{Member: "m", Score: 2}}, zs)

	d, err := toTTL(time.Second)(i(-1))
	require.NoError(t, err)
	assert.Equal(t, NoExpiry, d)
	_, err = toTTL(time.Second)(i(-2))
	assert.ErrorIs(t, err, ErrNil)

	r, err := ParseRole(arr(bulk("slave"), bulk("10.0.0.1"), i(6379), bulk("connected"), i(99)))
	require.NoError(t, err)
	assert.Equal(t, Role{Role: "slave", MasterHost: "10.0.0.1", MasterPort: 6379, State: "connected", ReplOffset: 99}, r)

	info := ParseInfo("# Server\r\nredis_version:7.0.15\r\n\r\n# Replication\r\nrole:master\r\n")
	assert.Equal(t, "master", info["replication"]["role"])
	assert.Equal(t, "7.0.15", info.Get("redis_version"))
}
