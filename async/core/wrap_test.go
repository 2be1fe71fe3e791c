package core_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/async/core/coretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every sink in the module that wraps one other sink (a struct with a
// Complete method and a field of type Sink) embeds core.Wrapper, so that
// it cannot forget to forward a capability. The table tests of each
// package's wrappers (this one's below; pool's blockingSink, managedpool's
// entry) check what each passes on.
func TestEverySinkWrapperEmbedsWrapper(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (d.Name() == "bench" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		completes := map[string]bool{}
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Recv != nil && fd.Name.Name == "Complete" {
				completes[recvName(fd.Recv.List[0].Type)] = true
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok || !completes[ts.Name.Name] {
				return true
			}
			wraps, embeds := false, false
			for _, fl := range st.Fields.List {
				name := typeName(fl.Type)
				if name == "Sink" && len(fl.Names) > 0 {
					wraps = true
				}
				if name == "Wrapper" && len(fl.Names) == 0 {
					wraps, embeds = true, true
				}
			}
			if wraps {
				found = append(found, path+":"+ts.Name.Name)
				assert.True(t, embeds, "%s: %s wraps a sink without embedding core.Wrapper", path, ts.Name.Name)
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(found), 3, "the wrappers found: %v", found)
	t.Logf("sink wrappers: %v", found)
}

func recvName(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if ix, ok := e.(*ast.IndexExpr); ok {
		e = ix.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func typeName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

func TestHookedSinkForwardsEveryCapability(t *testing.T) {
	inner := &coretest.Inner{}
	var results []core.CommandResult
	w := core.HookedSink(inner, func(r core.CommandResult) { results = append(results, r) })
	got := coretest.Forwarded(w, inner, true)
	assert.Equal(t, map[string]bool{"SetPull": true, "Resolved": true, "Consumes": true, "Requeue": true, "Offer": true}, got)
	require.Len(t, results, 2, "the requeue and the reply are reported")
	assert.True(t, results[0].Requeued)
}
