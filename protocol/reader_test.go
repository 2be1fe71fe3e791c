package protocol

import (
	"bufio"
	"errors"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decode(t testing.TB, in string, lim Limits) (Value, error) {
	t.Helper()
	return NewReader(bufio.NewReader(strings.NewReader(in)), lim).Read()
}

func TestReadTypes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Value
	}{
		{"simple", "+OK\r\n", Value{Kind: KindSimpleString, Str: "OK"}},
		{"error", "-ERR bad\r\n", Value{Kind: KindError, Str: "ERR bad"}},
		{"blob error", "!10\r\nSYNTAX bad\r\n", Value{Kind: KindError, Str: "SYNTAX bad"}},
		{"integer", ":-42\r\n", Value{Kind: KindInteger, Int: -42}},
		{"bulk", "$5\r\nhe\r\no\r\n", Value{Kind: KindBulkString, Str: "he\r\no"}},
		{"empty bulk", "$0\r\n\r\n", Value{Kind: KindBulkString, Str: ""}},
		{"resp2 null bulk", "$-1\r\n", Value{Kind: KindNull}},
		{"resp2 null array", "*-1\r\n", Value{Kind: KindNull}},
		{"resp3 null", "_\r\n", Value{Kind: KindNull}},
		{"double", ",3.25\r\n", Double(3.25)},
		{"double inf", ",-inf\r\n", Double(math.Inf(-1))},
		{"true", "#t\r\n", Value{Kind: KindBoolean, Bool: true}},
		{"false", "#f\r\n", Value{Kind: KindBoolean}},
		{"big number", "(3492890328409238509324850943850943825024385\r\n", Value{Kind: KindBigNumber, Str: "3492890328409238509324850943850943825024385"}},
		{"verbatim", "=15\r\ntxt:Some string\r\n", Verbatim("txt", "Some string")},
		{"array", "*2\r\n:1\r\n$1\r\na\r\n", Value{Kind: KindArray, Elems: []Value{{Kind: KindInteger, Int: 1}, {Kind: KindBulkString, Str: "a"}}}},
		{"empty array", "*0\r\n", Value{Kind: KindArray, Elems: []Value{}}},
		{"map", "%1\r\n+k\r\n:7\r\n", Value{Kind: KindMap, Elems: []Value{{Kind: KindSimpleString, Str: "k"}, {Kind: KindInteger, Int: 7}}}},
		{"set", "~1\r\n+x\r\n", Value{Kind: KindSet, Elems: []Value{{Kind: KindSimpleString, Str: "x"}}}},
		{"push", ">2\r\n+message\r\n+ch\r\n", Value{Kind: KindPush, Elems: []Value{{Kind: KindSimpleString, Str: "message"}, {Kind: KindSimpleString, Str: "ch"}}}},
		{"attribute", "|1\r\n+ttl\r\n:3\r\n:5\r\n", Value{Kind: KindInteger, Int: 5}.WithAttrs([]Value{{Kind: KindSimpleString, Str: "ttl"}, {Kind: KindInteger, Int: 3}})},
		{"streamed string", "$?\r\n;4\r\nHell\r\n;1\r\no\r\n;0\r\n", Value{Kind: KindBulkString, Str: "Hello"}},
		{"streamed array", "*?\r\n:1\r\n:2\r\n.\r\n", Value{Kind: KindArray, Elems: []Value{{Kind: KindInteger, Int: 1}, {Kind: KindInteger, Int: 2}}}},
		{"nested", "*1\r\n*1\r\n:9\r\n", Value{Kind: KindArray, Elems: []Value{{Kind: KindArray, Elems: []Value{{Kind: KindInteger, Int: 9}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(t, tt.in, Limits{})
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReadMalformed(t *testing.T) {
	for _, in := range []string{
		"?\r\n", "+OK\n", ":12a\r\n", ":\r\n", ":99999999999999999999\r\n", "$abc\r\n", "$-2\r\n",
		"$3\r\nabcd\r\n", "#x\r\n", ",nope\r\n", "=2\r\nab\r\n", "(12x\r\n", "_x\r\n", "%-1\r\n",
		"$?\r\nfoo\r\n", "\r\n",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := decode(t, in, Limits{})
			var pe *ProtocolError
			require.ErrorAs(t, err, &pe)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func TestReadTruncated(t *testing.T) {
	full := "*3\r\n$5\r\nhello\r\n:1\r\n%1\r\n+a\r\n+b\r\n"
	for i := 1; i < len(full); i++ {
		_, err := decode(t, full[:i], Limits{})
		require.Error(t, err, "prefix %q", full[:i])
		assert.True(t, errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrMalformed), "prefix %q: %v", full[:i], err)
	}
	_, err := decode(t, "", Limits{})
	assert.Equal(t, io.EOF, err, "clean EOF between values")
}

func TestReadLimits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
	}{
		{"huge bulk header", "$999999999999\r\n", Limits{}},
		{"bulk over limit", "$11\r\nhello world\r\n", Limits{MaxBulkLen: 10}},
		{"huge array header", "*999999999999\r\n", Limits{}},
		{"map over limit", "%3\r\n", Limits{MaxAggregateLen: 2}},
		{"too deep", strings.Repeat("*1\r\n", 10) + ":1\r\n", Limits{MaxDepth: 5}},
		{"long line", "+" + strings.Repeat("x", 10000) + "\r\n", Limits{MaxBulkLen: 5000}},
		{"streamed over limit", "$?\r\n;6\r\nabcdef\r\n;6\r\nabcdef\r\n;0\r\n", Limits{MaxBulkLen: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := decode(t, tt.in, tt.lim)
			runtime.ReadMemStats(&after)
			assert.ErrorIs(t, err, ErrLimit)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "no big allocation before the check")
		})
	}
}

// repeatReader streams head, then elem n times, without holding the
// whole input in memory.
type repeatReader struct {
	head, elem string
	n          int
	pending    []byte
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.head != "" {
		r.pending, r.head = []byte(r.head), ""
	}
	for len(r.pending) < len(p) && r.n > 0 {
		r.pending = append(r.pending, r.elem...)
		r.n--
	}
	if len(r.pending) == 0 {
		return 0, io.EOF
	}
	k := copy(p, r.pending)
	r.pending = r.pending[k:]
	return k, nil
}

func TestReadAttributeChainIsNotRecursive(t *testing.T) {
	// 2 million attributes before one value: once a stack overflow that
	// killed the process.
	in := strings.Repeat("|0\r\n", 2_000_000) + "$1\r\nZ\r\n"
	_, err := decode(t, in, Limits{})
	assert.ErrorIs(t, err, ErrLimit)

	// A few attributes within MaxDepth are fine and are merged.
	v, err := decode(t, "|1\r\n+a\r\n:1\r\n|1\r\n+b\r\n:2\r\n$1\r\nZ\r\n", Limits{})
	require.NoError(t, err)
	assert.Equal(t, "Z", v.Str)
	assert.Len(t, v.Attrs(), 4)

	// Attributes count toward MaxDepth together with aggregates.
	_, err = decode(t, strings.Repeat("*1\r\n|0\r\n", 3)+":1\r\n", Limits{MaxDepth: 5})
	assert.ErrorIs(t, err, ErrLimit)
	_, err = decode(t, strings.Repeat("*1\r\n|0\r\n", 2)+":1\r\n", Limits{MaxDepth: 5})
	assert.NoError(t, err)
}

func TestReadMemoryBudget(t *testing.T) {
	const n = 16 << 20
	tests := []struct {
		name, head, elem string
	}{
		{"16M nulls", "*16777216\r\n", "_\r\n"},
		{"16M empty arrays", "*16777216\r\n", "*0\r\n"},
		{"streamed 16M nulls", "*?\r\n", "_\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &repeatReader{head: tt.head, elem: tt.elem, n: n}
			wire := int64(len(tt.head) + n*len(tt.elem))
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := NewReader(bufio.NewReader(src), Limits{}).Read()
			runtime.ReadMemStats(&after)
			assert.ErrorIs(t, err, ErrLimit)
			alloc := int64(after.TotalAlloc - before.TotalAlloc)
			assert.Less(t, alloc, 8*wire+64<<20, "allocated %d MiB for %d MiB on the wire", alloc>>20, wire>>20)
		})
	}

	// The budget is configurable, and ordinary replies fit the default.
	big := "*100000\r\n" + strings.Repeat("$5\r\nhello\r\n", 100000)
	v, err := decode(t, big, Limits{})
	require.NoError(t, err)
	assert.Len(t, v.Elems, 100000)
	_, err = decode(t, big, Limits{MemoryFactor: 1, MemorySlack: 1 << 10})
	assert.ErrorIs(t, err, ErrLimit)
}

func TestValueIsCompact(t *testing.T) {
	assert.LessOrEqual(t, ValueSize, int64(64))
	assert.Equal(t, 2.5, Double(2.5).Float())
	assert.Equal(t, "mkd", Verbatim("mkd", "x").Format())
}

func TestReadHugeDeclaredButShortData(t *testing.T) {
	// Within limits but the data never comes: memory follows the data.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decode(t, "$400000000\r\nabc", Limits{})
	runtime.ReadMemStats(&after)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))

	_, err = decode(t, "*10000000\r\n:1\r\n", Limits{})
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestReadLargeBulk(t *testing.T) {
	payload := strings.Repeat("0123456789", 100000) // 1 MB, read in chunks
	got, err := decode(t, "$1000000\r\n"+payload+"\r\n", Limits{})
	require.NoError(t, err)
	assert.Equal(t, payload, got.Str)
}

func TestReadBulkOverChunkFromLargeBuffer(t *testing.T) {
	// A payload over the chunk size that still fits a caller's large
	// buffer is read the chunked way, not copied out of the buffer.
	payload := strings.Repeat("abcdefgh", 12500) // 100 KB
	in := "$100000\r\n" + payload + "\r\n"
	got, err := NewReader(bufio.NewReaderSize(strings.NewReader(in), 256<<10), Limits{}).Read()
	require.NoError(t, err)
	assert.Equal(t, payload, got.Str)
}

func TestReadSequence(t *testing.T) {
	r := NewReader(bufio.NewReader(strings.NewReader("+a\r\n:1\r\n$1\r\nb\r\n")), Limits{})
	var got []string
	for {
		v, err := r.Read()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got = append(got, v.String())
	}
	assert.Equal(t, []string{`"a"`, "1", `"b"`}, got)
}

func TestReadValuesArrivingByteByByte(t *testing.T) {
	// Every payload is read from the buffer once it is all there; here each
	// arrives one read at a time, and the reader still waits for the end.
	in := "*3\r\n$5\r\nhello\r\n$0\r\n\r\n*1\r\n$3\r\nabc\r\n$4\r\nlast\r\n"
	r := NewReader(bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 16), Limits{})
	v, err := r.Read()
	require.NoError(t, err)
	assert.Equal(t, `["hello", "", ["abc"]]`, v.String())
	v, err = r.Read()
	require.NoError(t, err)
	assert.Equal(t, "last", v.Str)
	_, err = r.Read()
	assert.Equal(t, io.EOF, err)
}

func TestValueErr(t *testing.T) {
	v, err := decode(t, "-READONLY You can't write against a read only replica.\r\n", Limits{})
	require.NoError(t, err)
	rerr := v.Err()
	assert.ErrorIs(t, rerr, ErrReadOnly)
	assert.NotErrorIs(t, rerr, ErrNoScript)
	var re *RedisError
	require.ErrorAs(t, rerr, &re)
	assert.Equal(t, "READONLY", re.Prefix)
	assert.Contains(t, re.Error(), "read only replica")
	assert.Nil(t, Value{Kind: KindBulkString}.Err())
}

func TestRedisErrorKinds(t *testing.T) {
	tests := []struct {
		msg  string
		want error
	}{
		{"NOSCRIPT No matching script", ErrNoScript},
		{"WRONGTYPE Operation against a key holding the wrong kind of value", ErrWrongType},
		{"NOAUTH Authentication required.", ErrAuth},
		{"WRONGPASS invalid username-password pair or user is disabled.", ErrWrongPass},
		{"WRONGPASS invalid username-password pair or user is disabled.", ErrAuth},
		{"ERR invalid password", ErrAuth},
		{"LOADING Redis is loading the dataset in memory", ErrLoading},
		{"MASTERDOWN Link with MASTER is down", ErrMasterDown},
		{"NOREPLICAS Not enough good replicas to write.", ErrNoReplicas},
		{"BUSY Redis is busy running a script.", ErrBusy},
		{"EXECABORT Transaction discarded because of previous errors.", ErrExecAbort},
		{"MOVED 3999 127.0.0.1:6381", ErrMoved},
		{"ASK 3999 127.0.0.1:6381", ErrAsk},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			assert.ErrorIs(t, ParseError(tt.msg), tt.want)
		})
	}
	slot, addr, ok := ParseError("MOVED 3999 127.0.0.1:6381").Redirect()
	assert.True(t, ok)
	assert.Equal(t, 3999, slot)
	assert.Equal(t, "127.0.0.1:6381", addr)
	assert.NotErrorIs(t, ParseError("ERR unknown command"), ErrAuth)
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"+OK\r\n", "-ERR x\r\n", ":1\r\n", "$3\r\nabc\r\n", "*2\r\n:1\r\n:2\r\n", "%1\r\n+a\r\n+b\r\n",
		"~1\r\n#t\r\n", ">1\r\n_\r\n", "|1\r\n+a\r\n+b\r\n:1\r\n", "=7\r\ntxt:abc\r\n", "(123\r\n",
		",1.5\r\n", "$?\r\n;1\r\na\r\n;0\r\n", "*?\r\n:1\r\n.\r\n", "!3\r\nERR\r\n", "$-1\r\n",
		// hostile: an attribute chain, and replies that cost far more
		// decoded than on the wire
		strings.Repeat("|0\r\n", 64) + "$1\r\nZ\r\n",
		"*4096\r\n" + strings.Repeat("_\r\n", 4096),
		"*4096\r\n" + strings.Repeat("*0\r\n", 4096),
		"*?\r\n" + strings.Repeat("_\r\n", 2048) + ".\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxBulkLen: 1 << 16, MaxAggregateLen: 1 << 12, MaxDepth: 16, MemoryFactor: 8, MemorySlack: 16 << 10}
		r := NewReader(bufio.NewReaderSize(strings.NewReader(string(data)), 16), lim)
		for i := 0; i < 64; i++ {
			v, err := r.Read()
			if r.used > lim.MemoryFactor*r.wire+lim.MemorySlack {
				t.Fatalf("reply charged %d bytes for %d on the wire", r.used, r.wire)
			}
			if err != nil {
				var pe *ProtocolError
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &pe) {
					t.Fatalf("untyped error %v", err)
				}
				return
			}
			_ = v.String()
		}
	})
}

