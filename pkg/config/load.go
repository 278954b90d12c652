package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// DefaultPath is the config file read when --config is not given. A missing
// default file is not an error; a missing file named with --config is.
const DefaultPath = "config/config.yaml"

// EnvPrefixes are the environment prefixes read, in increasing priority:
// the seed's QDRANT__ names are aliases and SHOAL__ wins over them.
var EnvPrefixes = []string{"QDRANT__", "SHOAL__"}

// flagKeys maps each command-line flag to the key it sets.
var flagKeys = map[string]string{
	"log-level":    "log_level",
	"uri":          "node.uri",
	"bootstrap":    "node.bootstrap",
	"name":         "node.name",
	"meta":         "meta.endpoints",
	"storage-path": "storage.storage_path",
	"http-port":    "service.http_port",
	"grpc-port":    "service.grpc_port",
	"p2p-port":     "cluster.p2p.port",
	"node-type":    "storage.node_type",
}

// Load reads the configuration of a binary named prog from args (without
// the program name) and environ (os.Environ when nil). It returns an error
// naming the key for an unknown key or a bad value. ErrHelp is returned
// (wrapped) for --help.
func Load(prog string, args []string, environ func() []string) (Config, error) {
	return load(prog, args, environ, true)
}

func load(prog string, args []string, environ func() []string, readDefaultFile bool) (Config, error) {
	fs := pflag.NewFlagSet(prog, pflag.ContinueOnError)
	configPath := fs.String("config", DefaultPath, "path of the YAML configuration file")
	fs.String("log-level", "", "log level: trace, debug, info, warn, error")
	fs.String("uri", "", "this node's advertised internal address, e.g. http://host:6335")
	fs.String("bootstrap", "", "meta only: peer URI of a running meta node to join")
	fs.String("name", "", "meta only: this node's member name (default derived from --uri)")
	fs.StringSlice("meta", nil, "meta tier etcd client endpoints, e.g. http://meta:2379")
	fs.String("storage-path", "", "data directory")
	fs.Int("http-port", 0, "router REST port")
	fs.Int("grpc-port", 0, "router gRPC port")
	fs.Int("p2p-port", 0, "internal port, used when --uri does not name one")
	fs.String("node-type", "", "storage only: Normal or Listener")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}

	k := koanf.New(".")
	if err := k.Load(confmap.Provider(Defaults(), "."), nil); err != nil {
		return Config{}, fmt.Errorf("load defaults: %w", err)
	}
	if !readDefaultFile && !fs.Changed("config") {
		// Default(): no file at all.
	} else if _, err := os.Stat(*configPath); err == nil {
		if err := k.Load(file.Provider(*configPath), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("read config %s: %w", *configPath, err)
		}
	} else if fs.Changed("config") {
		return Config{}, fmt.Errorf("read config %s: %w", *configPath, err)
	}
	if environ == nil {
		environ = os.Environ
	}
	for _, prefix := range EnvPrefixes {
		p := env.Provider(".", env.Opt{
			Prefix:      prefix,
			EnvironFunc: environ,
			TransformFunc: func(k, v string) (string, any) {
				key := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, prefix), "__", "."))
				return key, v
			},
		})
		if err := k.Load(p, nil); err != nil {
			return Config{}, fmt.Errorf("read %s environment: %w", prefix, err)
		}
	}
	flagProvider := posflag.ProviderWithFlag(fs, ".", k, func(f *pflag.Flag) (string, any) {
		key, ok := flagKeys[f.Name]
		if !ok || !f.Changed {
			return "", nil
		}
		if f.Value.Type() == "stringSlice" {
			v, _ := fs.GetStringSlice(f.Name)
			return key, v
		}
		return key, posflag.FlagVal(fs, f)
	})
	if err := k.Load(flagProvider, nil); err != nil {
		return Config{}, fmt.Errorf("read flags: %w", err)
	}

	var cfg Config
	err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{
		Tag: "koanf",
		DecoderConfig: &mapstructure.DecoderConfig{
			DecodeHook: mapstructure.ComposeDecodeHookFunc(
				mapstructure.StringToSliceHookFunc(","),
			),
			ErrorUnused:      true,
			WeaklyTypedInput: true,
			TagName:          "koanf",
			Result:           &cfg,
		},
	})
	if err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	return cfg, nil
}

// IsHelp reports whether err came from --help.
func IsHelp(err error) bool { return errors.Is(err, pflag.ErrHelp) }

// Default returns the configuration with every key at its default value,
// as if no file, environment or flag was given.
func Default() Config {
	cfg, err := load("default", nil, func() []string { return nil }, false)
	if err != nil {
		// Defaults() must always validate; a failure is a programming error.
		panic(fmt.Sprintf("default configuration is invalid: %v", err))
	}
	return cfg
}
