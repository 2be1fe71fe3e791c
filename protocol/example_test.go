package protocol_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/asyncredis/asyncredis/protocol"
)

func Example() {
	cmd := protocol.AppendArrayHeader(nil, 3)
	cmd = protocol.AppendString(cmd, "SET")
	cmd = protocol.AppendString(cmd, "greeting")
	cmd = protocol.AppendString(cmd, "hello")
	fmt.Printf("%q\n", cmd)

	replies := "%1\r\n+server\r\n+redis\r\n-READONLY You can't write against a read only replica.\r\n"
	r := protocol.NewReader(bufio.NewReader(strings.NewReader(replies)), protocol.Limits{})
	v, _ := r.Read()
	fmt.Println(v.Kind, v)
	v, _ = r.Read()
	fmt.Println(errors.Is(v.Err(), protocol.ErrReadOnly))

	_, err := protocol.NewReader(bufio.NewReader(bytes.NewReader([]byte("$999999999999\r\n"))), protocol.Limits{}).Read()
	fmt.Println(errors.Is(err, protocol.ErrLimit))
	// Output:
	// "*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$5\r\nhello\r\n"
	// map {"server": "redis"}
	// true
	// true
}
