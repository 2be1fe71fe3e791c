package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
	"sync"
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

func (r *Reader) blob(dst *Value, kind Kind, body []byte) error {
	n, err := r.length(body, r.lim.MaxBulkLen, "bulk")
	if err != nil {
		return err
	}
	var data []byte
	switch {
	case n == -1:
		if kind != KindBulkString {
			return malformed("null " + kind.String())
		}
		dst.Kind = KindNull
		return nil
	case n == -2:
		if data, err = r.streamedBlob(); err != nil {
			return err
		}
	default:
		if data, err = r.payload(n); err != nil {
			return err
		}
	}
	switch kind {
	case '!':
		dst.Kind, dst.Str = KindError, unsafeString(data)
		return nil
	case KindVerbatim:
		if len(data) < 4 || data[3] != ':' {
			return malformed("verbatim string without format")
		}
		*dst = Verbatim(string(data[:3]), unsafeString(data[4:]))
		return nil
	}
	dst.Kind, dst.Str = KindBulkString, unsafeString(data)
	return nil
}

// payload reads n bytes and the CRLF after them. Small strings inside an
// aggregate are cut from the reply's slab; other small payloads take one
// allocation of the exact size; large ones grow as bytes arrive.
func (r *Reader) payload(n int64) ([]byte, error) {
	var data []byte
	fromSlab := n <= slabMax && r.left > 0
	switch {
	case fromSlab:
		var err error
		if data, err = r.cut(n); err != nil {
			return nil, err
		}
	case n <= chunk:
		data = make([]byte, n)
	}
	if n <= chunk && n+2 <= int64(r.br.Size()) {
		// Payload and CRLF fit the buffer: copy them out of it in one go.
		b, err := r.br.Peek(int(n) + 2)
		if err != nil {
			return nil, eofInside(err)
		}
		if b[n] != '\r' || b[n+1] != '\n' {
			return nil, malformed("payload not followed by CRLF")
		}
		copy(data, b)
		r.br.Discard(int(n) + 2)
		return r.paid(data, n, fromSlab)
	}
	if n <= chunk {
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
	return r.paid(data, n, fromSlab)
}

// paid accounts for a payload of n bytes read into data.
func (r *Reader) paid(data []byte, n int64, fromSlab bool) ([]byte, error) {
	r.wire += n + 2
	if !fromSlab { // a slab is charged when it is made
		if err := r.charge(int64(cap(data))); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// cut returns n bytes cut from the reply's slab, making a new slab (with
// room for the rest of the aggregate, if its strings are alike) when the
// current one is too small.
func (r *Reader) cut(n int64) ([]byte, error) {
	if int64(cap(r.slab)-len(r.slab)) < n {
		size := min(max(n*r.left, 64), slabCap)
		if err := r.charge(size); err != nil {
			return nil, err
		}
		r.slab = make([]byte, 0, size)
	}
	end := len(r.slab) + int(n)
	data := r.slab[len(r.slab):end:end]
	r.slab = r.slab[:end]
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
		if err := r.charge(int64(len(p))); err != nil { // the copy into out
			return nil, err
		}
		out = append(out, p...)
	}
}

func (r *Reader) aggregate(dst *Value, kind Kind, body []byte, depth int) error {
	n, err := r.length(body, r.lim.MaxAggregateLen, kind.String())
	if err != nil {
		return err
	}
	if n == -1 {
		if kind != KindArray {
			return malformed("null " + kind.String())
		}
		dst.Kind = KindNull
		return nil
	}
	per := int64(1)
	if kind == KindMap {
		per = 2
	}
	if n == -2 {
		return r.streamedAggregate(dst, kind, per, depth)
	}
	// Capacity follows the data: a huge declared count cannot allocate
	// more than a few elements before they actually arrive, and every
	// growth is charged to the reply's memory budget.
	total := n * per
	var elems []Value
	if err := r.grow(&elems, min(total, 1024)); err != nil {
		return err
	}
	outer := r.left
	defer func() { r.left = outer }()
	for i := int64(0); i < total; i++ {
		if len(elems) == cap(elems) {
			if err := r.grow(&elems, min(total, 2*int64(cap(elems)))); err != nil {
				return err
			}
		}
		r.left = total - i
		elems = elems[:len(elems)+1] // zero: new or cleared arrays only
		if err := r.read(&elems[len(elems)-1], depth+1); err != nil {
			return eofInside(err)
		}
	}
	dst.Kind, dst.Elems = kind, elems
	return nil
}

// streamedAggregate reads elements up to the "." terminator.
func (r *Reader) streamedAggregate(dst *Value, kind Kind, per int64, depth int) error {
	var elems []Value
	for {
		if b, err := r.br.Peek(3); err == nil && b[0] == '.' && b[1] == '\r' && b[2] == '\n' {
			r.br.Discard(3)
			r.wire += 3
			if int64(len(elems))%per != 0 {
				return malformed("streamed map with odd element count")
			}
			dst.Kind, dst.Elems = kind, elems
			return nil
		} else if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return eofInside(err)
		}
		if int64(len(elems)) >= r.lim.MaxAggregateLen*per {
			return overLimit("streamed aggregate over MaxAggregateLen")
		}
		if len(elems) == cap(elems) {
			if err := r.grow(&elems, max(16, 2*int64(cap(elems)))); err != nil {
				return err
			}
		}
		elems = elems[:len(elems)+1] // zero: new or cleared arrays only
		if err := r.read(&elems[len(elems)-1], depth+1); err != nil {
			return eofInside(err)
		}
	}
}

// grow gives *elems room for n elements, charging the new array.
func (r *Reader) grow(elems *[]Value, n int64) error {
	if err := r.charge(n * ValueSize); err != nil {
		return err
	}
	var next []Value
	if len(*elems) == 0 {
		next = newElems(n)
	} else {
		next = make([]Value, len(*elems), n)
		copy(next, *elems)
	}
	*elems = next
	return nil
}

// maxReused bounds the length of the element arrays that Reuse takes
// back: the small aggregates most replies are (MGET of a few keys, a
// hash of a few fields).
const maxReused = 64

// reused holds element arrays handed back by Reuse, by capacity: each
// entry points at the first element of an array of exactly that many
// Values, all zero.
var reused [maxReused + 1]sync.Pool

// newElems returns an empty array with room for n values, one handed
// back through Reuse when there is one.
func newElems(n int64) []Value {
	if n > 0 && n <= maxReused {
		if p, ok := reused[n].Get().(*Value); ok {
			return unsafe.Slice(p, n)[:0]
		}
	}
	return make([]Value, 0, n)
}

// Reuse hands v's element array back to the Reader for a later reply,
// cleared. Call it only for a value a Reader returned and only when
// nothing will look at v's elements again: an executor calls it after a
// reply's consumer has converted it into values of its own (see
// core.Consumer). Nested arrays are left to the garbage collector.
func Reuse(v Value) {
	c := cap(v.Elems)
	if c == 0 || c > maxReused {
		return
	}
	all := v.Elems[:c]
	clear(all)
	reused[c].Put(&all[0])
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
