package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
	"unsafe"
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
	// MaxDepth is the deepest nesting of aggregates; default 64.
	MaxDepth int
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
	return l
}

// Reader decodes RESP2 and RESP3 values from a buffered stream.
//
// Memory grows only as data arrives: a declared length is checked against
// the limits and then filled in chunks, never allocated up front in full.
// After any error the stream position is undefined; discard the Reader.
type Reader struct {
	br  *bufio.Reader
	lim Limits
}

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
	v, err := r.read(0)
	if err == io.EOF {
		return Value{}, io.EOF
	}
	return v, err
}

// eofInside turns EOF into ErrUnexpectedEOF once a value has begun.
func eofInside(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

const chunk = 64 << 10 // read large payloads in pieces of this size

func (r *Reader) read(depth int) (Value, error) {
	if depth > r.lim.MaxDepth {
		return Value{}, overLimit("nesting deeper than " + strconv.Itoa(r.lim.MaxDepth))
	}
	line, err := r.line()
	if err != nil {
		if depth > 0 {
			err = eofInside(err)
		}
		return Value{}, err
	}
	if len(line) == 0 {
		return Value{}, malformed("empty line")
	}
	kind, body := Kind(line[0]), line[1:]
	switch kind {
	case KindSimpleString, KindError, KindBigNumber:
		if kind == KindBigNumber && !validBigNumber(body) {
			return Value{}, malformed("bad big number")
		}
		return Value{Kind: kind, Str: string(body)}, nil
	case KindInteger:
		n, ok := parseInt(body)
		if !ok {
			return Value{}, malformed("bad integer " + strconv.Quote(string(body)))
		}
		return Value{Kind: KindInteger, Int: n}, nil
	case KindNull:
		if len(body) != 0 {
			return Value{}, malformed("bad null")
		}
		return Value{Kind: KindNull}, nil
	case KindBoolean:
		if len(body) != 1 || (body[0] != 't' && body[0] != 'f') {
			return Value{}, malformed("bad boolean")
		}
		return Value{Kind: KindBoolean, Bool: body[0] == 't'}, nil
	case KindDouble:
		f, err := parseDouble(body)
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: KindDouble, Float: f}, nil
	case KindBulkString, KindVerbatim, '!':
		return r.blob(kind, body)
	case KindArray, KindSet, KindPush, KindMap:
		return r.aggregate(kind, body, depth)
	case '|':
		attrs, err := r.aggregate(KindMap, body, depth)
		if err != nil {
			return Value{}, eofInside(err)
		}
		v, err := r.read(depth)
		if err != nil {
			return Value{}, eofInside(err)
		}
		v.Attrs = attrs.Elems
		return v, nil
	}
	return Value{}, malformed("unknown type byte " + strconv.Quote(string(line[:1])))
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

func (r *Reader) blob(kind Kind, body []byte) (Value, error) {
	n, err := r.length(body, r.lim.MaxBulkLen, "bulk")
	if err != nil {
		return Value{}, err
	}
	var data []byte
	switch {
	case n == -1:
		if kind != KindBulkString {
			return Value{}, malformed("null " + kind.String())
		}
		return Value{Kind: KindNull}, nil
	case n == -2:
		if data, err = r.streamedBlob(); err != nil {
			return Value{}, err
		}
	default:
		if data, err = r.payload(n); err != nil {
			return Value{}, err
		}
	}
	switch kind {
	case '!':
		return Value{Kind: KindError, Str: unsafeString(data)}, nil
	case KindVerbatim:
		if len(data) < 4 || data[3] != ':' {
			return Value{}, malformed("verbatim string without format")
		}
		return Value{Kind: KindVerbatim, Format: string(data[:3]), Str: unsafeString(data[4:])}, nil
	}
	return Value{Kind: KindBulkString, Str: unsafeString(data)}, nil
}

// payload reads n bytes and the CRLF after them. Small payloads take one
// allocation of the exact size; large ones grow as bytes arrive.
func (r *Reader) payload(n int64) ([]byte, error) {
	var data []byte
	if n <= chunk {
		data = make([]byte, n)
		if _, err := io.ReadFull(r.br, data); err != nil {
			return nil, eofInside(err)
		}
	} else {
		var buf bytes.Buffer
		buf.Grow(chunk)
		if _, err := io.CopyN(&buf, r.br, n); err != nil {
			return nil, eofInside(err)
		}
		data = buf.Bytes()
	}
	if err := r.crlf(); err != nil {
		return nil, err
	}
	return data, nil
}

func (r *Reader) crlf() error {
	c1, err := r.br.ReadByte()
	if err != nil {
		return eofInside(err)
	}
	c2, err := r.br.ReadByte()
	if err != nil {
		return eofInside(err)
	}
	if c1 != '\r' || c2 != '\n' {
		return malformed("payload not followed by CRLF")
	}
	return nil
}

// streamedBlob reads ";<len>" chunks up to the ";0" terminator.
func (r *Reader) streamedBlob() ([]byte, error) {
	var out []byte
	for {
		line, err := r.line()
		if err != nil {
			return nil, eofInside(err)
		}
		if len(line) == 0 || line[0] != ';' {
			return nil, malformed("streamed string chunk without ';'")
		}
		n, err := r.length(line[1:], r.lim.MaxBulkLen, "chunk")
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, malformed("bad chunk length")
		}
		if n == 0 {
			return out, nil
		}
		if int64(len(out))+n > r.lim.MaxBulkLen {
			return nil, overLimit("streamed string over MaxBulkLen")
		}
		p, err := r.payload(n)
		if err != nil {
			return nil, err
		}
		out = append(out, p...)
	}
}

