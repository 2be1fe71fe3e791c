package protocol

import (
	"bufio"
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendCommandRoundTrip(t *testing.T) {
	buf, err := AppendCommand(nil, "SET", []byte("k\r\n"), 42, int64(-7), uint8(3), 1.5, math.Inf(1), true, 1500*time.Millisecond, nil)
	require.NoError(t, err)
	v, err := NewReader(bufio.NewReader(bytes.NewReader(buf)), Limits{}).Read()
	require.NoError(t, err)
	var got []string
	for _, e := range v.Elems {
		got = append(got, e.Str)
	}
	assert.Equal(t, []string{"SET", "k\r\n", "42", "-7", "3", "1.5", "+inf", "1", "1500", ""}, got)
}

func TestAppendArgRejectsUnknownTypes(t *testing.T) {
	_, err := AppendArg(nil, struct{}{})
	assert.ErrorContains(t, err, "unsupported argument type")
}

func TestAppendNoAllocations(t *testing.T) {
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendArrayHeader(buf[:0], 4)
		b = AppendString(b, "SET")
		b = AppendString(b, "key")
		b = AppendInt(b, 12345)
		b = AppendFloat(b, 2.5)
		_ = b
	})
	assert.Zero(t, allocs)
}

type nilStringer struct{ s string }

func (n *nilStringer) String() string { return n.s }

func TestAppendArgNilStringerIsAnError(t *testing.T) {
	var p *nilStringer
	_, err := AppendCommand(nil, "SET", "k", p)
	assert.ErrorContains(t, err, "nil")
	buf, err := AppendCommand(nil, "SET", "k", &nilStringer{"v"})
	require.NoError(t, err)
	assert.Contains(t, string(buf), "$1\r\nv\r\n")
}
