package deploy_test

import (
	"os"
	"strings"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/config"
)

// TestRunbookListsEverySetting checks the runbook's settings table against
// config.Reference: the same keys in the same order, with the code's
// variables, flags and defaults, so the table cannot drift from the code.
func TestRunbookListsEverySetting(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- settings:start -->")
	table, _, ok2 := strings.Cut(rest, "<!-- settings:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no settings table between <!-- settings:start --> and <!-- settings:end -->")
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[2:] {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 5 || strings.TrimSpace(cells[4]) == "" {
			t.Errorf("row without a meaning: %s", line)
			continue
		}
		row := make([]string, 4)
		for i := range row {
			row[i] = strings.Trim(strings.TrimSpace(cells[i]), "`–")
		}
		got = append(got, strings.Join(row, " | "))
	}
	var want []string
	for _, e := range config.Reference() {
		flag := e.Flag
		if flag != "" {
			flag = "--" + flag
		}
		want = append(want, strings.Join([]string{e.Key, e.Env, flag, e.Default}, " | "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the settings table differs from the code; want rows (key | env | flag | default):\n%s\n\ngot:\n%s",
			strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
}
