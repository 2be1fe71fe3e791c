package core

import (
	"bytes"
	"strconv"
)

// Keys returns the command's key arguments, aliasing Buf, as the command
// table knows them: every key of the multi-key commands (MGET, MSET,
// DEL, RENAME, ZUNIONSTORE, XREAD ... STREAMS, EVAL's keys, BLPOP ...),
// the first key of the rest, none for keyless commands. The cluster
// client uses it to refuse commands whose keys span hash slots.
func (c *Command) Keys() [][]byte {
	args := parseArgs(c.Buf)
	if len(args) < 2 {
		return nil
	}
	s := lookup(args[0])
	first := 1
	switch s.key {
	case keyNone:
		return nil
	case keyScript: // EVAL script numkeys key ...
		return numkeyed(args, 2)
	case keyThird: // BLMPOP timeout numkeys key ...
		return numkeyed(args, 2)
	case keyStreams: // XREAD ... STREAMS key ... id ...
		for i := 1; i < len(args); i++ {
			if bytes.EqualFold(args[i], []byte("STREAMS")) {
				rest := args[i+1:]
				return rest[:len(rest)/2]
			}
		}
		return nil
	case keySecond:
		if s.count == countNumkeys {
			return numkeyed(args, 1)
		}
		first = 2
	}
	if first >= len(args) {
		return nil
	}
	switch s.count {
	case countAll:
		return args[first:]
	case countPairs:
		var keys [][]byte
		for i := first; i < len(args); i += 2 {
			keys = append(keys, args[i])
		}
		return keys
	case countTwo:
		return args[first:min(first+2, len(args))]
	case countButLast:
		return args[first:max(first+1, len(args)-1)]
	case countNumkeys:
		return numkeyed(args, first)
	case countStore:
		return append([][]byte{args[first]}, numkeyed(args, first+1)...)
	}
	return args[first : first+1]
}

// numkeyed returns the keys that follow the count at args[i].
func numkeyed(args [][]byte, i int) [][]byte {
	if i >= len(args) {
		return nil
	}
	n, err := strconv.Atoi(string(args[i]))
	if err != nil || n <= 0 {
		return nil
	}
	return args[i+1 : min(i+1+n, len(args))]
}

// MultiKey reports whether the command table lists the command named
// name as taking more than one key, so that Keys is needed to learn all
// of them; for the others KeySlot says everything.
func MultiKey(name []byte) bool { return lookup(name).multiKey() }

func (s cmdSpec) multiKey() bool {
	return s.count != countOne || s.key == keyScript || s.key == keyStreams || s.key == keyThird
}
