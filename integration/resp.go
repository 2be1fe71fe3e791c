package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// The harness speaks just enough RESP2 to configure and inspect servers.
// It is deliberately independent of the client under test, so that the
// harness can be trusted as an oracle.

// ServerError is an error reply ("-ERR ...") from a server.
type ServerError struct{ Msg string }

func (e *ServerError) Error() string { return "integration: server replied: " + e.Msg }

// respConn is one connection of the harness' own RESP2 client.
type respConn struct {
	c  net.Conn
	br *bufio.Reader
}

// dialRESP connects to addr ("host:port" or a unix socket path starting
// with "/"), optionally over TLS, and authenticates when password is set.
func dialRESP(ctx context.Context, addr string, tlsCfg *tls.Config, username, password string) (*respConn, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	network := "tcp"
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		tc := tls.Client(c, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		c = tc
	}
	rc := &respConn{c: c, br: bufio.NewReader(c)}
	if password != "" {
		args := []string{"AUTH", password}
		if username != "" {
			args = []string{"AUTH", username, password}
		}
		if _, err := rc.do(ctx, args...); err != nil {
			rc.Close()
			return nil, err
		}
	}
	return rc, nil
}

func (rc *respConn) Close() error { return rc.c.Close() }

// do sends one command and reads its reply. A server error is returned as
// *ServerError; the connection stays usable after it.
func (rc *respConn) do(ctx context.Context, args ...string) (any, error) {
	if err := rc.send(ctx, args...); err != nil {
		return nil, err
	}
	return rc.read(ctx)
}

// pipeline sends cmds in one write and reads their replies; the first
// error reply is returned, after every reply was read.
func (rc *respConn) pipeline(ctx context.Context, cmds [][]string) error {
	replies, err := rc.pipelineReplies(ctx, cmds)
	if err != nil {
		return err
	}
	for _, v := range replies {
		if se, ok := v.(*ServerError); ok {
			return se
		}
	}
	return nil
}

// pipelineReplies sends cmds in one write and returns their replies, an
// error reply as a *ServerError value in its place.
func (rc *respConn) pipelineReplies(ctx context.Context, cmds [][]string) ([]any, error) {
	setDeadline(ctx, rc.c)
	var b strings.Builder
	for _, args := range cmds {
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	if _, err := io.WriteString(rc.c, b.String()); err != nil {
		return nil, err
	}
	out := make([]any, len(cmds))
	for i := range cmds {
		v, err := readValue(rc.br)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (rc *respConn) send(ctx context.Context, args ...string) error {
	setDeadline(ctx, rc.c)
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_, err := io.WriteString(rc.c, b.String())
	return err
}

func (rc *respConn) read(ctx context.Context) (any, error) {
	setDeadline(ctx, rc.c)
	v, err := readValue(rc.br)
	if err != nil {
		return nil, err
	}
	if se, ok := v.(*ServerError); ok {
		return nil, se
	}
	return v, nil
}

func setDeadline(ctx context.Context, c net.Conn) {
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(10 * time.Second))
	}
}

// readValue decodes one RESP2 value: string, int64, []any, nil, or
// *ServerError for an error reply nested anywhere.
func readValue(br *bufio.Reader) (any, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("integration: malformed reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return &ServerError{Msg: body}, nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > 512<<20 {
			return nil, fmt.Errorf("integration: bad bulk length %q", body)
		}
		if n == -1 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > 1<<20 {
			return nil, fmt.Errorf("integration: bad array length %q", body)
		}
		if n == -1 {
			return nil, nil
		}
		arr := make([]any, n)
		for i := range arr {
			if arr[i], err = readValue(br); err != nil {
				return nil, err
			}
		}
		return arr, nil
	}
	return nil, fmt.Errorf("integration: unexpected reply type %q", line[0])
}

// asStringMap turns a flat [k1 v1 k2 v2 ...] reply into a map.
func asStringMap(v any) (map[string]string, error) {
	arr, ok := v.([]any)
	if !ok || len(arr)%2 != 0 {
		return nil, fmt.Errorf("integration: expected a flat key/value array, got %T", v)
	}
	m := make(map[string]string, len(arr)/2)
	for i := 0; i < len(arr); i += 2 {
		k, _ := arr[i].(string)
		val, _ := arr[i+1].(string)
		m[k] = val
	}
	return m, nil
}

// asMapList turns an array of flat key/value arrays into maps.
func asMapList(v any) ([]map[string]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("integration: expected an array, got %T", v)
	}
	out := make([]map[string]string, 0, len(arr))
	for _, e := range arr {
		m, err := asStringMap(e)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// parseInfo turns an INFO reply into its key/value pairs (sections merged).
func parseInfo(s string) map[string]string {
	m := make(map[string]string)
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

var errNotReady = errors.New("integration: not ready")