// The small strings of an aggregate (an MGET's values) share one
// allocation, cut per reply: a string kept from one reply never holds
// another reply's bytes, and big or nested strings still decode right.
func TestReadCutsSmallStringsFromOneSlabPerReply(t *testing.T) {
	var one strings.Builder
	one.WriteString("*10\r\n")
	for i := 0; i < 10; i++ {
		one.WriteString("$16\r\nvalue-" + strings.Repeat(string(rune('a'+i)), 10) + "\r\n")
	}
	big := strings.Repeat("x", 300)
	mixed := "*4\r\n$3\r\nabc\r\n$300\r\n" + big + "\r\n*2\r\n$1\r\nx\r\n$-1\r\n$2\r\nzz\r\n"
	stream := one.String() + one.String() + mixed

	r := NewReader(bufio.NewReaderSize(strings.NewReader(stream), 64<<10), Limits{})
	first, err := r.Read()
	require.NoError(t, err)
	second, err := r.Read()
	require.NoError(t, err)
	for i, v := range first.Elems {
		want := "value-" + strings.Repeat(string(rune('a'+i)), 10)
		assert.Equal(t, want, v.Str)
		assert.Equal(t, want, second.Elems[i].Str)
	}
	start := uintptr(unsafe.Pointer(unsafe.StringData(first.Elems[0].Str)))
	last := uintptr(unsafe.Pointer(unsafe.StringData(first.Elems[9].Str)))
	assert.Equal(t, start+9*16, last, "one reply's strings lie side by side in one slab")
	other := uintptr(unsafe.Pointer(unsafe.StringData(second.Elems[0].Str)))
	assert.False(t, other >= start && other <= last, "the next reply has a slab of its own")

	v, err := r.Read()
	require.NoError(t, err)
	require.Len(t, v.Elems, 4)
	assert.Equal(t, "abc", v.Elems[0].Str)
	assert.Equal(t, big, v.Elems[1].Str)
	assert.Equal(t, "x", v.Elems[2].Elems[0].Str)
	assert.Equal(t, KindNull, v.Elems[2].Elems[1].Kind)
	assert.Equal(t, "zz", v.Elems[3].Str)

	allocs := testing.AllocsPerRun(100, func() {
		r := NewReader(bufio.NewReaderSize(strings.NewReader(one.String()), 4096), Limits{})
		if _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
	})
	// The reader, its bufio buffer, the element array and one slab.
	assert.LessOrEqual(t, allocs, 5.0)
}

