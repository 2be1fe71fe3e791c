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
//   - BLMOVE / BRPOPLPUSH: a script moves exactly the element the command
//     moved: it removes that element from the destination, searching from
//     the end it was pushed to (LREM), and only if it was still there pushes
//     it back to the source end it came from, in one atomic step. If another
//     consumer already took it from the destination, it was delivered once,
//     there, and nothing is moved.
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
	if undo := lookup(args[0]).undo; undo != nil {
		return undo(args, reply)
	}
	return nil
}

// undoPop is the undo of BLPOP (push LPUSH) or BRPOP (RPUSH): push the
// element back onto the end of the list it came from.
func undoPop(push string) func([][]byte, protocol.Value) []any {
	return func(_ [][]byte, reply protocol.Value) []any {
		if el := reply.Elems; len(el) == 2 {
			return []any{push, el[0].Str, el[1].Str}
		}
		return nil
	}
}

func undoBLMove(args [][]byte, reply protocol.Value) []any {
	if len(args) < 5 || !reply.IsString() {
		return nil
	}
	return moveBack(string(args[1]), string(args[2]), string(args[3]), string(args[4]), reply.Str)
}

func undoBRPopLPush(args [][]byte, reply protocol.Value) []any {
	if len(args) < 3 || !reply.IsString() {
		return nil
	}
	return moveBack(string(args[1]), string(args[2]), "RIGHT", "LEFT", reply.Str)
}

func undoZPop(_ [][]byte, reply protocol.Value) []any {
	if el := reply.Elems; len(el) == 3 {
		return []any{"ZADD", el[0].Str, scoreArg(el[2]), el[1].Str}
	}
	return nil
}

func undoLMPop(args [][]byte, reply protocol.Value) []any {
	if el := reply.Elems; len(el) == 2 && len(args) >= 4 {
		return pushBack(args[3:], el[0].Str, el[1].Elems)
	}
	return nil
}

func undoZMPop(_ [][]byte, reply protocol.Value) []any {
	if el := reply.Elems; len(el) == 2 {
		return readd(el[0].Str, el[1])
	}
	return nil
}

// pushBack is the undo of a BLMPOP whose options (after the keys) were
// opts and that popped elems from key: push them back onto the end they
// came from, in their order.
func pushBack(opts [][]byte, key string, elems []protocol.Value) []any {
	push := "LPUSH"
	for _, a := range opts {
		if strings.EqualFold(string(a), "RIGHT") {
			push = "RPUSH"
		}
	}
	out := []any{push, key}
	for i := len(elems) - 1; i >= 0; i-- {
		out = append(out, elems[i].Str)
	}
	return out
}

// readd is the undo of a BZMPOP that popped members from key: ZADD them
// back with their scores.
func readd(key string, members protocol.Value) []any {
	out := []any{"ZADD", key}
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

// moveBackScript undoes one BLMOVE: KEYS[1] is the destination, KEYS[2]
// the source, ARGV[1] the element, ARGV[2] the destination end it was
// pushed to and ARGV[3] the source end it was popped from. It returns 1
// when it moved the element back, 0 when the element had already left
// the destination.
const moveBackScript = `local n = 1
if ARGV[2] == 'RIGHT' then n = -1 end
if redis.call('LREM', KEYS[1], n, ARGV[1]) == 0 then return 0 end
if ARGV[3] == 'RIGHT' then redis.call('RPUSH', KEYS[2], ARGV[1]) else redis.call('LPUSH', KEYS[2], ARGV[1]) end
return 1`

// moveBack is the undo of a BLMOVE src dst from to that moved elem.
func moveBack(src, dst, from, to, elem string) []any {
	return []any{"EVAL", moveBackScript, 2, dst, src, elem, strings.ToUpper(to), strings.ToUpper(from)}
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
