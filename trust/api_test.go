package trust

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoExportedMutableVars: an exported slice or map variable can be
// rewritten by any importer, changing what the package accepts for every
// other caller (as KnownStores once could). Export a function that returns
// a fresh copy instead.
func TestNoExportedMutableVars(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !id.IsExported() {
						continue
					}
					typ := vs.Type
					if typ == nil && i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.CompositeLit); ok {
							typ = lit.Type
						}
					}
					switch typ.(type) {
					case *ast.ArrayType, *ast.MapType:
						t.Errorf("%s: exported variable %s is a slice or map; make it a function returning a copy", fset.Position(id.Pos()), id.Name)
					}
				}
			}
		}
	}
}
