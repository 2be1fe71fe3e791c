package core

import (
	"strings"

	"github.com/asyncredis/asyncredis/protocol"
)

// The command table: what this module knows of a command by its name, in
// one place. Where its first key is (routing by hash slot: pools, the
// cluster), how many of its arguments are keys (hooks), whether a
// connection may run it (Do refuses what would desync a connection or
// change a shared one's state; Refusal), and how to put back what a
// cancelled blocking command took (UndoBlocking). A name not listed has
// its key first, one key, is allowed anywhere and undoes nothing.
var commands = map[string]cmdSpec{}

// cmdSpec is one command's entry in the table.
type cmdSpec struct {
	key    keyAt
	count  keyTally
	use    string                                                // when refused: the API to use instead
	always bool                                                  // refused even on a dedicated connection
	refuse func(nargs int, sub string) (use string, always bool) // refusal that depends on the arguments
	undo   func(args [][]byte, reply protocol.Value) []any       // put-back of a cancelled blocking command
}

// keyAt says where a command's first key is.
type keyAt uint8

const (
	keyFirst   keyAt = iota // the first argument
	keyNone                 // no key
	keySecond               // after numkeys, an operation or a subcommand
	keyThird                // after timeout and numkeys (BLMPOP, BZMPOP)
	keyScript               // after the script and numkeys, when numkeys > 0
	keyStreams              // after STREAMS
)

// keyTally says how many of a command's arguments are keys.
type keyTally uint8

const (
	countOne     keyTally = iota // one
	countAll                     // every argument
	countPairs                   // every other one (MSET key value ...)
	countTwo                     // two (RENAME src dst, LMOVE src dst ...)
	countButLast                 // all but the last argument (BLPOP key ... timeout)
	countNumkeys                 // numkeys, then that many (LMPOP 2 k1 k2 ...)
	countStore                   // a destination, numkeys, then that many (ZUNIONSTORE)
)

func init() {
	tableKeys()
	tableRefusals()
	tableUndo()
}

// set applies f to the entries of the space-separated names.
func set(names string, f func(*cmdSpec)) {
	for _, n := range strings.Fields(names) {
		s := commands[n]
		f(&s)
		commands[n] = s
	}
}

// tableKeys says where each command's keys are.
func tableKeys() {
	set(`PING ECHO INFO TIME DBSIZE FLUSHDB FLUSHALL CONFIG SCRIPT FUNCTION SCAN RANDOMKEY DEBUG
		SLOWLOG COMMAND LASTSAVE ROLE WAIT WAITAOF KEYS SWAPDB CLIENT ACL LATENCY MIGRATE SAVE BGSAVE
		BGREWRITEAOF SHUTDOWN PUBSUB CLUSTER MODULE LOLWUT SENTINEL`, func(s *cmdSpec) { s.key = keyNone })
	set("EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO", func(s *cmdSpec) { s.key = keyScript })
	set("XREAD XREADGROUP", func(s *cmdSpec) { s.key = keyStreams })
	set("BLMPOP BZMPOP", func(s *cmdSpec) { s.key = keyThird })
	set("LMPOP ZMPOP SINTERCARD ZINTERCARD ZUNION ZINTER ZDIFF BITOP OBJECT MEMORY XINFO XGROUP",
		func(s *cmdSpec) { s.key = keySecond })
	set("MGET DEL UNLINK EXISTS TOUCH WATCH SINTER SUNION SDIFF PFCOUNT", func(s *cmdSpec) { s.count = countAll })
	set("MSET MSETNX", func(s *cmdSpec) { s.count = countPairs })
	set(`SINTERSTORE SUNIONSTORE SDIFFSTORE PFMERGE BITOP`, func(s *cmdSpec) { s.count = countAll })
	set(`RENAME RENAMENX SMOVE LMOVE BLMOVE RPOPLPUSH BRPOPLPUSH COPY GEOSEARCHSTORE ZRANGESTORE LCS`, func(s *cmdSpec) { s.count = countTwo })
	set("BLPOP BRPOP BZPOPMIN BZPOPMAX", func(s *cmdSpec) { s.count = countButLast })
	set("LMPOP ZMPOP SINTERCARD ZINTERCARD ZUNION ZINTER ZDIFF", func(s *cmdSpec) { s.count = countNumkeys })
	set("ZUNIONSTORE ZINTERSTORE ZDIFFSTORE", func(s *cmdSpec) { s.count = countStore })
}

// tableRefusals says which commands a connection refuses.
func tableRefusals() {
	refuse := func(names, use string, always bool) {
		set(names, func(s *cmdSpec) { s.use, s.always = use, always })
	}
	refuse("SUBSCRIBE PSUBSCRIBE SSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE SUNSUBSCRIBE", "Client.PubSub", true)
	refuse("MONITOR SYNC PSYNC", "a connection of its own outside this client", true)
	refuse("QUIT RESET", "Close", true)
	refuse("AUTH", "Config.Protocol, Config.Username and Config.Password", true)
	refuse("MULTI EXEC DISCARD", "Client.TxPipeline or Client.Watch", false)
	refuse("WATCH UNWATCH", "Client.Watch", false)
	refuse("SELECT", "Config.DB", false)
	refuse("READONLY READWRITE", "a dedicated connection (Acquire)", false)
	set("HELLO", func(s *cmdSpec) {
		s.refuse = func(nargs int, _ string) (string, bool) {
			if nargs == 1 {
				return "", false // only reports the server's details
			}
			return "Config.Protocol, Config.Username and Config.Password", true
		}
	})
	set("CLIENT", func(s *cmdSpec) {
		s.refuse = func(_ int, sub string) (string, bool) {
			switch sub {
			case "REPLY":
				return "pipelines, which already save round trips", true
			case "TRACKING":
				return "a dedicated connection with Config.OnPush", false
			}
			return "", false
		}
	})
}

// tableUndo says how to put back what a cancelled blocking command took.
func tableUndo() {
	set("BLPOP", func(s *cmdSpec) { s.undo = undoPop("LPUSH") })
	set("BRPOP", func(s *cmdSpec) { s.undo = undoPop("RPUSH") })
	set("BLMOVE", func(s *cmdSpec) { s.undo = undoBLMove })
	set("BRPOPLPUSH", func(s *cmdSpec) { s.undo = undoBRPopLPush })
	set("BZPOPMIN BZPOPMAX", func(s *cmdSpec) { s.undo = undoZPop })
	set("BLMPOP", func(s *cmdSpec) { s.undo = undoLMPop })
	set("BZMPOP", func(s *cmdSpec) { s.undo = undoZMPop })
}

// lookup returns the table's entry for name, in any case, without
// allocating for names of up to 16 bytes.
func lookup(name []byte) cmdSpec {
	var buf [16]byte
	if len(name) > len(buf) {
		return commands[strings.ToUpper(string(name))]
	}
	up := buf[:len(name)]
	for i, c := range name {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	return commands[string(up)]
}

// Refusal says whether Do must refuse the command name (with nargs
// arguments in all, the name included, and sub its first argument in
// upper case, if any): use names the API to use instead ("" when the
// command is allowed), and always is true when it is refused even on a
// dedicated connection.
func Refusal(name string, nargs int, sub string) (use string, always bool) {
	s := lookup([]byte(name))
	if s.refuse != nil {
		return s.refuse(nargs, sub)
	}
	return s.use, s.always
}
