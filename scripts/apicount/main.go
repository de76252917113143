// Command apicount counts the exported API of gorobust's public packages:
// every exported top-level const, var, func and type, every exported method
// of an exported type, and (reported separately) every exported struct field
// and interface method of an exported type. Test files, package main and
// packages under internal/ are not counted.
//
//	go run ./scripts/apicount          # totals per package
//	go run ./scripts/apicount -v       # every name
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	verbose := flag.Bool("v", false, "print every counted name")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "apicount counts the exported names of gorobust's public packages.\n\nUsage: go run ./scripts/apicount [-v]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	pkgs := map[string][]*ast.File{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			base := d.Name()
			if path != "." && (strings.HasPrefix(base, ".") || base == "internal" || base == "testdata" || base == "examples" || base == "scripts") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		dir := filepath.Dir(path)
		pkgs[dir] = append(pkgs[dir], f)
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "apicount:", err)
		os.Exit(1)
	}
	dirs := make([]string, 0, len(pkgs))
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var totalNames, totalMembers int
	fmt.Printf("%-22s %6s %8s\n", "package", "names", "+members")
	for _, d := range dirs {
		names, members := count(pkgs[d])
		totalNames += len(names)
		totalMembers += len(members)
		fmt.Printf("%-22s %6d %8d\n", d, len(names), len(names)+len(members))
		if *verbose {
			for _, n := range names {
				fmt.Println("    ", n)
			}
			for _, n := range members {
				fmt.Println("      .", n)
			}
		}
	}
	fmt.Printf("%-22s %6d %8d\n", "total", totalNames, totalNames+totalMembers)
}

// count returns the exported names (top-level declarations and methods) and
// the exported members (struct fields, interface methods) of one package.
func count(files []*ast.File) (names, members []string) {
	exportedType := map[string]bool{}
	for _, f := range files {
		for _, decl := range f.Decls {
			if g, ok := decl.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					ts := s.(*ast.TypeSpec)
					if ts.Name.IsExported() {
						exportedType[ts.Name.Name] = true
					}
				}
			}
		}
	}
	for _, f := range files {
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					names = append(names, d.Name.Name)
					continue
				}
				recv := receiverName(d.Recv.List[0].Type)
				if exportedType[recv] {
					names = append(names, recv+"."+d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names = append(names, n.Name)
							}
						}
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						names = append(names, s.Name.Name)
						members = append(members, fieldNames(s.Name.Name, s.Type)...)
					}
				}
			}
		}
	}
	sort.Strings(names)
	sort.Strings(members)
	return names, members
}

func receiverName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return receiverName(t.X)
	case *ast.IndexExpr:
		return receiverName(t.X)
	case *ast.IndexListExpr:
		return receiverName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return ""
}

func fieldNames(typ string, e ast.Expr) []string {
	var list *ast.FieldList
	switch t := e.(type) {
	case *ast.StructType:
		list = t.Fields
	case *ast.InterfaceType:
		list = t.Methods
	default:
		return nil
	}
	var out []string
	for _, f := range list.List {
		for _, n := range f.Names {
			if n.IsExported() {
				out = append(out, typ+"."+n.Name)
			}
		}
		if len(f.Names) == 0 { // embedded
			if id := receiverName(f.Type); id != "" && ast.IsExported(id) {
				out = append(out, typ+"."+id)
			}
		}
	}
	return out
}
