package async

import (
	"context"
	"testing"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func encoded(t *testing.T, args ...any) *core.Command {
	t.Helper()
	cmd := core.NewCommand()
	var err error
	cmd.Buf, err = protocol.AppendCommand(cmd.Buf, args...)
	require.NoError(t, err)
	return cmd
}

func TestKeySlot(t *testing.T) {
	// Known Redis Cluster slots (CLUSTER KEYSLOT, as Redis' docs show).
	assert.EqualValues(t, 12182, core.Slot([]byte("foo")))
	assert.EqualValues(t, 11058, core.Slot([]byte("somekey")))
	assert.EqualValues(t, 2515, core.Slot([]byte("foo{hash_tag}")))
	assert.EqualValues(t, core.Slot([]byte("user")), core.Slot([]byte("{user}:1")), "hash tag")
	assert.EqualValues(t, core.Slot([]byte("{}x")), core.Slot([]byte("{}x")))
	assert.NotEqual(t, core.Slot([]byte("a{}b")), core.Slot([]byte("b")), "an empty tag hashes the whole key")

	for _, tt := range []struct {
		args []any
		key  string // "" for keyless
	}{
		{[]any{"GET", "foo"}, "foo"},
		{[]any{"set", "foo", "v"}, "foo"},
		{[]any{"MGET", "foo", "bar"}, "foo"},
		{[]any{"PING"}, ""},
		{[]any{"EVALSHA", "abc", 1, "foo", "x"}, "foo"},
		{[]any{"EVAL", "return 1", 0}, ""},
		{[]any{"XREAD", "COUNT", 1, "STREAMS", "foo", "0"}, "foo"},
		{[]any{"BLMPOP", 0, 2, "foo", "bar", "LEFT"}, "foo"},
		{[]any{"ZUNION", 2, "foo", "bar"}, "foo"},
		{[]any{"OBJECT", "ENCODING", "foo"}, "foo"},
	} {
		want := uint16(0)
		if tt.key != "" {
			want = core.Slot([]byte(tt.key))
		}
		assert.Equal(t, want, encoded(t, tt.args...).KeySlot(), "%v", tt.args)
	}
}

func TestUndoBlocking(t *testing.T) {
	const moveBack = "(the move-back script)"
	arr := func(vs ...protocol.Value) protocol.Value { return protocol.Value{Kind: protocol.KindArray, Elems: vs} }
	for _, tt := range []struct {
		cmd   []any
		reply protocol.Value
		want  []any
	}{
		{[]any{"BLPOP", "a", "b", 0}, arr(bulk("b"), bulk("x")), []any{"LPUSH", "b", "x"}},
		{[]any{"BRPOP", "a", 0}, arr(bulk("a"), bulk("x")), []any{"RPUSH", "a", "x"}},
		{[]any{"BLMOVE", "s", "d", "LEFT", "RIGHT", 0}, bulk("x"), []any{"EVAL", moveBack, 2, "d", "s", "x", "RIGHT", "LEFT"}},
		{[]any{"blmove", "s", "d", "right", "left", 0}, bulk("x"), []any{"EVAL", moveBack, 2, "d", "s", "x", "LEFT", "RIGHT"}},
		{[]any{"BRPOPLPUSH", "s", "d", 0}, bulk("x"), []any{"EVAL", moveBack, 2, "d", "s", "x", "LEFT", "RIGHT"}},
		{[]any{"BZPOPMIN", "z", 0}, arr(bulk("z"), bulk("m"), protocol.Double(1.5)), []any{"ZADD", "z", "1.5", "m"}},
		{[]any{"BLMPOP", 0, 1, "l", "LEFT", "COUNT", 2}, arr(bulk("l"), arr(bulk("a"), bulk("b"))), []any{"LPUSH", "l", "b", "a"}},
		{[]any{"BZMPOP", 0, 1, "z", "MIN"}, arr(bulk("z"), arr(arr(bulk("m"), bulk("2")))), []any{"ZADD", "z", "2", "m"}},
		{[]any{"BLPOP", "a", 0}, protocol.Value{Kind: protocol.KindNull}, nil},
		{[]any{"XREAD", "BLOCK", 0, "STREAMS", "s", "$"}, arr(), nil},
	} {
		got := core.UndoBlocking(encoded(t, tt.cmd...).Buf, tt.reply)
		if len(tt.want) > 1 && tt.want[1] == moveBack && len(got) > 1 {
			assert.Contains(t, got[1], "LREM", "%v: the put-back script", tt.cmd)
			got[1] = moveBack
		}
		assert.Equal(t, tt.want, got, "%v", tt.cmd)
	}
}

func TestNilInputsAreErrors(t *testing.T) {
	c := NewClient(newManualExec())
	var noCtx context.Context // a nil context is the point of the test
	_, err := c.Get(noCtx, "k").Result()
	assert.ErrorIs(t, err, ErrNilContext)
	_, err = c.Do(noCtx, "GET", "k").Result()
	assert.ErrorIs(t, err, ErrNilContext)
	assert.ErrorIs(t, WaitAll(context.Background(), nil), ErrNilFuture)
	var nilFuture *Future[string]
	assert.ErrorIs(t, WaitAll(context.Background(), nilFuture), ErrNilFuture)
	_, err = WaitAny(context.Background(), nil)
	assert.ErrorIs(t, err, ErrNilFuture)
	assert.ErrorIs(t, Join(nil).Err(), ErrNilFuture)
	for range AsCompleted(context.Background(), nil) {
		t.Fatal("nothing to yield")
	}
}

func TestDoChecksCommandsBeforeSending(t *testing.T) {
	m := newManualExec()
	c := NewClient(m)
	for _, args := range [][]any{{}, {"subscribe", "x"}, {"MULTI"}, {"select", 1}, {"CLIENT", "REPLY", "OFF"}, {[]byte("MONITOR")}} {
		_, err := c.Do(context.Background(), args...).Result()
		var ce *CommandError
		require.ErrorAs(t, err, &ce, "%v", args)
		assert.ErrorIs(t, err, ErrUnsafeCommand)
	}
	assert.Empty(t, m.cmds, "nothing reached the executor")
	c.Do(context.Background(), "CLIENT", "GETNAME")
	c.Do(context.Background(), "HELLO")
	assert.Len(t, m.cmds, 2, "harmless commands pass")
}
