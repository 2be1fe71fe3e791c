package protocol

import (
	"bufio"
	"io"
	"strconv"
)

// Limits bound what a Reader accepts, so that a broken or hostile server
// cannot make the client allocate without bound. Zero fields take the
// defaults given on each.
type Limits struct {
	// MaxBulkLen is the longest bulk string, verbatim string or blob error,
	// and the longest simple line; default 512 MiB (Redis' own limit).
	MaxBulkLen int64
	// MaxAggregateLen is the most elements in one array, set or push, or
	// pairs in one map; default 1<<24.
	MaxAggregateLen int64
	// MaxDepth is the deepest nesting of aggregates and attributes;
	// default 64.
	MaxDepth int
	// MemoryFactor and MemorySlack bound the memory one decoded reply may
	// take: at most MemoryFactor times the bytes it has taken on the wire
	// plus MemorySlack, counting each decoded value (protocol.ValueSize),
	// each string's bytes and each array grown on the way. Defaults 8 and
	// 64 MiB. A reply over the budget fails with ErrLimit; raise
	// MemorySlack for legitimately huge replies of tiny elements (a
	// million-element LRANGE of one-byte strings needs about 64 MiB).
	MemoryFactor int64
	MemorySlack  int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxBulkLen <= 0 {
		l.MaxBulkLen = 512 << 20
	}
	if l.MaxAggregateLen <= 0 {
		l.MaxAggregateLen = 1 << 24
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 64
	}
	if l.MemoryFactor <= 0 {
		l.MemoryFactor = 8
	}
	if l.MemorySlack <= 0 {
		l.MemorySlack = 64 << 20
	}
	return l
}

// Reader decodes RESP2 and RESP3 values from a buffered stream.
//
// Memory grows only as data arrives: a declared length is checked against
// the limits and then filled in chunks, never allocated up front in full.
// After any error the stream position is undefined; discard the Reader.
type Reader struct {
	br   *bufio.Reader
	lim  Limits
	wire int64 // bytes the current reply has taken from br so far
	used int64 // bytes of memory the current reply has been charged

	// Small strings inside an aggregate are cut from one slab per reply
	// rather than allocated one by one (an MGET of ten values takes one
	// allocation for them, not ten); a slab is never shared between
	// replies, so holding one string keeps only its own reply's bytes.
	slab []byte
	left int64 // elements still to come in the innermost aggregate
}

// slabMax is the largest string cut from a slab; slabCap bounds a slab.
const (
	slabMax = 256
	slabCap = 4 << 10
)

// NewReader returns a Reader over br with the given limits.
func NewReader(br *bufio.Reader, lim Limits) *Reader {
	return &Reader{br: br, lim: lim.withDefaults()}
}

// Buffered reports how many bytes are buffered and not yet decoded.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// Read decodes the next value. Attributes are attached to the value that
// follows them. An io.EOF before the first byte is returned as is; a
// stream cut inside a value gives io.ErrUnexpectedEOF.
func (r *Reader) Read() (Value, error) {
	r.wire, r.used, r.slab, r.left = 0, 0, nil, 0
	var v Value
	if err := r.read(&v, 0); err != nil {
		return Value{}, err // io.EOF before the first byte, as is
	}
	return v, nil
}

