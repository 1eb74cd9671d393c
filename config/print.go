package config

import (
	"bytes"
	"log/slog"

	"go.yaml.in/yaml/v3"
)

// YAML returns c as YAML with every secret redacted (Secret and URL marshal
// themselves redacted): what `gateway config check` prints.
func (c Config) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// LogValue logs c with every secret redacted: the YAML form, as nested
// groups, so that a field added to Config shows up with no change here.
func (c Config) LogValue() slog.Value {
	b, err := c.YAML()
	if err != nil {
		return slog.StringValue("unprintable config: " + err.Error())
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return slog.StringValue("unprintable config: " + err.Error())
	}
	return slog.AnyValue(m)
}
