package trust_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/devca/devca/trust"
)

// This is how a command installs a CA home's root into every trust store
// present on the machine, reporting each store. It has no output section, so
// go test compiles it without running it: it would change this machine.
func ExampleInstallAll() {
	home := "/home/alice/.local/share/devca"
	rootFile := filepath.Join(home, "rootCA.pem")
	data, err := os.ReadFile(rootFile)
	if err != nil {
		fmt.Println(err)
		return
	}
	block, _ := pem.Decode(data)
	if block == nil {
		fmt.Println("no PEM data in", rootFile)
		return
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		fmt.Println(err)
		return
	}
	env, err := trust.DefaultEnv(os.Getenv, &trust.ExecRunner{Euid: os.Geteuid()})
	if err != nil {
		fmt.Println(err)
		return
	}
	results, err := trust.InstallAll(context.Background(), env, root, rootFile, home, nil)
	for _, r := range results {
		fmt.Printf("%s: trusted=%v changed=%v\n", r.Store, r.Trusted, r.Changed)
	}
	if err != nil {
		fmt.Println(err)
	}
}
