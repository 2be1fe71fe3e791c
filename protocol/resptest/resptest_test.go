package resptest_test

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
	"github.com/asyncredis/asyncredis/protocol/resptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlowPartialAndReset(t *testing.T) {
	checkLeaks(t)
	srv := resptest.NewServer(t, func(c *resptest.Conn) {
		args, err := c.ReadCommand()
		if err != nil {
			return
		}
		switch args[0] {
		case "SLOW":
			c.WriteSlowly("$5\r\nhello\r\n", time.Millisecond) // one byte per write
		case "CUT":
			c.WriteRaw("*2\r\n$3\r\nab")
			c.Reset()
		}
	})
	ask := func(cmd string) (protocol.Value, error) {
		nc, err := net.Dial("tcp", srv.Addr)
		require.NoError(t, err)
		defer nc.Close()
		_, err = nc.Write(protocol.AppendString(protocol.AppendArrayHeader(nil, 1), cmd))
		require.NoError(t, err)
		return protocol.NewReader(bufio.NewReader(nc), protocol.Limits{}).Read()
	}
	v, err := ask("SLOW")
	require.NoError(t, err)
	assert.Equal(t, "hello", v.Str)
	_, err = ask("CUT")
	require.Error(t, err)
	assert.NotErrorIs(t, err, io.EOF, "a cut inside a value is not a clean EOF")
	srv.Close()
	srv.Close()
}