func TestReuseHandsTheElementArrayToTheNextReply(t *testing.T) {
	const n = 300
	want := make([][]string, n)
	var stream strings.Builder
	for i := range want {
		stream.WriteString("*10\r\n")
		for j := 0; j < 10; j++ {
			want[i] = append(want[i], strconv.Itoa(10000000+100*i+j))
			stream.WriteString("$8\r\n" + want[i][j] + "\r\n")
		}
	}
	r := NewReader(bufio.NewReaderSize(strings.NewReader(stream.String()), 64<<10), Limits{})
	read := func(i int) (Value, bool) { // allocation-free check of reply i
		v, err := r.Read()
		if err != nil || len(v.Elems) != 10 {
			return v, false
		}
		for j, e := range v.Elems {
			if e.Str != want[i][j] {
				return v, false
			}
		}
		return v, true
	}

	first, ok := read(0)
	require.True(t, ok)
	kept := first.Elems[3].Str // a string the consumer copied out
	Reuse(first)
	assert.Equal(t, make([]Value, 10), first.Elems, "the array is cleared: it no longer holds the reply's strings")
	assert.Equal(t, "10000003", kept, "strings live in the reply's slab, not in the array")

	i, bad := 1, 0
	allocs := testing.AllocsPerRun(n-4, func() { // n-3 reads (one to warm up), two replies left
		v, ok := read(i)
		if !ok {
			bad++
		}
		Reuse(v)
		i++
	})
	assert.Zero(t, bad, "every reply read into a reused array is right")
	if raceOn {
		assert.LessOrEqual(t, allocs, 2.0)
	} else {
		assert.Equal(t, 1.0, allocs, "only the slab: the array comes back each time")
	}

	// A value nobody hands back keeps its elements.
	last, ok := read(i)
	require.True(t, ok)
	Reuse(Value{Kind: KindArray, Elems: make([]Value, 0, maxReused+1)}) // too large to keep: ignored
	_, ok = read(i + 1)
	require.True(t, ok)
	assert.Equal(t, want[i][9], last.Elems[9].Str)
}

