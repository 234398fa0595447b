package trust

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// windowsStore is the current user's Root store on Windows, changed through
// crypt32 (see default_windows.go). The user store needs no administrator
// rights; Windows asks the user to confirm each new root, and each removal,
// in a dialog.
//
// What the user's programs trust is the Root collection, which includes the
// local machine's Root store and group policy roots: Check reads that. devca
// adds to and deletes from the user's own store only, and only records a
// root it added itself, so uninstall never takes out a root that an
// administrator, group policy or another tool (mkcert -install, before
// 'devca init --from-mkcert') put in place.
type windowsStore struct {
	env Env
}

func newWindowsStore(env Env) *windowsStore { return &windowsStore{env: env} }

func (s *windowsStore) Name() string                 { return StoreSystem }
func (s *windowsStore) Description() string          { return "Windows current user Root store" }
func (s *windowsStore) Present(context.Context) bool { return s.env.WindowsRoot != nil }

const windowsRootLocation = `CurrentUser\Root`

func (s *windowsStore) Check(_ context.Context, root *Root) ([]Location, error) {
	if s.env.WindowsRoot == nil {
		return nil, ErrUnsupported
	}
	loc := Location{Path: windowsRootLocation}
	trusted, err := s.env.WindowsRoot.Trusts(root.Cert.Raw)
	if err != nil {
		return nil, fmt.Errorf("reading the Root store: %w", err)
	}
	loc.Trusted = trusted
	if trusted {
		own, err := s.env.WindowsRoot.Contains(root.Cert.Raw)
		if err != nil {
			return nil, fmt.Errorf("reading the Root store: %w", err)
		}
		if !own {
			loc.Note = "through the local machine or group policy Root store"
		}
	}
	return []Location{loc}, nil
}

func (s *windowsStore) Install(ctx context.Context, root *Root) ([]Installation, error) {
	if s.env.WindowsRoot == nil {
		return nil, ErrUnsupported
	}
	entry := entryFor(StoreSystem, root, windowsRootLocation, sha1Thumbprint(root.Cert.Raw), false)
	trusted, err := s.env.WindowsRoot.Trusts(root.Cert.Raw)
	if err != nil {
		return nil, fmt.Errorf("reading the Root store: %w", err)
	}
	if trusted {
		// Trusted already, by the user's store or an included one:
		// adding would only show a dialog, and the root is not devca's
		// to remove later.
		return []Installation{entry}, nil
	}
	add := func() error { return s.env.WindowsRoot.Add(root.Cert.Raw) }
	cmd := fmt.Sprintf("certutil -user -addstore Root %q", root.File)
	if err := s.confirmed(ctx, "add", cmd, add); err != nil {
		return nil, fmt.Errorf("adding to the Root store: %w", err)
	}
	entry.Changed = true
	return []Installation{entry}, nil
}

func (s *windowsStore) Uninstall(ctx context.Context, e Installation) (bool, error) {
	if s.env.WindowsRoot == nil {
		return false, ErrUnsupported
	}
	ok, err := s.env.WindowsRoot.Contains(e.Cert)
	if err != nil || !ok {
		return false, err
	}
	del := func() error { return s.env.WindowsRoot.Delete(e.Cert) }
	cmd := "certutil -user -delstore Root " + sha1Thumbprint(e.Cert)
	if err := s.confirmed(ctx, "delete", cmd, del); err != nil {
		return false, fmt.Errorf("deleting from the Root store: %w", err)
	}
	// A delete can report success and not stick (Wine before the store is
	// committed did exactly that); the record entry must then stay, so
	// that the next uninstall tries again.
	still, err := s.env.WindowsRoot.Contains(e.Cert)
	if err != nil {
		return true, fmt.Errorf("checking the Root store after deleting: %w", err)
	}
	if still {
		return false, fmt.Errorf("the Root store still holds the root after deleting it; to delete it by hand, run '%s'", cmd)
	}
	return true, nil
}

