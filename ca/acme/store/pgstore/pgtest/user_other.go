//go:build !unix

package pgtest

import (
	"os/exec"
	"os/user"
)

// setUser does nothing where there is no root to step down from.
func setUser(*exec.Cmd, *user.User) {}