func (r *Reader) aggregate(kind Kind, body []byte, depth int) (Value, error) {
	n, err := r.length(body, r.lim.MaxAggregateLen, kind.String())
	if err != nil {
		return Value{}, err
	}
	if n == -1 {
		if kind != KindArray {
			return Value{}, malformed("null " + kind.String())
		}
		return Value{Kind: KindNull}, nil
	}
	per := int64(1)
	if kind == KindMap {
		per = 2
	}
	if n == -2 {
		return r.streamedAggregate(kind, per, depth)
	}
	// Capacity follows the data: a huge declared count cannot allocate
	// more than a few elements before they actually arrive.
	elems := make([]Value, 0, min(n*per, 1024))
	for i := int64(0); i < n*per; i++ {
		v, err := r.read(depth + 1)
		if err != nil {
			return Value{}, eofInside(err)
		}
		elems = append(elems, v)
	}
	return Value{Kind: kind, Elems: elems}, nil
}

// streamedAggregate reads elements up to the "." terminator.
func (r *Reader) streamedAggregate(kind Kind, per int64, depth int) (Value, error) {
	var elems []Value
	for {
		if b, err := r.br.Peek(3); err == nil && b[0] == '.' && b[1] == '\r' && b[2] == '\n' {
			r.br.Discard(3)
			if int64(len(elems))%per != 0 {
				return Value{}, malformed("streamed map with odd element count")
			}
			return Value{Kind: kind, Elems: elems}, nil
		} else if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return Value{}, eofInside(err)
		}
		if int64(len(elems)) >= r.lim.MaxAggregateLen*per {
			return Value{}, overLimit("streamed aggregate over MaxAggregateLen")
		}
		v, err := r.read(depth + 1)
		if err != nil {
			return Value{}, eofInside(err)
		}
		elems = append(elems, v)
	}
}

// parseInt parses a decimal int64 without allocating.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := false
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

func parseDouble(b []byte) (float64, error) {
	switch string(b) {
	case "inf", "+inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	case "nan", "-nan":
		return math.NaN(), nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, malformed("bad double " + strconv.Quote(string(b)))
	}
	return f, nil
}

func validBigNumber(b []byte) bool {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// unsafeString views a freshly allocated, never again written slice as a
// string, saving a copy on every bulk reply.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
