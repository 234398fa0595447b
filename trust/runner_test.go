package trust

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestExecRunnerArgv(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows never uses sudo")
	}
	lookPath := func(have ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			for _, h := range have {
				if h == name {
					return "/usr/bin/" + name, nil
				}
			}
			return "", exec.ErrNotFound
		}
	}
	install := Cmd{Name: "update-ca-certificates", Privileged: true, Why: "add the devca root to the system trust store"}
	for i, tc := range []struct {
		euid    int
		have    []string
		cmd     Cmd
		want    []string
		wantErr string
	}{
		{0, []string{"update-ca-certificates"}, install, []string{"/usr/bin/update-ca-certificates"}, ""},
		{1000, []string{"update-ca-certificates", "sudo"}, install,
			[]string{"/usr/bin/sudo", "--prompt=[devca] password for %u (to add the devca root to the system trust store): ", "--", "/usr/bin/update-ca-certificates"}, ""},
		{1000, []string{"certutil"}, Cmd{Name: "certutil", Args: []string{"-L"}}, []string{"/usr/bin/certutil", "-L"}, ""},
		{1000, []string{"update-ca-certificates"}, install, nil, "PrivilegeError"},
		{1000, nil, Cmd{Name: "certutil"}, nil, "CmdError"},
	} {
		t.Run(fmt.Sprintf("Test %d", i), func(t *testing.T) {
			r := &ExecRunner{Euid: tc.euid, LookPath: lookPath(tc.have...)}
			got, _, err := r.argv(tc.cmd)
			switch tc.wantErr {
			case "":
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Errorf("argv = %q, %v; want %q", got, err, tc.want)
				}
			case "PrivilegeError":
				var pe *PrivilegeError
				if !errors.As(err, &pe) || pe.Commands[0] != "update-ca-certificates" {
					t.Errorf("err = %v, want a *PrivilegeError naming the command", err)
				}
			case "CmdError":
				var ce *CmdError
				if !errors.As(err, &ce) || !errors.Is(err, exec.ErrNotFound) {
					t.Errorf("err = %v, want a *CmdError wrapping exec.ErrNotFound", err)
				}
			}
		})
	}
}

func TestExecRunnerRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	r := &ExecRunner{}
	ctx := context.Background()
	out, err := r.Run(ctx, Cmd{Name: "sh", Args: []string{"-c", "cat; echo done"}, Stdin: []byte("in\n")})
	if err != nil || string(out) != "in\ndone\n" {
		t.Fatalf("Run = %q, %v", out, err)
	}
	_, err = r.Run(ctx, Cmd{Name: "sh", Args: []string{"-c", "echo bad thing >&2; exit 3"}})
	var ce *CmdError
	var ee *exec.ExitError
	if !errors.As(err, &ce) || !errors.As(err, &ee) || ee.ExitCode() != 3 || ce.Output != "bad thing" {
		t.Fatalf("err = %#v, want a *CmdError wrapping exit status 3 with the output", err)
	}
	if !isExitError(err) {
		t.Errorf("isExitError(%v) = false", err)
	}
	if !strings.Contains(err.Error(), "sh exited 3: bad thing") {
		t.Errorf("message %q", err)
	}

	var told []string
	sudo := &ExecRunner{Euid: 1000, LookPath: func(name string) (string, error) {
		if name == "sudo" {
			return exec.LookPath("env") // stands in for sudo: runs its arguments
		}
		return exec.LookPath(name)
	}, BeforeSudo: func(c Cmd) { told = append(told, c.Why) }}
	// env --prompt=… is not valid, so the stand-in fails; what matters is
	// that the caller was told first.
	sudo.Run(ctx, Cmd{Name: "true", Privileged: true, Why: "test"})
	if !reflect.DeepEqual(told, []string{"test"}) {
		t.Errorf("BeforeSudo calls = %q", told)
	}
}

func TestCmdErrorNamesTheProgramBehindSudo(t *testing.T) {
	e := &CmdError{Argv: []string{"/usr/bin/sudo", "--prompt=x", "--", "/usr/sbin/update-ca-certificates"}, Output: "line one\nline two\n\nline three\nline four", Err: &exitErr{1}}
	want := "update-ca-certificates exited 1: line one; line two; line three"
	if e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
}
