package server_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// readmeRows are the rows of README.md's "Failure behaviour" table that
// are not fault-matrix cases but are covered by tests elsewhere; they are
// kept so that the table is compared whole.
var readmeRows = map[string]bool{
	"replica restarted under load": true, // deploy.TestComposeStackWithoutDocker (rolling restart)
}

// failureTableRow renders one matrix case as README's table shows it.
func failureTableRow(tc matrixCase) string {
	rest := fmt.Sprint(tc.wantHTTP)
	if tc.wantHTTP == -1 {
		rest = "(client gone)"
	}
	ri := "no"
	if tc.wantRetryInfo {
		ri = "yes"
	}
	retry := "no"
	switch {
	case tc.wantCode == codes.OK:
		retry = "n/a"
	case tc.retryable:
		retry = "yes"
	}
	keyed := "same"
	if tc.keyed != nil {
		keyed = fmt.Sprintf("%s / %d", strings.ToUpper(codeSnake(tc.keyed.code)), tc.keyed.http)
	}
	if !tc.call.create {
		keyed = "n/a"
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %d | %s | %s |", tc.name, strings.ToUpper(codeSnake(tc.wantCode)), rest, ri, tc.wantAttempts, keyed, retry)
}

func codeSnake(c codes.Code) string {
	switch c {
	case codes.OK:
		return "ok"
	case codes.DeadlineExceeded:
		return "deadline_exceeded"
	case codes.ResourceExhausted:
		return "resource_exhausted"
	default:
		return strings.ToLower(c.String())
	}
}

// TestReadmeFailureTableMatchesMatrix: every matrix case has its row in
// README.md's "Failure behaviour" table, with the outcome the matrix
// asserts, and the table has no row the matrix (or readmeRows) lacks. On
// failure it prints the rows to paste.
func TestReadmeFailureTableMatchesMatrix(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Failure behaviour\n")
	if !ok {
		t.Fatal(`README.md has no "## Failure behaviour" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	got := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Fault") {
			continue
		}
		name := strings.TrimSpace(strings.Split(line, "|")[1])
		got[name] = strings.TrimSpace(line)
	}
	var want []string
	seen := map[string]bool{}
	for _, tc := range matrixCases {
		row := failureTableRow(tc)
		want = append(want, row)
		seen[tc.name] = true
		if got[tc.name] != row {
			t.Errorf("README row for %q:\n got  %s\n want %s", tc.name, got[tc.name], row)
		}
	}
	for name := range got {
		if !seen[name] && !readmeRows[name] {
			t.Errorf("README row %q is not a fault-matrix case", name)
		}
	}
	for name := range readmeRows {
		if got[name] == "" {
			t.Errorf("README lacks the row %q", name)
		}
	}
	if t.Failed() {
		t.Logf("matrix rows:\n%s", strings.Join(want, "\n"))
	}
}
