package core

import (
	"strconv"
	"strings"

	"github.com/asyncredis/asyncredis/protocol"
)

// Cancelling a blocking command.
//
// A blocking command (BLPOP and the like) whose context ends resolves its
// future with ctx.Err() at once. Its connection is still blocked in the
// server, so the executor wakes it with CLIENT UNBLOCK from another
// connection. If an element reached the abandoned command before the
// unblock did, nobody will read it, so the executor puts it back with the
// command UndoBlocking returns:
//
//   - BLPOP / BRPOP: LPUSH / RPUSH the element back onto the head / tail
//     of its list, where it was popped from.
//   - BLMPOP: the popped elements go back to the end they came from, in
//     their order.
//   - BLMOVE / BRPOPLPUSH: LMOVE moves the element at the destination end
//     back to the source end it came from (if another client pushed to
//     that end of the destination in between, that element moves instead:
//     nothing is lost, but the two may trade places).
//   - BZPOPMIN / BZPOPMAX / BZMPOP: ZADD restores the members with their
//     scores.
//   - XREAD BLOCK consumes nothing; XREADGROUP BLOCK leaves the entries it
//     delivered in the consumer's pending entries list, where XPENDING,
//     XCLAIM/XAUTOCLAIM or XREADGROUP with ID 0 find them again.
//
// So a cancelled blocking command never silently loses an element; an
// element put back may be seen by other readers in between, as if the
// command had not run.

// UndoBlocking returns the command that puts back what the blocking
// command cmd (as encoded) took, given the reply that no caller will read;
// nil when there is nothing to put back.
func UndoBlocking(cmd []byte, reply protocol.Value) []any {
	if reply.Kind == protocol.KindNull || reply.Kind == protocol.KindError {
		return nil
	}
	args := parseArgs(cmd)
	if len(args) == 0 {
		return nil
	}
	el := reply.Elems
	switch strings.ToUpper(string(args[0])) {
	case "BLPOP", "BRPOP":
		if len(el) != 2 {
			return nil
		}
		push := "LPUSH"
		if strings.EqualFold(string(args[0]), "BRPOP") {
			push = "RPUSH"
		}
		return []any{push, el[0].Str, el[1].Str}
	case "BLMOVE":
		if len(args) < 5 || !reply.IsString() {
			return nil
		}
		return []any{"LMOVE", string(args[2]), string(args[1]), string(args[4]), string(args[3])}
	case "BRPOPLPUSH":
		if len(args) < 3 || !reply.IsString() {
			return nil
		}
		return []any{"LMOVE", string(args[2]), string(args[1]), "LEFT", "RIGHT"}
	case "BZPOPMIN", "BZPOPMAX":
		if len(el) != 3 {
			return nil
		}
		return []any{"ZADD", el[0].Str, scoreArg(el[2]), el[1].Str}
	case "BLMPOP":
		if len(el) != 2 || len(args) < 4 {
			return nil
		}
		push := "LPUSH"
		for _, a := range args[3:] {
			if strings.EqualFold(string(a), "RIGHT") {
				push = "RPUSH"
			}
		}
		out := []any{push, el[0].Str}
		for i := len(el[1].Elems) - 1; i >= 0; i-- {
			out = append(out, el[1].Elems[i].Str)
		}
		return out
	case "BZMPOP":
		if len(el) != 2 {
			return nil
		}
		out := []any{"ZADD", el[0].Str}
		members := el[1]
		if members.Kind == protocol.KindMap { // RESP3 may answer member => score
			for i := 0; i+1 < len(members.Elems); i += 2 {
				out = append(out, scoreArg(members.Elems[i+1]), members.Elems[i].Str)
			}
		} else {
			for _, pair := range members.Elems {
				if len(pair.Elems) == 2 {
					out = append(out, scoreArg(pair.Elems[1]), pair.Elems[0].Str)
				}
			}
		}
		if len(out) == 2 {
			return nil
		}
		return out
	}
	return nil
}

func scoreArg(v protocol.Value) string {
	if v.Kind == protocol.KindDouble {
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return v.Str
}

// parseArgs splits an encoded command into its arguments.
func parseArgs(buf []byte) [][]byte {
	p := argParser{buf: buf}
	n, ok := p.header('*')
	if !ok {
		return nil
	}
	args := make([][]byte, 0, n)
	for range n {
		a, ok := p.next()
		if !ok {
			return nil
		}
		args = append(args, a)
	}
	return args
}
