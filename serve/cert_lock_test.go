package serve

import (
	"sync"
	"testing"
	"time"

	"github.com/devca/devca/ca"
)

// Several devca serve processes starting at once share one cached
// certificate: the cache is checked and filled under the CA home's lock, so
// exactly one of them issues.
func TestLeafCertificateConcurrentStarts(t *testing.T) {
	cons, err := ca.DefaultConstraints(nil)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir() + "/home"
	if _, err := ca.Create(home, ca.CreateOptions{Constraints: cons}); err != nil {
		t.Fatal(err)
	}
	names, _, err := ca.ParseNames([]string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	issued := make(chan bool, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := ca.Load(home) // one Authority each, as separate processes have
			if err != nil {
				t.Error(err)
				return
			}
			_, reused, err := leafCert(a, names, time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			issued <- !reused
		}()
	}
	wg.Wait()
	close(issued)
	count := 0
	for i := range issued {
		if i {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d of %d concurrent starts issued a certificate, want exactly 1", count, n)
	}
}
