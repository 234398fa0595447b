//go:build !unix

package serve

import "time"

// processCPU has no portable source outside Unix; the cpu-ns/op metric
// then reads 0.
func processCPU() time.Duration { return 0 }
