package protocol

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unsafe"
)

// Kind is a RESP type, named by its type byte on the wire.
type Kind byte

// The RESP2 and RESP3 types.
const (
	KindSimpleString Kind = '+'
	KindError        Kind = '-' // simple and blob errors alike
	KindInteger      Kind = ':'
	KindBulkString   Kind = '$'
	KindArray        Kind = '*'
	KindNull         Kind = '_' // RESP3 null, and RESP2's $-1 and *-1
	KindDouble       Kind = ','
	KindBoolean      Kind = '#'
	KindVerbatim     Kind = '='
	KindBigNumber    Kind = '('
	KindMap          Kind = '%'
	KindSet          Kind = '~'
	KindPush         Kind = '>'
)

func (k Kind) String() string {
	switch k {
	case KindSimpleString:
		return "simple string"
	case KindError:
		return "error"
	case KindInteger:
		return "integer"
	case KindBulkString:
		return "bulk string"
	case KindArray:
		return "array"
	case KindNull:
		return "null"
	case KindDouble:
		return "double"
	case KindBoolean:
		return "boolean"
	case KindVerbatim:
		return "verbatim string"
	case KindBigNumber:
		return "big number"
	case KindMap:
		return "map"
	case KindSet:
		return "set"
	case KindPush:
		return "push"
	}
	return fmt.Sprintf("kind(%q)", byte(k))
}

// Value is one decoded reply. It is kept small (64 bytes on 64-bit
// platforms), since a reply of many small elements costs one Value each:
// a double's bits, a verbatim string's format and the attributes live in
// fields read through methods.
type Value struct {
	Kind Kind
	Bool bool // booleans
	// Str holds simple, bulk and verbatim strings, error messages and the
	// digits of a big number.
	Str string
	// Int holds integers. For doubles it holds the IEEE 754 bits (read
	// them with Float) and for verbatim strings the format (Format).
	Int int64
	// Elems holds the elements of arrays, sets and pushes, and a map's keys
	// and values alternating: k0, v0, k1, v1, ...
	Elems []Value
	attrs *[]Value
}

// ValueSize is the size of one Value in memory, what the Reader charges
// to a reply's memory budget for each decoded value.
const ValueSize = int64(unsafe.Sizeof(Value{}))

// Double returns a double value.
func Double(f float64) Value {
	return Value{Kind: KindDouble, Int: int64(math.Float64bits(f))}
}

// Verbatim returns a verbatim string value with a three-letter format.
func Verbatim(format, s string) Value {
	var n int64
	for i := 0; i < 3 && i < len(format); i++ {
		n |= int64(format[i]) << (8 * i)
	}
	return Value{Kind: KindVerbatim, Str: s, Int: n}
}

// Float returns a double's value; 0 for other kinds.
func (v Value) Float() float64 {
	if v.Kind != KindDouble {
		return 0
	}
	return math.Float64frombits(uint64(v.Int))
}

// Format returns a verbatim string's three-letter format ("txt", "mkd");
// "" for other kinds.
func (v Value) Format() string {
	if v.Kind != KindVerbatim {
		return ""
	}
	b := [3]byte{byte(v.Int), byte(v.Int >> 8), byte(v.Int >> 16)}
	return string(b[:])
}

// Attrs returns the RESP3 attributes sent before this value, as
// alternating keys and values; nil when there were none.
func (v Value) Attrs() []Value {
	if v.attrs == nil {
		return nil
	}
	return *v.attrs
}

// WithAttrs returns v carrying the given attributes.
func (v Value) WithAttrs(attrs []Value) Value {
	v.attrs = &attrs
	return v
}

// IsNull reports whether v is a null of either protocol version.
func (v Value) IsNull() bool { return v.Kind == KindNull }

// IsString reports whether v carries text: a simple, bulk or verbatim string.
func (v Value) IsString() bool {
	return v.Kind == KindSimpleString || v.Kind == KindBulkString || v.Kind == KindVerbatim
}

// IsAggregate reports whether v holds elements.
func (v Value) IsAggregate() bool {
	return v.Kind == KindArray || v.Kind == KindSet || v.Kind == KindPush || v.Kind == KindMap
}

// Err returns the reply as a typed *RedisError if it is an error reply,
// else nil.
func (v Value) Err() error {
	if v.Kind != KindError {
		return nil
	}
	return ParseError(v.Str)
}

// BigInt parses a big number reply.
func (v Value) BigInt() (*big.Int, bool) {
	if v.Kind != KindBigNumber {
		return nil, false
	}
	return new(big.Int).SetString(v.Str, 10)
}

// String renders v for debugging, in a compact form.
func (v Value) String() string {
	var b strings.Builder
	v.format(&b)
	return b.String()
}

func (v Value) format(b *strings.Builder) {
	switch v.Kind {
	case KindSimpleString, KindBulkString, KindVerbatim, KindBigNumber:
		b.WriteString(strconv.Quote(v.Str))
	case KindError:
		b.WriteString("(error) " + v.Str)
	case KindInteger:
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case KindDouble:
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case KindBoolean:
		b.WriteString(strconv.FormatBool(v.Bool))
	case KindNull:
		b.WriteString("(nil)")
	case KindMap:
		b.WriteString("{")
		for i := 0; i+1 < len(v.Elems); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			v.Elems[i].format(b)
			b.WriteString(": ")
			v.Elems[i+1].format(b)
		}
		b.WriteString("}")
	default:
		b.WriteString("[")
		for i, e := range v.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			e.format(b)
		}
		b.WriteString("]")
	}
}
