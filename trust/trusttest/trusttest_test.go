package trusttest

import (
	"os"
	"testing"

	"github.com/gofrs/flock"
)

// TestLock: while one test holds the lock, another holder (here a second
// open file, as another package's test binary would have) cannot take it;
// once the test ends it can; and nothing is left in the temporary folder.
func TestLock(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := lockDir()
	other := flock.New(dir, flock.SetFlag(os.O_RDONLY))
	t.Run("held", func(t *testing.T) {
		Lock(t)
		if ok, err := other.TryLock(); err != nil || ok {
			t.Fatalf("a second holder took the lock on %s while it was held: %v, %v", dir, ok, err)
		}
	})
	ok, err := other.TryLock()
	if err != nil || !ok {
		t.Fatalf("the lock on %s was not released when the test ended: %v, %v", dir, ok, err)
	}
	other.Unlock()
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("the lock left files in the temporary folder: %v", entries)
	}
}
