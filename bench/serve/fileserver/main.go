// Command fileserver is the baseline of bench/serve.sh: the smallest HTTPS
// file server net/http allows, http.FileServer over TLS with HTTP/2 and no
// other feature, so the benchmark shows what devca's features cost.
//
//	fileserver ADDR DIR CERT KEY
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: fileserver ADDR DIR CERT KEY")
		os.Exit(2)
	}
	addr, dir, cert, key := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	err := http.ListenAndServeTLS(addr, cert, key, http.FileServer(http.Dir(dir)))
	fmt.Fprintln(os.Stderr, "fileserver:", err)
	os.Exit(1)
}
