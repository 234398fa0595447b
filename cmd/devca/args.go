package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
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
		return &usageError{err: withHints(fmt.Errorf(format, args...), fmt.Sprintf("run '%s --help' for usage", commandPath(c)))}
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
			if errors.Is(err, errNotDecimal) {
				return nil, usage("invalid value %q for flag %s: %v", value, flagSpelling(name), err)
			}
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

// decimalIntFlag is an IntFlag that reads only decimal numbers. The flag
// package reads integers in any base, so "--days 0x10" meant 16 days and
// "--days 010" meant 8; a number of days is never meant that way.
type decimalIntFlag struct{ *cli.IntFlag }

// Apply registers the flag with a decimal-only value; everything else (help,
// IsSet, c.Int) is IntFlag's. Unlike IntFlag it reads no environment
// variable or file: no devca number flag has one.
func (f decimalIntFlag) Apply(set *flag.FlagSet) error {
	for _, name := range f.Names() {
		v := decimalInt(f.Value)
		set.Var(&v, name, f.Usage)
	}
	return nil
}

// errNotDecimal is the cause a usage error shows for a value decimalInt
// refuses.
var errNotDecimal = errors.New("not a whole number in decimal digits")

// decimalInt is the flag.Value of a decimalIntFlag.
type decimalInt int

func (d *decimalInt) String() string { return strconv.Itoa(int(*d)) }

func (d *decimalInt) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, strconv.IntSize)
	if err != nil {
		return errNotDecimal
	}
	*d = decimalInt(n)
	return nil
}

// Get makes the value a flag.Getter, as the flag package's own values are.
func (d *decimalInt) Get() any { return int(*d) }

// invalidValueCause is the part of the flag package's "invalid value"
// message worth showing: the cause when a devca value gave it, not the
// package's bare "parse error".
func invalidValueCause(msg string) string {
	if strings.HasSuffix(msg, ": "+errNotDecimal.Error()) {
		return errNotDecimal.Error()
	}
	return ""
}