// loop is an endless stream of one reply, for benchmarks.
type loop struct {
	b   []byte
	off int
}

func (l *loop) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.b[l.off:])
		n += c
		l.off = (l.off + c) % len(l.b)
	}
	return n, nil
}

// BenchmarkReadMGETReply decodes the reply to an MGET of 10 keys of 16
// bytes, the array handed back as a copying consumer does.
func BenchmarkReadMGETReply(b *testing.B) {
	reply := "*10\r\n" + strings.Repeat("$16\r\n0123456789abcdef\r\n", 10)
	r := NewReader(bufio.NewReaderSize(&loop{b: []byte(strings.Repeat(reply, 64))}, 16<<10), Limits{})
	b.ReportAllocs()
	b.SetBytes(int64(len(reply)))
	for b.Loop() {
		v, err := r.Read()
		if err != nil || len(v.Elems) != 10 || v.Elems[9].Str != "0123456789abcdef" {
			b.Fatalf("read %v, %v", v, err)
		}
		Reuse(v)
	}
}

func TestRedisErrorRedacted(t *testing.T) {
	for _, tt := range []struct{ msg, want string }{
		{"ERR unknown command 'NOSUCHCMD', with args beginning with: 'secret' ", "ERR unknown command"},
		{`ERR Error running script: "secret"`, "ERR Error running script"},
		{"WRONGTYPE Operation against a key holding the wrong kind of value", "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"READONLY You can't write against a read only replica.", "READONLY You can't write against a read only replica."},
		{"ERR syntax error (near 'x')", "ERR syntax error (near"},
	} {
		full := ParseError(tt.msg)
		r := full.Redacted()
		assert.Equal(t, tt.want, r.Msg, tt.msg)
		assert.Equal(t, full.Prefix, r.Prefix)
		assert.Equal(t, tt.msg, full.Msg, "the original is unchanged")
	}
	assert.ErrorIs(t, ParseError("READONLY You can't write 'x'").Redacted(), ErrReadOnly)
}
