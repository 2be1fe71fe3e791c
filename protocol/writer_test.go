package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendCommandRoundTrip(t *testing.T) {
	buf, err := AppendCommand(nil, "SET", []byte("k\r\n"), 42, int64(-7), uint8(3), 1.5, math.Inf(1), true, nil)
	require.NoError(t, err)
	v, err := NewReader(bufio.NewReader(bytes.NewReader(buf)), Limits{}).Read()
	require.NoError(t, err)
	var got []string
	for _, e := range v.Elems {
		got = append(got, e.Str)
	}
	assert.Equal(t, []string{"SET", "k\r\n", "42", "-7", "3", "1.5", "+inf", "1", ""}, got)
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

type stringer struct{ s string }

func (n stringer) String() string { return n.s }

// Values with no single Redis encoding are refused, not guessed at:
// 5*time.Second used to go out as "5000".
func TestAppendArgRefusesAmbiguousTypes(t *testing.T) {
	for _, a := range []any{5 * time.Second, stringer{"v"}, &stringer{"v"}, time.Unix(0, 0), struct{}{}, []string{"a"}} {
		buf, err := AppendCommand(nil, "SET", "k", a)
		var ae *ArgError
		require.ErrorAs(t, err, &ae, "%T", a)
		assert.Equal(t, reflect.TypeOf(a).String(), ae.Type)
		assert.NotContains(t, err.Error(), "\n")
		assert.NotContains(t, string(buf), "$4\r\n5000")
	}
}

// A string passed as an any is not copied to the heap on its way in.
func TestAppendArgKeepsNothing(t *testing.T) {
	val := strings.Repeat("v", 16)
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = AppendArg(buf[:0], val)
	})
	assert.Zero(t, allocs)
}

type point struct{ x, y int }

func (p point) MarshalBinary() ([]byte, error) { return fmt.Appendf(nil, "%d,%d", p.x, p.y), nil }

type broken struct{}

func (broken) MarshalBinary() ([]byte, error) { return nil, errors.New("cannot") }

// A value that says how it is encoded (encoding.BinaryMarshaler) is sent
// so; one whose MarshalBinary fails is refused with that error.
func TestAppendArgTakesBinaryMarshalers(t *testing.T) {
	buf, err := AppendCommand(nil, "SET", "k", point{3, 4})
	require.NoError(t, err)
	assert.Equal(t, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n3,4\r\n", string(buf))
	_, err = AppendCommand(nil, "SET", "k", broken{})
	var ae *ArgError
	require.ErrorAs(t, err, &ae)
	assert.Contains(t, err.Error(), "cannot")
}
