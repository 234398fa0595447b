//go:build !linux

package serve

import (
	"io/fs"
	"os"
)

// fastOpener is Linux's openat2 shortcut (see open_linux.go); elsewhere
// every open takes the careful path through resolve and os.Root.
type fastOpener struct{}

func newFastOpener(string) *fastOpener { return nil }

func (*fastOpener) open(string) (*os.File, fs.FileInfo, error) { return nil, nil, errSlowPath }

func (*fastOpener) close() {}
