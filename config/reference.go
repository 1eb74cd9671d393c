package config

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"
)

// Entry is one setting of the gateway: its YAML key (a dotted path; "[]"
// marks a list), its environment variable and flag where it has them, its
// default and its help text.
type Entry struct {
	Key     string
	Env     string
	Flag    string
	Default string
	Help    string
}

// Reference lists every setting of Config, read from its struct tags and
// Defaults, in declaration order. deploy/README.md's reference table is
// checked against it, so the runbook cannot drift from the code.
func Reference() []Entry {
	var out []Entry
	walk(reflect.TypeOf(Config{}), reflect.ValueOf(Defaults()), "", &out)
	return out
}

func walk(t reflect.Type, v reflect.Value, prefix string, out *[]Entry) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		key := prefix + name
		var fv reflect.Value
		if v.IsValid() {
			fv = v.Field(i)
		}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Duration(0)) && !isScalarStruct(ft):
			walk(ft, fv, key+".", out)
			continue
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			walk(ft.Elem(), reflect.Value{}, key+"[].", out)
			continue
		}
		e := Entry{Key: key, Env: f.Tag.Get("env"), Flag: f.Tag.Get("flag"), Help: strings.ReplaceAll(f.Tag.Get("help"), "'", "")}
		if fv.IsValid() && (!fv.IsZero() || ft == reflect.TypeOf(slog.LevelInfo)) {
			e.Default = fmt.Sprint(fv.Interface())
		}
		*out = append(*out, e)
	}
}

// isScalarStruct reports struct types that are one value in YAML (such as
// URL, which marshals itself as text).
func isScalarStruct(t reflect.Type) bool {
	type textMarshaler interface{ MarshalText() ([]byte, error) }
	return t.Implements(reflect.TypeOf((*textMarshaler)(nil)).Elem()) || reflect.PointerTo(t).Implements(reflect.TypeOf((*textMarshaler)(nil)).Elem())
}
