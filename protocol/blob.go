package protocol

import (
	"bytes"
	"io"
)

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
