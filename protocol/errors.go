package protocol

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors matched with errors.Is against a *RedisError of that
// kind, and against protocol failures.
var (
	ErrReadOnly    = errors.New("protocol: READONLY")    // write sent to a replica
	ErrNoScript    = errors.New("protocol: NOSCRIPT")    // EVALSHA of an unknown script
	ErrWrongType   = errors.New("protocol: WRONGTYPE")   // command against a key of another type
	ErrNoAuth      = errors.New("protocol: NOAUTH")      // authentication required
	ErrWrongPass   = errors.New("protocol: WRONGPASS")   // bad username or password
	ErrAuth        = errors.New("protocol: auth failed") // any of NOAUTH, WRONGPASS and older password errors
	ErrLoading     = errors.New("protocol: LOADING")     // server loading its dataset
	ErrMasterDown  = errors.New("protocol: MASTERDOWN")  // replica lost its master
	ErrNoReplicas  = errors.New("protocol: NOREPLICAS")  // not enough good replicas
	ErrBusy        = errors.New("protocol: BUSY")        // a script is running
	ErrExecAbort   = errors.New("protocol: EXECABORT")   // transaction discarded after an error
	ErrMoved       = errors.New("protocol: MOVED")       // cluster redirect
	ErrAsk         = errors.New("protocol: ASK")         // cluster redirect for one command
	ErrTryAgain    = errors.New("protocol: TRYAGAIN")    // multi-key command during a slot migration
	ErrClusterDown = errors.New("protocol: CLUSTERDOWN") // cluster cannot serve the slot now
	ErrCrossSlot   = errors.New("protocol: CROSSSLOT")   // keys of one command in different slots
	ErrNoProto     = errors.New("protocol: NOPROTO")     // HELLO with an unsupported version
	ErrNoPerm      = errors.New("protocol: NOPERM")      // ACL denies the command or key

	// ErrMalformed is matched by a *ProtocolError for input that is not RESP.
	ErrMalformed = errors.New("protocol: malformed reply")
	// ErrLimit is matched by a *ProtocolError for a reply over a Limits field.
	ErrLimit = errors.New("protocol: reply exceeds limit")
)

var prefixErrors = map[string]error{
	"READONLY":    ErrReadOnly,
	"NOSCRIPT":    ErrNoScript,
	"WRONGTYPE":   ErrWrongType,
	"NOAUTH":      ErrNoAuth,
	"WRONGPASS":   ErrWrongPass,
	"LOADING":     ErrLoading,
	"MASTERDOWN":  ErrMasterDown,
	"NOREPLICAS":  ErrNoReplicas,
	"BUSY":        ErrBusy,
	"EXECABORT":   ErrExecAbort,
	"MOVED":       ErrMoved,
	"ASK":         ErrAsk,
	"TRYAGAIN":    ErrTryAgain,
	"CLUSTERDOWN": ErrClusterDown,
	"CROSSSLOT":   ErrCrossSlot,
	"NOPROTO":     ErrNoProto,
	"NOPERM":      ErrNoPerm,
}

// RedisError is an error reply from the server. Its kind is matched with
// errors.Is against the sentinel values above; Msg keeps the whole message.
type RedisError struct {
	Prefix string // first word, e.g. "ERR", "READONLY"
	Msg    string // the whole message as sent, prefix included
}

// ParseError makes a *RedisError from an error reply's text.
func ParseError(msg string) *RedisError {
	prefix, _, _ := strings.Cut(msg, " ")
	return &RedisError{Prefix: prefix, Msg: msg}
}

func (e *RedisError) Error() string { return "redis: " + e.Msg }

// Redacted returns e with its message cut before the first quote that
// opens a quoted word (after a space, a colon or a parenthesis; the
// apostrophe in "can't" stays): Redis
// quotes a command's arguments in some error replies ("ERR unknown
// command 'X', with args beginning with: 'secret'"), and what goes to
// traces, metrics and logs should name the kind of error, not repeat the
// arguments. It matches the same sentinel values as e.
func (e *RedisError) Redacted() *RedisError {
	for i := 1; i < len(e.Msg); i++ {
		if c := e.Msg[i]; c == '\'' || c == '"' {
			if p := e.Msg[i-1]; p == ' ' || p == ':' || p == '(' {
				return &RedisError{Prefix: e.Prefix, Msg: strings.TrimRight(e.Msg[:i], " ,:(")}
			}
		}
	}
	return e
}

// Is matches the sentinel for e's prefix; ErrAuth matches every
// authentication failure.
func (e *RedisError) Is(target error) bool {
	if target == ErrAuth {
		return e.isAuth()
	}
	s, ok := prefixErrors[e.Prefix]
	return ok && s == target
}

func (e *RedisError) isAuth() bool {
	switch e.Prefix {
	case "NOAUTH", "WRONGPASS":
		return true
	case "ERR":
		m := strings.ToLower(e.Msg)
		return strings.Contains(m, "invalid password") || strings.Contains(m, "without any password configured") ||
			strings.Contains(m, "invalid username-password")
	}
	return false
}

// Redirect parses a MOVED or ASK error: the hash slot and the address to
// ask instead.
func (e *RedisError) Redirect() (slot int, addr string, ok bool) {
	if e.Prefix != "MOVED" && e.Prefix != "ASK" {
		return 0, "", false
	}
	f := strings.Fields(e.Msg)
	if len(f) != 3 {
		return 0, "", false
	}
	slot, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, "", false
	}
	return slot, f[2], true
}

// ProtocolError reports input that is not valid RESP or exceeds a limit.
// The connection it came from cannot be used any more.
type ProtocolError struct {
	Kind   error  // ErrMalformed or ErrLimit
	Detail string // what was wrong
}

func (e *ProtocolError) Error() string { return e.Kind.Error() + ": " + e.Detail }

// Unwrap returns ErrMalformed or ErrLimit.
func (e *ProtocolError) Unwrap() error { return e.Kind }

func malformed(detail string) error { return &ProtocolError{Kind: ErrMalformed, Detail: detail} }

func overLimit(detail string) error { return &ProtocolError{Kind: ErrLimit, Detail: detail} }
