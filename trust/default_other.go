//go:build !linux && !darwin && !windows

package trust

import (
	"fmt"
	"runtime"
)

func platformDefaults(*Env) error {
	return fmt.Errorf("installing trust on %s: %w", runtime.GOOS, ErrUnsupported)
}
