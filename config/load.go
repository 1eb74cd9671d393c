package config

import (
	"bytes"
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	koanfyaml "github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
	"go.yaml.in/yaml/v3"
)

// FileEnv names the variable that gives the config file (flag --config).
const FileEnv = "GATEWAY_CONFIG"

// Load reads the gateway's Config: Defaults, then the YAML file named by
// --config or GATEWAY_CONFIG (if any), then environment variables, then
// flags, and validates the result, including that every workspace's token
// is there (unless the sandbox replaces Intercom). name is the command name
// for -h, which prints to usage and returns flag.ErrHelp. Every error is one
// line that names the file and line, variable or flag at fault, and none
// contains a secret.
func Load(name string, args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	c, err := load(name, Defaults(), args, getenv, usage, true)
	if err != nil {
		return Config{}, err
	}
	if err := c.validate(getenv, true); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Check is `gateway config check`: Load of one file plus the environment,
// without flags and without requiring the tokens to be present on this
// machine (they usually are not where the file is reviewed).
func Check(path string, getenv func(string) string) (Config, error) {
	c, err := load("gateway config check", Defaults(), []string{"--config", path}, getenv, io.Discard, true)
	if err != nil {
		return Config{}, err
	}
	if err := c.validate(getenv, false); err != nil {
		return Config{}, err
	}
	return c, nil
}

// binding is one field that env or a flag can set.
type binding struct {
	key  string // koanf path, e.g. listen.grpc_addr
	env  string
	flag string
	help string
	typ  reflect.Type
	def  string // the default, for -h
}

// bindings lists the fields of v (a struct) that have an env or flag tag.
func bindings(v reflect.Value, prefix string) []binding {
	var out []binding
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			out = append(out, bindings(v.Field(i), key+".")...)
			continue
		}
		env, fl := f.Tag.Get("env"), f.Tag.Get("flag")
		if env == "" && fl == "" {
			continue
		}
		out = append(out, binding{key: key, env: env, flag: fl, help: f.Tag.Get("help"), typ: f.Type, def: display(v.Field(i))})
	}
	return out
}

func display(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case slog.Level:
		return strings.ToLower(x.String())
	case bool:
		if !x {
			return "" // flag's usage shows no default for false
		}
	}
	return fmt.Sprint(v.Interface())
}

var (
	durationType      = reflect.TypeFor[time.Duration]()
	levelType         = reflect.TypeFor[slog.Level]()
	textUnmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// parse converts one env or flag value to t. Its errors quote the value,
// which is why no Secret field has an env or flag binding.
func parse(t reflect.Type, s string) (any, error) {
	switch {
	case t == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("not a duration (want e.g. 20s or 1m30s): %q", s)
		}
		return d, nil
	case t == levelType:
		var l slog.Level
		if err := l.UnmarshalText([]byte(s)); err != nil {
			return nil, fmt.Errorf("not a log level (want debug, info, warn or error): %q", s)
		}
		return l, nil
	case reflect.PointerTo(t).Implements(textUnmarshalType):
		p := reflect.New(t)
		if err := p.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return nil, err
		}
		return p.Elem().Interface(), nil
	}
	switch t.Kind() {
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("not true or false: %q", s)
		}
		return b, nil
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("not an integer: %q", s)
		}
		return n, nil
	case reflect.String:
		return reflect.ValueOf(s).Convert(t).Interface(), nil
	}
	return nil, fmt.Errorf("config: no parser for %v", t) // a programming error, caught by the tests
}

// flagValue is a flag.Value for one binding.
type flagValue struct {
	b     *binding
	text  string
	value any
}

func (f *flagValue) String() string {
	if f == nil {
		return ""
	}
	return f.text
}

func (f *flagValue) Set(s string) error {
	v, err := parse(f.b.typ, s)
	if err != nil {
		return err
	}
	f.text, f.value = s, v
	return nil
}

func (f *flagValue) IsBoolFlag() bool { return f.b.typ.Kind() == reflect.Bool }

