package core_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/asyncredis/asyncredis"

// The layering rule of the package documentation, checked file by file
// on the library's code (tests, examples, integration and bench aside).
func TestLayers(t *testing.T) {
	root := filepath.Join("..", "..")
	// Each directory: the module's packages its files may not import, and
	// the files excepted (a facade's).
	rules := []struct {
		dir    string
		banned []string
		except []string
	}{
		{"protocol", []string{"async", "async/core", "pool", "managedpool", "sentinel", "pool/cluster"}, nil},
		{"async/core", []string{"async", "pool", "managedpool", "sentinel", "pool/cluster"}, nil},
		{"async", []string{"pool", "managedpool", "sentinel", "pool/cluster", "pool/waitline"}, nil},
		{"pool", []string{"async", "managedpool", "sentinel", "pool/cluster"}, nil},
		{"pool/waitline", []string{"async", "pool", "managedpool", "sentinel", "pool/cluster"}, nil},
		{"managedpool", []string{"async", "sentinel", "pool/cluster"}, nil},
		{"pool/cluster", []string{"async", "sentinel", "managedpool"}, []string{"whole.go"}},
	}
	for _, r := range rules {
		files, err := filepath.Glob(filepath.Join(root, r.dir, "*.go"))
		require.NoError(t, err)
		require.NotEmpty(t, files, r.dir)
		for _, f := range files {
			base := filepath.Base(f)
			if strings.HasSuffix(base, "_test.go") || contains(r.except, base) {
				continue
			}
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			require.NoError(t, err)
			for _, imp := range parsed.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				rel, ok := strings.CutPrefix(path, module+"/")
				assert.False(t, ok && contains(r.banned, rel), "%s/%s imports %s", r.dir, base, path)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
