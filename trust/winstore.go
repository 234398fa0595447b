package trust

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// windowsStore is the current user's Root store on Windows, changed through
// crypt32 (see default_windows.go). The user store needs no administrator
// rights; Windows asks the user to confirm each new root in a dialog.
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
	ok, err := s.env.WindowsRoot.Contains(root.Cert.Raw)
	if err != nil {
		return nil, fmt.Errorf("reading the Root store: %w", err)
	}
	return []Location{{Path: windowsRootLocation, Trusted: ok}}, nil
}

func (s *windowsStore) Install(_ context.Context, root *Root) ([]Entry, error) {
	if s.env.WindowsRoot == nil {
		return nil, ErrUnsupported
	}
	entry := entryFor(StoreSystem, root, windowsRootLocation, sha1Thumbprint(root.Cert.Raw), false)
	ok, err := s.env.WindowsRoot.Contains(root.Cert.Raw)
	if err != nil {
		return nil, fmt.Errorf("reading the Root store: %w", err)
	}
	if ok {
		return []Entry{entry}, nil
	}
	if err := s.env.WindowsRoot.Add(root.Cert.Raw); err != nil {
		return nil, fmt.Errorf("adding to the Root store: %w", err)
	}
	entry.Changed = true
	return []Entry{entry}, nil
}

func (s *windowsStore) Uninstall(_ context.Context, e Entry) (bool, error) {
	if s.env.WindowsRoot == nil {
		return false, ErrUnsupported
	}
	ok, err := s.env.WindowsRoot.Contains(e.Cert)
	if err != nil || !ok {
		return false, err
	}
	if err := s.env.WindowsRoot.Delete(e.Cert); err != nil {
		return false, fmt.Errorf("deleting from the Root store: %w", err)
	}
	return true, nil
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

func (s *wslStore) Install(ctx context.Context, root *Root) ([]Entry, error) {
	entry := entryFor(StoreWindows, root, windowsRootLocation, sha1Thumbprint(root.Cert.Raw), false)
	ok, err := s.contains(ctx, root.Cert.Raw)
	if err != nil {
		return nil, err
	}
	if ok {
		return []Entry{entry}, nil
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
	return []Entry{entry}, nil
}

func (s *wslStore) Uninstall(ctx context.Context, e Entry) (bool, error) {
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