// load is Load without validation, for any struct T with tagged fields.
func load[T any](name string, def T, args []string, getenv func(string) string, usage io.Writer, withFile bool) (T, error) {
	var zero T
	bs := bindings(reflect.ValueOf(def), "")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned as one line, not printed with the usage
	var file string
	if withFile {
		fs.StringVar(&file, "config", "", fmt.Sprintf("YAML configuration `file` (env %s)", FileEnv))
	}
	values := map[string]*flagValue{}
	for i := range bs {
		b := &bs[i]
		if b.flag == "" {
			continue
		}
		v := &flagValue{b: b, text: b.def}
		values[b.flag] = v
		// 'word' in a help text names the flag's argument in -h, as
		// `word` does for the flag package (struct tags cannot hold `).
		help := strings.ReplaceAll(b.help, "'", "`")
		if b.env != "" {
			help += fmt.Sprintf(" (env %s)", b.env)
		}
		fs.Var(v, b.flag, help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(usage, name, fs, bs)
			return zero, err
		}
		return zero, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return zero, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}

	k := koanf.New(".")
	if withFile {
		if file == "" {
			file = getenv(FileEnv)
		}
		if file != "" {
			data, err := os.ReadFile(file)
			if err != nil {
				return zero, fmt.Errorf("config: %w", err)
			}
			if err := strictYAML(file, data, def); err != nil {
				return zero, err
			}
			if err := k.Load(rawbytes.Provider(data), koanfyaml.Parser()); err != nil {
				return zero, fmt.Errorf("config: %s: %w", file, err)
			}
		}
	}
	fromEnv := map[string]any{}
	for _, b := range bs {
		if b.env == "" {
			continue
		}
		// An empty variable counts as unset, as a shell's VAR= usually means.
		if s := getenv(b.env); s != "" {
			v, err := parse(b.typ, s)
			if err != nil {
				return zero, fmt.Errorf("config: %s: %w", b.env, err)
			}
			fromEnv[b.key] = v
		}
	}
	if err := k.Load(confmap.Provider(fromEnv, "."), nil); err != nil {
		return zero, fmt.Errorf("config: %w", err)
	}
	fromFlags := map[string]any{}
	fs.Visit(func(f *flag.Flag) {
		if v, ok := values[f.Name]; ok {
			fromFlags[v.b.key] = v.value
		}
	})
	if err := k.Load(confmap.Provider(fromFlags, "."), nil); err != nil {
		return zero, fmt.Errorf("config: %w", err)
	}

	out := def
	err := k.UnmarshalWithConf("", &out, koanf.UnmarshalConf{Tag: "yaml", DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.TextUnmarshallerHookFunc()),
		ErrorUnused: true,
	}})
	if err != nil {
		// strictYAML has already refused what a file can get wrong, with its
		// line, so this is not expected; keep it to one line all the same.
		return zero, fmt.Errorf("config: %s", strings.Join(strings.Fields(err.Error()), " "))
	}
	return out, nil
}

func printUsage(w io.Writer, name string, fs *flag.FlagSet, bs []binding) {
	fmt.Fprintf(w, "Usage: %s [flags]\n\nFlags override environment variables, which override the config file.\n\n", name)
	fs.SetOutput(w)
	fs.PrintDefaults()
	for _, b := range bs {
		if b.flag == "" {
			fmt.Fprintf(w, "  %s (env only)\n    \t%s\n", b.env, strings.ReplaceAll(b.help, "'", ""))
		}
	}
}

var (
	yamlLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	quotedValue  = regexp.MustCompile("`[^`]*` ")
)

// strictYAML decodes the file into a T with unknown keys refused, so that
// a typo is an error naming the file and line rather than a setting
// silently ignored. koanf's map-based merge keeps no lines. Values are cut
// from type errors: a misplaced secret must not be printed.
func strictYAML[T any](file string, data []byte, _ T) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var into T
	err := dec.Decode(&into)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0] // one line: the first problem is the one to fix first
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, what := m[1], m[2]
		if u := unknownField.FindStringSubmatch(what); u != nil {
			return fmt.Errorf("config: %s:%s: unknown key %q", file, line, u[1])
		}
		return fmt.Errorf("config: %s:%s: %s", file, line, quotedValue.ReplaceAllString(what, ""))
	}
	return fmt.Errorf("config: %s: %s", file, quotedValue.ReplaceAllString(strings.TrimPrefix(msg, "yaml: "), ""))
}

// LoadSandbox reads the configuration of `gateway sandbox` from env and
// flags (no file).
func LoadSandbox(args []string, getenv func(string) string, usage io.Writer) (SandboxServer, error) {
	c, err := load("gateway sandbox", DefaultsSandboxServer(), args, getenv, usage, false)
	if err != nil {
		return SandboxServer{}, err
	}
	c.Log.Format = strings.ToLower(c.Log.Format)
	if err := addr("GATEWAY_SANDBOX_ADDR (--addr)", c.Addr); err != nil {
		return SandboxServer{}, err
	}
	return c, oneOf("log.format (GATEWAY_LOG_FORMAT)", c.Log.Format, "json", "text")
}
