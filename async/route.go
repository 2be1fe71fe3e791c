package async

import (
	"errors"
	"fmt"
	"strings"

	"github.com/asyncredis/asyncredis/async/core"
)

// ErrUnsafeCommand is matched by a *CommandError: the command would shift
// a connection's replies or change state that other callers share, so it
// was refused before it was sent.
var ErrUnsafeCommand = errors.New("async: command refused: unsafe on this connection")

// CommandError refuses a command sent through Do or Cmd that would break
// the one-reply-per-command matching of a connection, or change a shared
// connection's state. Nothing was sent.
type CommandError struct {
	Command string // the command's name as given, "" for an empty command
	Use     string // the API to use instead
}

func (e *CommandError) Error() string {
	name := e.Command
	if name == "" {
		name = "empty command"
	}
	return fmt.Sprintf("async: %s refused: it would desync or change a shared connection; use %s", name, e.Use)
}

// Is matches ErrUnsafeCommand.
func (e *CommandError) Is(target error) bool { return target == ErrUnsafeCommand }

// checkCommand refuses what Do and Cmd must never send: commands that do
// not produce exactly one reply (anywhere), and commands that change
// connection state (unless ex is a dedicated connection).
func checkCommand(ex core.Executor, args []any) error {
	if len(args) == 0 {
		return &CommandError{Use: "a command name"}
	}
	name, ok := args[0].(string)
	if !ok {
		if b, isBytes := args[0].([]byte); isBytes {
			name = string(b)
		} else {
			return nil
		}
	}
	if len(name) < 4 || len(name) > 12 { // every name below is 4 to 12 bytes
		return nil
	}
	use, always := unsafeUse(strings.ToUpper(name), args)
	if use == "" {
		return nil
	}
	if !always {
		if d, ok := ex.(core.Dedicated); ok && d.Dedicated() {
			return nil
		}
	}
	return &CommandError{Command: name, Use: use}
}

// unsafeUse names the API to use instead of an unsafe command; always is
// true for commands refused even on a dedicated connection (the command
// table in package core says which).
func unsafeUse(name string, args []any) (use string, always bool) {
	sub := ""
	if len(args) > 1 {
		switch a := args[1].(type) {
		case string:
			sub = strings.ToUpper(a)
		case []byte:
			sub = strings.ToUpper(string(a))
		}
	}
	return core.Refusal(name, len(args), sub)
}
