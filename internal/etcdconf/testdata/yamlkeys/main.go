// yamlkeys lists the config-file keys of an etcd release from its source:
// the json tags of embed.Config and configJSON (top level), and of
// securityConfig and transport.SocketOpts under the keys that hold them.
// Usage, from the module cache:
//
//	go run ./internal/etcdconf/testdata/yamlkeys/main.go \
//	    $(go env GOMODCACHE)/go.etcd.io/etcd/server/v3@v3.6.16 \
//	    $(go env GOMODCACHE)/go.etcd.io/etcd/client/pkg/v3@v3.6.16/transport > yaml-keys-3.6.16.txt
//
// The committed lists were also checked against the binaries: every key is
// a json tag in `strings etcd`.
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

func structs(path string) map[string]*ast.StructType {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		panic(err)
	}
	m := map[string]*ast.StructType{}
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			if st, ok := ts.Type.(*ast.StructType); ok {
				m[ts.Name.Name] = st
			}
		}
		return true
	})
	return m
}

func tags(st *ast.StructType) map[string]string {
	out := map[string]string{} // key -> type expr
	for _, f := range st.Fields.List {
		if f.Tag == nil {
			continue
		}
		s, _ := strconv.Unquote(f.Tag.Value)
		name := strings.Split(reflect.StructTag(s).Get("json"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		var typ string
		switch t := f.Type.(type) {
		case *ast.Ident:
			typ = t.Name
		case *ast.SelectorExpr:
			typ = t.Sel.Name
		}
		out[name] = typ
	}
	return out
}

func main() {
	server, transportDir := os.Args[1], os.Args[2]
	e := structs(server + "/embed/config.go")
	var sock *ast.StructType
	for _, p := range []string{"sockopt.go"} {
		if s, ok := structs(transportDir + "/" + p)["SocketOpts"]; ok {
			sock = s
		}
	}
	keys := map[string]bool{}
	for _, name := range []string{"Config", "configJSON"} {
		st, ok := e[name]
		if !ok {
			continue
		}
		for k, typ := range tags(st) {
			keys[k] = true
			switch typ {
			case "securityConfig":
				for c := range tags(e["securityConfig"]) {
					keys[k+"."+c] = true
				}
			case "SocketOpts":
				for c := range tags(sock) {
					keys[k+"."+c] = true
				}
			}
		}
	}
	var out []string
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	fmt.Println(strings.Join(out, "\n"))
}
