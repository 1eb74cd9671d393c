package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/intercom-gateway/intercom-gateway/config"
)

// printers are every way a value commonly reaches a log, an error or an
// output.
func printers(t *testing.T, v any) map[string]string {
	t.Helper()
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "v", v)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "v", v)
	asJSON, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	asYAML, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"%v": fmt.Sprintf("%v", v), "%+v": fmt.Sprintf("%+v", v), "%#v": fmt.Sprintf("%#v", v),
		"%s": fmt.Sprintf("%s", v), "%q": fmt.Sprintf("%q", v), "%x": fmt.Sprintf("%x", v), "%X": fmt.Sprintf("%X", v),
		"%10.3s": fmt.Sprintf("%10.3s", v), "error": fmt.Errorf("wrapped: %v", v).Error(),
		"slog": logged.String(), "json": string(asJSON), "yaml": string(asYAML),
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	const token = "dG9rOmFiY2RlZmdoaWprbG1ub3A=" // shaped like an Intercom access token
	s := config.Secret(token)
	if s.Reveal() != token {
		t.Fatalf("Reveal() = %q", s.Reveal())
	}
	type holder struct {
		Token  config.Secret
		Hashes []config.Secret
		ByName map[string]config.Secret
	}
	for name, v := range map[string]any{
		"secret": s, "pointer": &s, "struct": holder{Token: s, Hashes: []config.Secret{s}, ByName: map[string]config.Secret{"a": s}},
	} {
		for how, out := range printers(t, v) {
			if strings.Contains(out, token) || strings.Contains(out, "dG9r") || strings.Contains(out, fmt.Sprintf("%x", token)[:12]) {
				t.Errorf("%s %s shows the secret: %s", name, how, out)
			}
			if !strings.Contains(out, config.Redacted) && how != "%x" && how != "%X" && how != "%10.3s" {
				t.Errorf("%s %s does not say %s: %s", name, how, config.Redacted, out)
			}
		}
	}
	if got := fmt.Sprint(config.Secret("")); got != "" {
		t.Errorf("empty secret prints %q, want nothing", got)
	}
}

func TestURLHidesItsPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"https://gw:hunter2@proxy.example:8443/intercom", "https://gw:xxxxx@proxy.example:8443/intercom"},
		{"http://proxy.example", "http://proxy.example"},
		{"http://u:hunter2@[::1", config.Redacted}, // unparseable: cannot tell the password apart
	} {
		u := config.URL(tc.url)
		if u.Reveal() != tc.url {
			t.Errorf("Reveal() = %q", u.Reveal())
		}
		for how, out := range printers(t, u) {
			if strings.Contains(out, "hunter2") || strings.Contains(out, "68756e74657232") {
				t.Errorf("%s shows the password: %s", how, out)
			}
			if how == "%v" && out != tc.want {
				t.Errorf("%%v = %q, want %q", out, tc.want)
			}
		}
	}
}
