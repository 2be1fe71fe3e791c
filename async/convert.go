package async

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
)

// ErrNil is the error of a future whose reply was a null: the key does not
// exist, a blocking pop timed out, a SET NX did not set. Check it with
// errors.Is.
var ErrNil = errors.New("async: nil reply")

// TypeError reports a reply of another type than the command's result
// type, or text that does not parse as that type.
type TypeError struct {
	Want string        // the Go type wanted, e.g. "int64"
	Got  protocol.Kind // the reply's RESP type
	Text string        // the reply's text, when it failed to parse
}

func (e *TypeError) Error() string {
	if e.Text != "" {
		return fmt.Sprintf("async: cannot parse %s reply %q as %s", e.Got, e.Text, e.Want)
	}
	return fmt.Sprintf("async: %s reply where %s was expected", e.Got, e.Want)
}

func typeErr(want string, v protocol.Value) error { return &TypeError{Want: want, Got: v.Kind} }

// The To* converters turn a reply into a Go value. They are the conv
// functions of Cmd, exported so that any command, sent with
// Cmd, can be read as the type the caller chooses. A null is ErrNil.

// ToValue returns the reply as it came.
func ToValue(v protocol.Value) (protocol.Value, error) { return v, nil }

// ToString reads a string; integers and doubles are formatted.
func ToString(v protocol.Value) (string, error) {
	switch v.Kind {
	case protocol.KindBulkString, protocol.KindSimpleString, protocol.KindVerbatim, protocol.KindBigNumber:
		return v.Str, nil
	case protocol.KindInteger:
		return strconv.FormatInt(v.Int, 10), nil
	case protocol.KindDouble:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64), nil
	case protocol.KindNull:
		return "", ErrNil
	}
	return "", typeErr("string", v)
}

