package components

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEveryActionHasALabel: the audit log's Action filter offers the actions that have a
// label, so an action the portal records without one could be seen but never filtered by.
// The actions are the constants named Action… in package db, read from its source.
func TestEveryActionHasALabel(t *testing.T) {
	files, err := filepath.Glob("../db/*.go")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Action") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					action, _ := strconv.Unquote(lit.Value)
					found++
					if _, ok := actionLabels[action]; !ok {
						t.Errorf("db.%s (%q, %s) has no label in actionLabels", name.Name, action, filepath.Base(path))
					}
				}
			}
		}
	}
	if found < 30 {
		t.Fatalf("found %d actions in package db, want them all", found)
	}
}
