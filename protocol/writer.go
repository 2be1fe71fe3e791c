package protocol

import (
	"encoding"
	"math"
	"reflect"
	"strconv"
	"time"
	"unsafe"
)

// Commands are encoded as RESP arrays of bulk strings by appending to a
// caller-owned buffer, so that a reused buffer costs no allocation per
// argument.

// AppendArrayHeader appends "*<n>\r\n".
func AppendArrayHeader(buf []byte, n int) []byte {
	buf = append(buf, '*')
	buf = strconv.AppendInt(buf, int64(n), 10)
	return append(buf, '\r', '\n')
}

// AppendString appends s as a bulk string.
func AppendString(buf []byte, s string) []byte {
	buf = append(buf, '$')
	buf = strconv.AppendInt(buf, int64(len(s)), 10)
	buf = append(buf, '\r', '\n')
	buf = append(buf, s...)
	return append(buf, '\r', '\n')
}

// AppendBytes appends b as a bulk string.
func AppendBytes(buf []byte, b []byte) []byte {
	buf = append(buf, '$')
	buf = strconv.AppendInt(buf, int64(len(b)), 10)
	buf = append(buf, '\r', '\n')
	buf = append(buf, b...)
	return append(buf, '\r', '\n')
}

// AppendInt appends i in decimal as a bulk string.
func AppendInt(buf []byte, i int64) []byte {
	var tmp [20]byte
	return AppendBytes(buf, strconv.AppendInt(tmp[:0], i, 10))
}

// AppendUint appends u in decimal as a bulk string.
func AppendUint(buf []byte, u uint64) []byte {
	var tmp [20]byte
	return AppendBytes(buf, strconv.AppendUint(tmp[:0], u, 10))
}

// AppendFloat appends f as a bulk string in the shortest form that reads
// back exactly; infinities as "+inf" and "-inf", as Redis spells them.
func AppendFloat(buf []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return AppendString(buf, "+inf")
	case math.IsInf(f, -1):
		return AppendString(buf, "-inf")
	}
	var tmp [32]byte
	return AppendBytes(buf, strconv.AppendFloat(tmp[:0], f, 'f', -1, 64))
}

// AppendArg appends one argument of a supported type: string, []byte,
// every integer type, float32/64, bool (as 1/0), nil (as an empty
// string) and values implementing encoding.BinaryMarshaler (their
// MarshalBinary, as go-redis does; it must return new bytes and keep
// nothing of the value). Other types are an *ArgError, nothing
// is sent: a time.Duration (seconds or milliseconds?), a time.Time, a
// fmt.Stringer (a display format) or a struct has no single Redis
// encoding, so the caller picks one. AppendArg keeps nothing of a, so a value passed
// through it need not be copied to the heap.
func AppendArg(buf []byte, a any) ([]byte, error) {
	switch v := a.(type) {
	case string:
		return AppendString(buf, v), nil
	case []byte:
		return AppendBytes(buf, v), nil
	case int:
		return AppendInt(buf, int64(v)), nil
	case int64:
		return AppendInt(buf, v), nil
	case int32:
		return AppendInt(buf, int64(v)), nil
	case int16:
		return AppendInt(buf, int64(v)), nil
	case int8:
		return AppendInt(buf, int64(v)), nil
	case uint:
		return AppendUint(buf, uint64(v)), nil
	case uint64:
		return AppendUint(buf, v), nil
	case uint32:
		return AppendUint(buf, uint64(v)), nil
	case uint16:
		return AppendUint(buf, uint64(v)), nil
	case uint8:
		return AppendUint(buf, uint64(v)), nil
	case float64:
		return AppendFloat(buf, v), nil
	case float32:
		return AppendFloat(buf, float64(v)), nil
	case bool:
		if v {
			return AppendString(buf, "1"), nil
		}
		return AppendString(buf, "0"), nil
	case nil:
		return AppendString(buf, ""), nil
	case time.Duration:
		return buf, &ArgError{Type: "time.Duration", Hint: "it has no single Redis encoding: pass v.Milliseconds() or v.Seconds() (or use a command's TTL argument)"}
	case time.Time:
		// Checked before BinaryMarshaler: its binary form is Go's own.
		return buf, &ArgError{Type: "time.Time", Hint: "it has no single Redis encoding: pass v.Unix(), v.UnixMilli() or v.Format(...)"}
	case encoding.BinaryMarshaler:
		// The value says how it is encoded (go-redis accepts these too).
		return appendMarshaled(buf, *(*encoding.BinaryMarshaler)(noescape(unsafe.Pointer(&v))))
	}
	return buf, &ArgError{Type: reflect.TypeOf(a).String(), Hint: "pass a string, []byte, integer, float or bool (encode other values yourself, e.g. with String, MarshalBinary or json.Marshal)"}
}

// appendMarshaled appends m's MarshalBinary.
func appendMarshaled(buf []byte, m encoding.BinaryMarshaler) ([]byte, error) {
	b, err := m.MarshalBinary()
	if err != nil {
		return buf, &ArgError{Type: reflect.TypeOf(m).String(), Hint: "its MarshalBinary failed: " + err.Error()}
	}
	return AppendBytes(buf, b), nil
}

// ArgError reports a command argument of a type with no single Redis
// encoding; nothing is sent.
type ArgError struct {
	Type string // the Go type, e.g. "time.Duration"
	Hint string // what to pass instead
}

func (e *ArgError) Error() string {
	return "protocol: unsupported argument type " + e.Type + ": " + e.Hint
}

// AppendCommand appends a whole command with AppendArg's types.
func AppendCommand(buf []byte, args ...any) ([]byte, error) {
	buf = AppendArrayHeader(buf, len(args))
	var err error
	for _, a := range args {
		if buf, err = AppendArg(buf, a); err != nil {
			return buf, err
		}
	}
	return buf, nil
}
