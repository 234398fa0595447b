package trust

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// windowsTestbed is a Windows machine whose user Root store is store.
func windowsTestbed(t *testing.T, store *fakeCertStore) *testbed {
	tb := newTestbed(t, "windows")
	tb.env.WindowsRoot = store
	return tb
}

// TestWindowsUninstallVerifies is issue 12, item 2: a delete that reports
// success but does not stick (Wine before the store was committed) keeps the
// record entry and fails clearly, so that the next uninstall tries again.
func TestWindowsUninstallVerifies(t *testing.T) {
	store := &fakeCertStore{}
	tb := windowsTestbed(t, store)
	ctx := context.Background()
	stores := []string{StoreSystem}
	if _, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores); err != nil {
		t.Fatal(err)
	}
	store.sticky = true
	res, err := UninstallAll(ctx, tb.env, tb.cert, tb.cahome, stores)
	if err == nil || !strings.Contains(err.Error(), "still holds the root after deleting it") || !strings.Contains(err.Error(), "certutil -user -delstore Root "+sha1Thumbprint(tb.cert.Raw)) {
		t.Fatalf("uninstall: %v, want a clear failure", err)
	}
	if errors.Is(err, ErrNotRecorded) {
		t.Errorf("uninstall called devca's own root not recorded: %v", err)
	}
	if res[0].Changed {
		t.Errorf("uninstall reports a change that did not happen")
	}
	if rec, _ := Recorded(tb.cahome); len(rec) != 1 {
		t.Fatalf("record after a failed delete: %+v, want the entry kept", rec)
	}
	store.sticky = false
	if _, err := UninstallAll(ctx, tb.env, tb.cert, tb.cahome, stores); err != nil {
		t.Fatalf("second uninstall: %v", err)
	}
	if rec, _ := Recorded(tb.cahome); len(rec) != 0 || len(store.certs) != 0 {
		t.Errorf("after the second uninstall: record %+v, store %d certificates", rec, len(store.certs))
	}
}

// TestWindowsDialogs is issue 12, item 3: Windows confirms each change of
// the user's Root store in a dialog. Without a desktop devca does not try;
// an unanswered dialog times out; a "No" is reported as such. Each error says
// how to make the change by hand, and nothing is recorded.
func TestWindowsDialogs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(tb *testbed, s *fakeCertStore)
		check func(de *DialogError) bool
		// tried reports whether Add must have been called.
		tried bool
	}{
		{"no-desktop", func(tb *testbed, _ *fakeCertStore) { tb.env.Interactive = func() bool { return false } },
			func(de *DialogError) bool { return de.NoDesktop }, false},
		{"timeout", func(tb *testbed, s *fakeCertStore) {
			tb.env.DialogTimeout = 20 * time.Millisecond
			s.block = make(chan struct{})
			tb.t.Cleanup(func() { close(s.block) })
		}, func(de *DialogError) bool { return de.Timeout == 20*time.Millisecond }, true},
		{"declined", func(_ *testbed, s *fakeCertStore) { s.addErr = errDeclined },
			func(de *DialogError) bool { return de.Declined }, true},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			store := &fakeCertStore{}
			tb := windowsTestbed(t, store)
			tc.setup(tb, store)
			res, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreSystem})
			var de *DialogError
			if !errors.As(err, &de) || !tc.check(de) {
				t.Fatalf("install: %v, want a %s DialogError", err, tc.name)
			}
			want := `certutil -user -addstore Root "` + tb.rootFile + `"`
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say how to do it by hand (%s)", err, want)
			}
			if res[0].Trusted || res[0].Changed {
				t.Errorf("result %+v, want untrusted and unchanged", res[0])
			}
			if rec, _ := Recorded(tb.cahome); len(rec) != 0 {
				t.Errorf("recorded %+v after a failed add", rec)
			}
			store.mu.Lock()
			added := strings.Contains(strings.Join(store.log, "\n"), "add ")
			store.mu.Unlock()
			if added != tc.tried {
				t.Errorf("add called: %v, want %v", added, tc.tried)
			}
		})
	}

	t.Run("fail/delete-without-desktop", func(t *testing.T) {
		store := &fakeCertStore{}
		tb := windowsTestbed(t, store)
		ctx := context.Background()
		if _, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreSystem}); err != nil {
			t.Fatal(err)
		}
		tb.env.Interactive = func() bool { return false }
		_, err := UninstallAll(ctx, tb.env, tb.cert, tb.cahome, []string{StoreSystem})
		var de *DialogError
		if !errors.As(err, &de) || !de.NoDesktop || de.Action != "delete" {
			t.Fatalf("uninstall: %v, want a no-desktop DialogError", err)
		}
		if rec, _ := Recorded(tb.cahome); len(rec) != 1 || len(store.certs) != 1 {
			t.Errorf("record %+v, store %d certificates; want both kept", rec, len(store.certs))
		}
	})

	t.Run("ok/status-names-the-local-machine", func(t *testing.T) {
		store := &fakeCertStore{}
		tb := windowsTestbed(t, store)
		store.machine = [][]byte{tb.cert.Raw}
		res, err := StatusAll(context.Background(), tb.env, tb.cert, []string{StoreSystem})
		if err != nil || !res[0].Trusted || !strings.Contains(res[0].Locations[0].Note, "local machine") {
			t.Errorf("status %+v %v, want trusted through the local machine store", res, err)
		}
	})
}
