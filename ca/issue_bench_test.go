package ca

import (
	"testing"
)

// BenchmarkIssue measures signing one ECDSA P-256 leaf with a loaded CA: the
// work `devca issue localhost` does besides starting up and writing files.
func BenchmarkIssue(b *testing.B) {
	for _, kt := range []KeyType{ECDSAP256, RSA2048} {
		b.Run(string(kt), func(b *testing.B) {
			auth, err := Create(b.TempDir(), CreateOptions{KeyType: ECDSAP256})
			if err != nil {
				b.Fatal(err)
			}
			names, _, err := ParseNames([]string{"localhost", "127.0.0.1"})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := auth.Issue(LeafRequest{Names: names, KeyType: kt}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadAndIssue adds reading the CA home from disk, as every devca
// process does once.
func BenchmarkLoadAndIssue(b *testing.B) {
	dir := b.TempDir()
	if _, err := Create(dir, CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	names, _, err := ParseNames([]string{"localhost"})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		auth, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := auth.Issue(LeafRequest{Names: names}); err != nil {
			b.Fatal(err)
		}
	}
}
