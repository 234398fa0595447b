package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// positionalArgs returns the command's positional arguments, applying any
// flags the user wrote after them. Go's flag parsing stops at the first
// positional argument, so without this "devca issue a.test --days 3" would
// try to certify a name called "--days". A "--" ends the flags as usual.
func positionalArgs(c *cli.Context, rawArgs []string) ([]string, error) {
	args := c.Args().Slice()
	if afterDashDash(rawArgs, args) {
		return args, nil
	}
	lookup := flag.NewFlagSet("", flag.ContinueOnError)
	for _, f := range c.Command.Flags {
		if err := f.Apply(lookup); err != nil {
			return nil, err
		}
	}
	usage := func(format string, args ...any) error {
		return &usageError{err: withHints(fmt.Errorf(format, args...), fmt.Sprintf("run 'devca %s --help' for usage", c.Command.Name))}
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			out = append(out, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := lookup.Lookup(name)
		if f == nil {
			return nil, usage("unknown flag %s (to pass a name that starts with '-', put it after --)", flagSpelling(name))
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 >= len(args) {
				return nil, usage("flag %s needs a value", flagSpelling(name))
			}
			i++
			value = args[i]
		}
		if err := c.Set(name, value); err != nil {
			return nil, usage("invalid value %q for flag %s", value, flagSpelling(name))
		}
	}
	return out, nil
}

// afterDashDash reports whether args are exactly what followed a "--" in the
// raw command line, in which case none of them is a flag.
func afterDashDash(raw, args []string) bool {
	for i, a := range raw {
		if a == "--" {
			rest := raw[i+1:]
			if len(rest) != len(args) {
				return false
			}
			for j := range rest {
				if rest[j] != args[j] {
					return false
				}
			}
			return true
		}
	}
	return false
}