// eofInside turns EOF into ErrUnexpectedEOF once a value has begun.
func eofInside(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

const chunk = 64 << 10 // read large payloads in pieces of this size

// read decodes the next value into *dst, which is zero. Values are
// decoded in place (an aggregate's elements straight into its array):
// a Value is 64 bytes, and passing them up by value cost more than
// parsing a short string.
func (r *Reader) read(dst *Value, depth int) error {
	line, err := r.line()
	if err != nil {
		if depth > 0 {
			err = eofInside(err)
		}
		return err
	}
	// Attributes precede the value they describe. They are read in a loop,
	// not by recursion, and each one counts as a level of nesting, so a
	// long chain of them ends in a limit error instead of a deep stack.
	var attrs []Value
	for len(line) > 0 && line[0] == '|' {
		if depth >= r.lim.MaxDepth {
			return overLimit("attributes nested deeper than " + strconv.Itoa(r.lim.MaxDepth))
		}
		var a Value
		if err := r.aggregate(&a, KindMap, line[1:], depth); err != nil {
			return eofInside(err)
		}
		if attrs == nil {
			attrs = a.Elems
		} else {
			if err := r.charge(int64(len(attrs)+len(a.Elems)) * ValueSize); err != nil {
				return err
			}
			attrs = append(attrs, a.Elems...)
		}
		depth++
		if line, err = r.line(); err != nil {
			return eofInside(err)
		}
	}
	if err := r.value(dst, line, depth); err != nil {
		if depth > 0 || attrs != nil {
			err = eofInside(err)
		}
		return err
	}
	if attrs != nil {
		if err := r.charge(3 * 8); err != nil { // the slice header WithAttrs allocates
			return err
		}
		*dst = dst.WithAttrs(attrs)
	}
	return nil
}

// value decodes the value whose header line has been read.
func (r *Reader) value(dst *Value, line []byte, depth int) error {
	if depth > r.lim.MaxDepth {
		return overLimit("nesting deeper than " + strconv.Itoa(r.lim.MaxDepth))
	}
	if len(line) == 0 {
		return malformed("empty line")
	}
	kind, body := Kind(line[0]), line[1:]
	switch kind {
	case KindSimpleString, KindError, KindBigNumber:
		if kind == KindBigNumber && !validBigNumber(body) {
			return malformed("bad big number")
		}
		if err := r.charge(int64(len(body))); err != nil {
			return err
		}
		dst.Kind, dst.Str = kind, simpleString(body)
		return nil
	case KindInteger:
		n, ok := parseInt(body)
		if !ok {
			return malformed("bad integer " + strconv.Quote(string(body)))
		}
		dst.Kind, dst.Int = KindInteger, n
		return nil
	case KindNull:
		if len(body) != 0 {
			return malformed("bad null")
		}
		dst.Kind = KindNull
		return nil
	case KindBoolean:
		if len(body) != 1 || (body[0] != 't' && body[0] != 'f') {
			return malformed("bad boolean")
		}
		dst.Kind, dst.Bool = KindBoolean, body[0] == 't'
		return nil
	case KindDouble:
		f, err := parseDouble(body)
		if err != nil {
			return err
		}
		*dst = Double(f)
		return nil
	case KindBulkString, KindVerbatim, '!':
		return r.blob(dst, kind, body)
	case KindArray, KindSet, KindPush, KindMap:
		return r.aggregate(dst, kind, body, depth)
	}
	return malformed("unknown type byte " + strconv.Quote(string(line[:1])))
}

// charge counts n bytes of decoded memory against the reply's budget:
// MemoryFactor times the bytes the reply has taken on the wire so far,
// plus MemorySlack.
func (r *Reader) charge(n int64) error {
	if r.used+n > r.lim.MemoryFactor*r.wire+r.lim.MemorySlack {
		return overLimit("reply would take " + strconv.FormatInt(r.used+n, 10) + " bytes of memory for " +
			strconv.FormatInt(r.wire, 10) + " bytes received (Limits.MemoryFactor, Limits.MemorySlack)")
	}
	r.used += n
	return nil
}

// simpleString returns body as a string, without allocating for the
// status replies most commands get.
func simpleString(body []byte) string {
	switch string(body) { // compiled without a conversion
	case "OK":
		return "OK"
	case "QUEUED":
		return "QUEUED"
	case "PONG":
		return "PONG"
	}
	return string(body)
}

// line returns the next line without its CRLF. The slice is valid until
// the next read from br. Lines longer than the buffer are assembled, up to
// MaxBulkLen.
func (r *Reader) line() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), b...)
		for err == bufio.ErrBufferFull {
			if int64(len(long)) > r.lim.MaxBulkLen {
				return nil, overLimit("line longer than MaxBulkLen")
			}
			b, err = r.br.ReadSlice('\n')
			long = append(long, b...)
		}
		b = long
	}
	r.wire += int64(len(b))
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(b) < 2 || b[len(b)-2] != '\r' {
		return nil, malformed("line not ended by CRLF")
	}
	return b[:len(b)-2], nil
}

// length parses an aggregate or blob header: a count, -1 for a RESP2 null,
// or '?' for a streamed value (returned as -2).
func (r *Reader) length(body []byte, max int64, what string) (int64, error) {
	if len(body) == 1 && body[0] == '?' {
		return -2, nil
	}
	n, ok := parseInt(body)
	if !ok || n < -1 {
		return 0, malformed("bad " + what + " length " + strconv.Quote(string(body)))
	}
	if n > max {
		return 0, overLimit(what + " length " + strconv.FormatInt(n, 10) + " over limit " + strconv.FormatInt(max, 10))
	}
	return n, nil
}
