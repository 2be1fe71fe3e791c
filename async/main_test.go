package async_test

import (
	"testing"

	"github.com/asyncredis/asyncredis/integration"
)

func TestMain(m *testing.M) { integration.LeakCheckMain(m) }
