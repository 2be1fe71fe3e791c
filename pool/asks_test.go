package pool

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/asyncredis/asyncredis/protocol/resptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replySink hands its reply to a channel.
type replySink chan protocol.Value

func (s replySink) Complete(v protocol.Value, err error) {
	if err != nil {
		v = protocol.Value{Kind: protocol.KindError, Str: "client: " + err.Error()}
	}
	s <- v
}

// A subscriber connection tells a refused subscription command from an
// error reply to a command awaiting one by their order: each error goes
// to the command it answers, the refusal reaches onPush once per name,
// and the connection stays, as do its subscriptions.
func TestSubscriberMatchesRefusalsToTheirCommands(t *testing.T) {
	srv := resptest.NewServer(t, resptest.Handler(func(args []string) string {
		switch strings.ToUpper(args[0]) {
		case "HELLO":
			return "%0\r\n"
		case "CLIENT":
			return ":7\r\n"
		case "ECHO":
			return "-ERR echo refused\r\n"
		case "SUBSCRIBE":
			if args[len(args)-1] == "denied" {
				return "-NOPERM no access to 'denied'\r\n"
			}
			out := ""
			for _, ch := range args[1:] {
				out += ">3\r\n$9\r\nsubscribe\r\n$" + itoa(len(ch)) + "\r\n" + ch + "\r\n:1\r\n"
			}
			return out
		}
		return ""
	}))
	p, err := New(Config{Addr: srv.Addr, MaxSize: 1})
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pushes := make(chan protocol.Value, 16)
	sc, err := p.Subscriber(ctx, func(v protocol.Value) { pushes <- v })
	require.NoError(t, err)
	defer sc.Close()

	recv := func(ch <-chan protocol.Value) protocol.Value {
		t.Helper()
		select {
		case v := <-ch:
			return v
		case <-ctx.Done():
			t.Fatal("nothing came")
			return protocol.Value{}
		}
	}
	send := func(noReply bool, args ...any) replySink {
		cmd := core.NewCommand()
		cmd.Buf, err = protocol.AppendCommand(cmd.Buf, args...)
		require.NoError(t, err)
		cmd.NoReply = noReply
		s := make(replySink, 1)
		sc.Exec(ctx, cmd, s)
		return s
	}
	for range 3 {
		echo := send(false, "ECHO", "x") // an error reply owed before the refusal
		send(true, "SUBSCRIBE", "ok1", "ok2")
		send(true, "SUBSCRIBE", "a", "denied")
		echo2 := send(false, "ECHO", "y") // and one after it
		assert.Equal(t, "ERR echo refused", recv(echo).Str)
		for _, want := range []string{"ok1", "ok2"} {
			v := recv(pushes)
			assert.Equal(t, want, v.Elems[1].Str)
			assert.NoError(t, core.RefusalOf(v))
		}
		for _, want := range []string{"a", "denied"} {
			v := recv(pushes)
			assert.Equal(t, []string{"subscribe", want}, []string{v.Elems[0].Str, v.Elems[1].Str})
			assert.ErrorIs(t, core.RefusalOf(v), protocol.ErrNoPerm)
		}
		assert.Equal(t, "ERR echo refused", recv(echo2).Str)
	}
	select {
	case <-sc.Dead():
		t.Fatal("the connection closed")
	default:
	}

	// An error reply that answers nothing is still one too many: the
	// connection cannot trust its replies any more.
	send(true, "ECHO", "z")
	select {
	case <-sc.Dead():
	case <-ctx.Done():
		t.Fatal("an unmatched error reply left the connection open")
	}
}