// ToBytes reads a string as bytes (a copy the caller owns).
func ToBytes(v protocol.Value) ([]byte, error) {
	s, err := ToString(v)
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// ToInt64 reads an integer, or a string holding one.
func ToInt64(v protocol.Value) (int64, error) {
	switch v.Kind {
	case protocol.KindInteger:
		return v.Int, nil
	case protocol.KindBulkString, protocol.KindSimpleString:
		n, err := strconv.ParseInt(v.Str, 10, 64)
		if err != nil {
			return 0, &TypeError{Want: "int64", Got: v.Kind, Text: v.Str}
		}
		return n, nil
	case protocol.KindNull:
		return 0, ErrNil
	}
	return 0, typeErr("int64", v)
}

// ToFloat64 reads a double, an integer, or a string holding a number.
func ToFloat64(v protocol.Value) (float64, error) {
	switch v.Kind {
	case protocol.KindDouble:
		return v.Float(), nil
	case protocol.KindInteger:
		return float64(v.Int), nil
	case protocol.KindBulkString, protocol.KindSimpleString:
		switch strings.ToLower(v.Str) {
		case "inf", "+inf":
			return math.Inf(1), nil
		case "-inf":
			return math.Inf(-1), nil
		}
		f, err := strconv.ParseFloat(v.Str, 64)
		if err != nil {
			return 0, &TypeError{Want: "float64", Got: v.Kind, Text: v.Str}
		}
		return f, nil
	case protocol.KindNull:
		return 0, ErrNil
	}
	return 0, typeErr("float64", v)
}

// ToBool reads a boolean, an integer (non-zero is true) or "OK".
func ToBool(v protocol.Value) (bool, error) {
	switch v.Kind {
	case protocol.KindBoolean:
		return v.Bool, nil
	case protocol.KindInteger:
		return v.Int != 0, nil
	case protocol.KindSimpleString:
		if v.Str == "OK" {
			return true, nil
		}
	case protocol.KindNull:
		return false, ErrNil
	}
	return false, typeErr("bool", v)
}

// ToStatus reads a status reply such as "OK".
func ToStatus(v protocol.Value) (string, error) {
	if v.Kind == protocol.KindSimpleString || v.Kind == protocol.KindBulkString {
		return v.Str, nil
	}
	if v.Kind == protocol.KindNull {
		return "", ErrNil
	}
	return "", typeErr("status", v)
}

func elems(want string, v protocol.Value) ([]protocol.Value, error) {
	switch v.Kind {
	case protocol.KindArray, protocol.KindSet, protocol.KindPush:
		return v.Elems, nil
	case protocol.KindNull:
		return nil, ErrNil
	}
	return nil, typeErr(want, v)
}

// ToStrings reads an array or set of strings; a null element is "".
func ToStrings(v protocol.Value) ([]string, error) {
	es, err := elems("[]string", v)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(es))
	for i, e := range es {
		if e.IsNull() {
			continue
		}
		if out[i], err = ToString(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ToInt64s reads an array of integers.
func ToInt64s(v protocol.Value) ([]int64, error) {
	es, err := elems("[]int64", v)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(es))
	for i, e := range es {
		if out[i], err = ToInt64(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ToBools reads an array of integers or booleans as booleans.
func ToBools(v protocol.Value) ([]bool, error) {
	es, err := elems("[]bool", v)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(es))
	for i, e := range es {
		if out[i], err = ToBool(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// NullString is a string that may be missing (a null reply element).
type NullString struct {
	String string
	Valid  bool // false for a null
}

// ToNullStrings reads an array whose elements may be null, as MGET's.
func ToNullStrings(v protocol.Value) ([]NullString, error) {
	es, err := elems("[]NullString", v)
	if err != nil {
		return nil, err
	}
	out := make([]NullString, len(es))
	for i, e := range es {
		if e.IsNull() {
			continue
		}
		s, err := ToString(e)
		if err != nil {
			return nil, err
		}
		out[i] = NullString{String: s, Valid: true}
	}
	return out, nil
}

// NullFloat is a float64 that may be missing (a null reply element).
type NullFloat struct {
	Float float64
	Valid bool // false for a null
}

// ToNullFloats reads an array of numbers that may be null, as ZMSCORE's.
func ToNullFloats(v protocol.Value) ([]NullFloat, error) {
	es, err := elems("[]NullFloat", v)
	if err != nil {
		return nil, err
	}
	out := make([]NullFloat, len(es))
	for i, e := range es {
		if e.IsNull() {
			continue
		}
		f, err := ToFloat64(e)
		if err != nil {
			return nil, err
		}
		out[i] = NullFloat{Float: f, Valid: true}
	}
	return out, nil
}

// pairs returns a map's alternating keys and values, from a RESP3 map or
// a RESP2 flat array.
func pairs(want string, v protocol.Value) ([]protocol.Value, error) {
	switch v.Kind {
	case protocol.KindMap:
		return v.Elems, nil
	case protocol.KindArray:
		if len(v.Elems)%2 != 0 {
			return nil, &TypeError{Want: want, Got: v.Kind, Text: "odd number of elements"}
		}
		return v.Elems, nil
	case protocol.KindNull:
		return nil, ErrNil
	}
	return nil, typeErr(want, v)
}

// ToStringMap reads a map (or RESP2 flat key/value array) of strings.
func ToStringMap(v protocol.Value) (map[string]string, error) {
	es, err := pairs("map[string]string", v)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(es)/2)
	for i := 0; i < len(es); i += 2 {
		k, err := ToString(es[i])
		if err != nil {
			return nil, err
		}
		val, err := ToString(es[i+1])
		if err != nil && !errors.Is(err, ErrNil) {
			return nil, err
		}
		out[k] = val
	}
	return out, nil
}

// Z is a sorted-set member with its score.
type Z struct {
	Member string
	Score  float64
}

// ToZs reads members with scores: RESP3 pairs ([[m, s], ...]) or RESP2
// flat arrays ([m, s, m, s, ...]).
func ToZs(v protocol.Value) ([]Z, error) {
	es, err := elems("[]Z", v)
	if err != nil {
		return nil, err
	}
	var out []Z
	if len(es) > 0 && es[0].Kind == protocol.KindArray {
		out = make([]Z, 0, len(es))
		for _, p := range es {
			if len(p.Elems) != 2 {
				return nil, typeErr("Z pair", p)
			}
			z, err := toZ(p.Elems[0], p.Elems[1])
			if err != nil {
				return nil, err
			}
			out = append(out, z)
		}
		return out, nil
	}
	if len(es)%2 != 0 {
		return nil, &TypeError{Want: "[]Z", Got: v.Kind, Text: "odd number of elements"}
	}
	out = make([]Z, 0, len(es)/2)
	for i := 0; i < len(es); i += 2 {
		z, err := toZ(es[i], es[i+1])
		if err != nil {
			return nil, err
		}
		out = append(out, z)
	}
	return out, nil
}

func toZ(m, s protocol.Value) (Z, error) {
	member, err := ToString(m)
	if err != nil {
		return Z{}, err
	}
	score, err := ToFloat64(s)
	if err != nil {
		return Z{}, err
	}
	return Z{Member: member, Score: score}, nil
}

// NoExpiry is the duration TTL and PTTL report for a key without one.
const NoExpiry time.Duration = -1

// toTTL reads a TTL reply in unit: -1 is NoExpiry, -2 (no such key) ErrNil.
func toTTL(unit time.Duration) func(protocol.Value) (time.Duration, error) {
	return func(v protocol.Value) (time.Duration, error) {
		n, err := ToInt64(v)
		switch {
		case err != nil:
			return 0, err
		case n == -2:
			return 0, ErrNil
		case n == -1:
			return NoExpiry, nil
		}
		return time.Duration(n) * unit, nil
	}
}

// ToDuration reads an integer number of milliseconds as a duration.
func ToDuration(v protocol.Value) (time.Duration, error) {
	n, err := ToInt64(v)
	return time.Duration(n) * time.Millisecond, err
}

// KeyValue is what a blocking pop returns: the key it popped from and the
// element.
type KeyValue struct {
	Key   string
	Value string
}

func toKeyValue(v protocol.Value) (KeyValue, error) {
	ss, err := ToStrings(v)
	if err != nil {
		return KeyValue{}, err
	}
	if len(ss) != 2 {
		return KeyValue{}, &TypeError{Want: "KeyValue", Got: v.Kind, Text: fmt.Sprint(ss)}
	}
	return KeyValue{Key: ss[0], Value: ss[1]}, nil
}
