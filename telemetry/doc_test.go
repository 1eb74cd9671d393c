package telemetry_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The package comment is the naming contract: every gateway.* metric or
// span name that any package of the module spells in its (non-test) code
// must be listed there, and every name listed there must still be in the
// code. A package that adds an instrument without a line in doc.go fails
// here, with the name to add.
func TestDocListsEveryMetric(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{} // name -> "metric" or "span"
	metricLine := regexp.MustCompile(`^//\t(gateway\.[a-z0-9_.]+)\s+(counter|histogram|gauge)\s`)
	spanLine := regexp.MustCompile(`^//\t(gateway\.[a-z0-9_.]+)\s+attributes\s`)
	for _, l := range strings.Split(string(doc), "\n") {
		if m := metricLine.FindStringSubmatch(l); m != nil {
			documented[m[1]] += "metric"
		} else if m := spanLine.FindStringSubmatch(l); m != nil {
			documented[m[1]] += "span"
		}
	}
	if len(documented) < 10 {
		t.Fatalf("found only %d names in doc.go's tables; has their layout changed?", len(documented))
	}

	// Every string literal of the module's code that looks like one of our
	// instrument or span names ("gateway.<area>.<name>").
	name := regexp.MustCompile(`^gateway(\.[a-z0-9_]+)+$`)
	inCode := map[string][]string{} // name -> files
	root := filepath.Join("..")
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "gen", "third_party", "bin", "testdata", "node_modules", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && name.MatchString(s) {
					inCode[s] = append(inCode[s], path)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, stale []string
	for n, files := range inCode {
		if documented[n] == "" {
			missing = append(missing, n+" (in "+strings.Join(files, ", ")+")")
		}
	}
	for n := range documented {
		if len(inCode[n]) == 0 {
			stale = append(stale, n)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	for _, m := range missing {
		t.Errorf("%s is recorded but not listed in telemetry/doc.go (add a line to its Metrics or Spans table)", m)
	}
	for _, s := range stale {
		t.Errorf("telemetry/doc.go lists %s, which no code records any more", s)
	}
}
