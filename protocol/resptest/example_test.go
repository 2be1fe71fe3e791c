package resptest_test

import (
	"bufio"
	"fmt"
	"net"

	"github.com/asyncredis/asyncredis/protocol"
	"github.com/asyncredis/asyncredis/protocol/resptest"
)

func Example() {
	// A server that answers the first command with half a reply, then
	// resets the connection: something a real Redis never does.
	srv, err := resptest.Start(func(c *resptest.Conn) {
		if _, err := c.ReadCommand(); err == nil {
			c.WriteRaw("$10\r\nhalf")
			c.Reset()
		}
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	nc, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	cmd, _ := protocol.AppendCommand(nil, "GET", "k")
	nc.Write(cmd)
	_, err = protocol.NewReader(bufio.NewReader(nc), protocol.Limits{}).Read()
	fmt.Println(err != nil)
	// Output:
	// true
}
