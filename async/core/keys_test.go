package core

import (
	"testing"

	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeysOfEveryForm(t *testing.T) {
	for _, tt := range []struct {
		args []any
		keys []string
	}{
		{[]any{"GET", "k"}, []string{"k"}},
		{[]any{"PING"}, nil},
		{[]any{"INFO", "server"}, nil},
		{[]any{"MGET", "a", "b", "c"}, []string{"a", "b", "c"}},
		{[]any{"MSET", "a", "1", "b", "2"}, []string{"a", "b"}},
		{[]any{"RENAME", "a", "b"}, []string{"a", "b"}},
		{[]any{"BLPOP", "a", "b", "0"}, []string{"a", "b"}},
		{[]any{"LMPOP", "2", "a", "b", "LEFT"}, []string{"a", "b"}},
		{[]any{"BLMPOP", "0", "2", "a", "b", "LEFT"}, []string{"a", "b"}},
		{[]any{"ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"}, []string{"dst", "a", "b"}},
		{[]any{"EVAL", "return 1", "2", "a", "b", "arg"}, []string{"a", "b"}},
		{[]any{"EVAL", "return 1", "0"}, nil},
		{[]any{"XREAD", "COUNT", "1", "STREAMS", "s1", "s2", "0", "0"}, []string{"s1", "s2"}},
		{[]any{"BITOP", "AND", "dst", "a", "b"}, []string{"dst", "a", "b"}},
		{[]any{"OBJECT", "ENCODING", "k"}, []string{"k"}},
		{[]any{"SUNIONSTORE", "dst", "a"}, []string{"dst", "a"}},
	} {
		cmd := NewCommand()
		buf, err := protocol.AppendCommand(cmd.Buf, tt.args...)
		require.NoError(t, err)
		cmd.Buf = buf
		var got []string
		for _, k := range cmd.Keys() {
			got = append(got, string(k))
		}
		assert.Equal(t, tt.keys, got, "%v", tt.args)
		if len(tt.keys) > 1 {
			assert.True(t, MultiKey(cmd.Name()), "%v: Keys must be asked", tt.args)
		}
		cmd.Release()
	}
}

// RouteKey reads a command's first key and whether it may have more.
func TestRouteKey(t *testing.T) {
	for _, tt := range []struct {
		args  []any
		key   string // "" for none
		multi bool
	}{
		{[]any{"GET", "k"}, "k", false}, {[]any{"set", "k", "v"}, "k", false}, {[]any{"MGET", "a", "b"}, "a", true},
		{[]any{"PING"}, "", false}, {[]any{"DEL", "a"}, "a", true}, {[]any{"EVAL", "return 1", "1", "k"}, "k", true},
		{[]any{"EVAL", "return 1", "0"}, "", true}, {[]any{"XREAD", "COUNT", "1", "STREAMS", "s", "0"}, "s", true},
		{[]any{"BLMPOP", "0", "1", "l", "LEFT"}, "l", true}, {[]any{"OBJECT", "ENCODING", "k"}, "k", false},
		{[]any{"GET"}, "", false},
	} {
		cmd := NewCommand()
		buf, err := protocol.AppendCommand(cmd.Buf, tt.args...)
		require.NoError(t, err)
		cmd.Buf = buf
		key, multi, ok := cmd.RouteKey()
		assert.Equal(t, tt.key != "", ok, "%v", tt.args)
		assert.Equal(t, tt.key, string(key), "%v", tt.args)
		assert.Equal(t, tt.multi, multi, "%v", tt.args)
		assert.Equal(t, MultiKey(cmd.Name()), multi, "%v", tt.args)
		cmd.Release()
	}
}