// confirmed runs change, an add to or delete from the user's Root store,
// which Windows confirms in a dialog. Where no dialog can reach a user it
// does not try; otherwise it waits for change at most the dialog timeout.
// A change still waiting then is left behind: its dialog goes away when
// devca exits.
func (s *windowsStore) confirmed(ctx context.Context, action, command string, change func() error) error {
	if s.env.Interactive != nil && !s.env.Interactive() {
		return &DialogError{Action: action, NoDesktop: true, Command: command}
	}
	timeout := s.env.DialogTimeout
	if timeout <= 0 {
		timeout = DefaultDialogTimeout
	}
	done := make(chan error, 1)
	go func() { done <- change() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if errors.Is(err, errDeclined) {
			return &DialogError{Action: action, Declined: true, Command: command}
		}
		return err
	case <-timer.C:
		return &DialogError{Action: action, Timeout: timeout, Command: command}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wslStore is the Windows user's Root store seen from WSL: browsers a WSL
// user opens run on Windows and never read the Linux stores. It drives the
// Windows side through the WSL interop programs powershell.exe and
// certutil.exe, and wslpath to hand them a file.
type wslStore struct {
	env Env
}

func newWSLStore(env Env) *wslStore { return &wslStore{env: env} }

func (s *wslStore) Name() string        { return StoreWindows }
func (s *wslStore) Description() string { return "Windows user Root store (from WSL)" }

// Present reports whether devca runs inside WSL. Microsoft's documented
// markers are the WSLInterop binfmt entry and "microsoft" in
// /proc/sys/kernel/osrelease.
func (s *wslStore) Present(context.Context) bool {
	if s.env.GOOS != "linux" {
		return false
	}
	if exists(s.env.path("/proc/sys/fs/binfmt_misc/WSLInterop")) || s.env.getenv("WSL_DISTRO_NAME") != "" {
		return true
	}
	data, _ := os.ReadFile(s.env.path("/proc/sys/kernel/osrelease"))
	return strings.Contains(strings.ToLower(string(data)), "microsoft")
}

func (s *wslStore) tool(name string) error {
	if s.env.hasTool(name) {
		return nil
	}
	return &ToolMissingError{Tool: name, Hint: "enable WSL interop and Windows PATH appending in /etc/wsl.conf ([interop] enabled=true, appendWindowsPath=true), then restart WSL"}
}

// powershell runs one PowerShell command without the user's profile.
func (s *wslStore) powershell(ctx context.Context, script string) ([]byte, error) {
	if err := s.tool("powershell.exe"); err != nil {
		return nil, err
	}
	return s.env.Runner.Run(ctx, Cmd{Name: "powershell.exe", Args: []string{"-NoProfile", "-NonInteractive", "-Command", script}})
}

// certPath is the PowerShell certificate provider path of exactly one
// certificate: stores index certificates by their SHA-1 thumbprint.
func certPath(der []byte) string { return `Cert:\CurrentUser\Root\` + sha1Thumbprint(der) }

func (s *wslStore) contains(ctx context.Context, der []byte) (bool, error) {
	out, err := s.powershell(ctx, `if (Test-Path "`+certPath(der)+`") { "present" } else { "absent" }`)
	if err != nil {
		return false, err
	}
	return strings.Contains(string(out), "present") && !strings.Contains(string(out), "absent"), nil
}

func (s *wslStore) Check(ctx context.Context, root *Root) ([]Location, error) {
	loc := Location{Path: windowsRootLocation}
	ok, err := s.contains(ctx, root.Cert.Raw)
	if err != nil {
		return []Location{loc}, err
	}
	loc.Trusted = ok
	return []Location{loc}, nil
}

func (s *wslStore) Install(ctx context.Context, root *Root) ([]Installation, error) {
	entry := entryFor(StoreWindows, root, windowsRootLocation, sha1Thumbprint(root.Cert.Raw), false)
	ok, err := s.contains(ctx, root.Cert.Raw)
	if err != nil {
		return nil, err
	}
	if ok {
		return []Installation{entry}, nil
	}
	for _, t := range []string{"wslpath", "certutil.exe"} {
		if err := s.tool(t); err != nil {
			return nil, err
		}
	}
	out, err := s.env.Runner.Run(ctx, Cmd{Name: "wslpath", Args: []string{"-w", root.File}})
	if err != nil {
		return nil, fmt.Errorf("translating %q to a Windows path: %w", root.File, err)
	}
	// -user selects the current user's stores, which need no
	// administrator; Windows shows a confirmation dialog for a new root.
	_, err = s.env.Runner.Run(ctx, Cmd{Name: "certutil.exe", Args: []string{"-addstore", "-user", "Root", strings.TrimSpace(string(out))}})
	if err != nil {
		return nil, err
	}
	entry.Changed = true
	return []Installation{entry}, nil
}

func (s *wslStore) Uninstall(ctx context.Context, e Installation) (bool, error) {
	ok, err := s.contains(ctx, e.Cert)
	if err != nil || !ok {
		return false, err
	}
	// Remove-Item on the thumbprint path deletes exactly this certificate;
	// certutil -delstore would also match a serial number.
	if _, err := s.powershell(ctx, `Remove-Item -Path "`+certPath(e.Cert)+`"`); err != nil {
		return false, err
	}
	return true, nil
}
