package engine

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAPISameOnEveryPlatform checks that the package's exported API, as
// built for each platform, is the one built for Linux: engine_other.go's
// stubs must keep in step with the _linux.go files, or code that builds on
// shardnet would compile on Linux and not elsewhere (or the reverse). It
// reads the source, so it checks every platform from any one of them.
func TestAPISameOnEveryPlatform(t *testing.T) {
	linux := exportedAPI(t, "linux")
	if len(linux) == 0 {
		t.Fatal("no exported API found for linux")
	}
	for _, goos := range []string{"darwin", "freebsd", "windows"} {
		t.Run(goos, func(t *testing.T) {
			other := exportedAPI(t, goos)
			for _, d := range linux {
				if !slices.Contains(other, d) {
					t.Errorf("missing on %s: %s", goos, d)
				}
			}
			for _, d := range other {
				if !slices.Contains(linux, d) {
					t.Errorf("on %s but not on linux: %s", goos, d)
				}
			}
		})
	}
}

// exportedAPI returns the package's exported declarations built for goos,
// one line each, sorted. Parameter names are left out, and so are
// unexported struct fields: they are not part of the API.
func exportedAPI(t *testing.T, goos string) []string {
	t.Helper()
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = goos, "amd64", false
	pkg, err := ctx.ImportDir(".", 0)
	if err != nil {
		t.Fatalf("%s: %v", goos, err)
	}
	fset := token.NewFileSet()
	var api []string
	for _, name := range pkg.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(pkg.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			api = append(api, declAPI(decl)...)
		}
	}
	slices.Sort(api)
	return api
}

func declAPI(decl ast.Decl) []string {
	var out []string
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() {
			break
		}
		recv := ""
		if d.Recv != nil {
			recv = types.ExprString(d.Recv.List[0].Type)
			if !ast.IsExported(strings.TrimPrefix(recv, "*")) {
				break
			}
			recv = "(" + recv + ") "
		}
		out = append(out, "func "+recv+d.Name.Name+signature(d.Type))
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				if s.Name.IsExported() {
					out = append(out, "type "+s.Name.Name+" "+typeAPI(s))
				}
			case *ast.ValueSpec:
				for _, n := range s.Names {
					if n.IsExported() {
						out = append(out, d.Tok.String()+" "+n.Name)
					}
				}
			}
		}
	}
	return out
}

// signature prints a function type's parameter and result types.
func signature(ft *ast.FuncType) string {
	list := func(fl *ast.FieldList) string {
		var ts []string
		if fl != nil {
			for _, f := range fl.List {
				for range max(1, len(f.Names)) {
					ts = append(ts, types.ExprString(f.Type))
				}
			}
		}
		return "(" + strings.Join(ts, ", ") + ")"
	}
	return list(ft.Params) + " " + list(ft.Results)
}

// typeAPI prints a type's exported shape: a struct's exported fields, an
// interface's methods, or any other type as written.
func typeAPI(s *ast.TypeSpec) string {
	eq := ""
	if s.Assign.IsValid() {
		eq = "= "
	}
	switch tt := s.Type.(type) {
	case *ast.StructType:
		var fields []string
		for _, f := range tt.Fields.List {
			if len(f.Names) == 0 && ast.IsExported(strings.TrimPrefix(types.ExprString(f.Type), "*")) {
				fields = append(fields, types.ExprString(f.Type))
			}
			for _, n := range f.Names {
				if n.IsExported() {
					fields = append(fields, n.Name+" "+types.ExprString(f.Type))
				}
			}
		}
		return eq + "struct{" + strings.Join(fields, "; ") + "}"
	case *ast.InterfaceType:
		var methods []string
		for _, m := range tt.Methods.List {
			if ft, ok := m.Type.(*ast.FuncType); ok {
				methods = append(methods, m.Names[0].Name+signature(ft))
			} else {
				methods = append(methods, types.ExprString(m.Type))
			}
		}
		return eq + "interface{" + strings.Join(methods, "; ") + "}"
	}
	return eq + types.ExprString(s.Type)
}
