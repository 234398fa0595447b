//go:build !unix

package serve

import "os"

// openNoBlock is empty where no FIFO or device node can sit in a folder
// (Windows names its pipes and devices outside the file system's folders).
const openNoBlock = 0

func clearNoBlock(*os.File) {}
