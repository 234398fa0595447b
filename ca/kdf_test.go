package ca

import (
	"strings"
	"testing"
)

// ca.json's scrypt parameters are bounded one by one and together: each
// within its range is not enough when their product costs gigabytes or
// minutes (issue 9, item 11).
func TestKDFParamsCostBound(t *testing.T) {
	good, err := newKDFParams()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		logN, r, p int
		want       string // in the error; "" for accepted
	}{
		{"ok/default", defaultScryptLogN, defaultScryptR, defaultScryptP, ""},
		{"ok/largest N with r=1", maxScryptLogN, 1, 1, ""},
		{"ok/1 GiB", maxScryptLogN, 2, 1, ""},
		{"ok/work at the bound", 16, 16, 16, ""},
		{"fail/16 GiB", maxScryptLogN, maxScryptR, 1, "16384 MiB of memory (at most 1024)"},
		{"fail/4 GiB", maxScryptLogN, 8, 1, "4096 MiB of memory"},
		{"fail/work", 16, maxScryptR, maxScryptP, "N·r·p = 2^25.0 (at most 2^24)"},
		{"fail/single bound", 23, 1, 1, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := good
			k.LogN, k.R, k.P = tc.logN, tc.r, tc.p
			err := k.check()
			if tc.want == "" {
				if err != nil {
					t.Errorf("check = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check = %v, want an error with %q", err, tc.want)
			}
			// derive refuses too, before any work.
			if _, err := k.derive([]byte("x")); err == nil {
				t.Error("derive accepted the parameters")
			}
		})
	}
}
