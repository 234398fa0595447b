package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Scripts start "devca serve --addr localhost:0" with serve-start and read
// the URL it prints, so no script picks a port that another test (or
// program) may hold by the time the server binds it.
//
//	serve-start NAME [ARGS...]  runs "devca serve ARGS..." in the background,
//	                            waits for the URL on its first stdout line and
//	                            sets $NAME to it
//	serve-stop NAME             interrupts it (as Ctrl-C does), waits for it
//	                            to exit 0 (! serve-stop: to fail) and makes
//	                            its stdout and stderr those of the command
//
// A server still running when the script ends is killed.

// scriptServe is one "devca serve" started by serve-start.
type scriptServe struct {
	cmd     *exec.Cmd
	stdout  *syncBuffer // every line, the URL included
	stderr  *syncBuffer
	exited  chan struct{} // closed once err is set
	err     error         // what cmd.Wait returned
	stopped bool          // serve-stop ran
}

// scriptServes holds each script's servers by name.
var scriptServes sync.Map // *testscript.TestScript -> map[string]*scriptServe

// scriptServeTimeout bounds the wait for the URL and for the exit.
const scriptServeTimeout = 30 * time.Second

// scriptEnvNames are the variables a script's devca sees: those of the
// test process (whose values come from the script, as for exec), the ones
// testscript and TestScript's Setup set, and those devca reads.
var scriptEnvNames = append([]string{
	"WORK", "PATH", "HOME", "USER", "TMPDIR", "GOTRACEBACK", "GOCOVERDIR", "GORACE",
	"DEVCA_HOME", "DEVCA_KEY_STORAGE", "DEVCA_TRUST_STORES", "DEVCA_CA_PASSPHRASE",
	"XDG_DATA_HOME", "XDG_CONFIG_HOME", "CAROOT",
}, trustOverrides...)

// scriptEnv is the script's environment as exec would pass it: testscript
// does not export it, so it is read back one name at a time.
func scriptEnv(ts *testscript.TestScript) []string {
	seen := map[string]bool{}
	var env []string
	add := func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if v := ts.Getenv(name); v != "" {
			env = append(env, name+"="+v)
		}
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		add(name)
	}
	for _, name := range scriptEnvNames {
		add(name)
	}
	return append(env, "PWD="+ts.MkAbs("."))
}

func cmdServeStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! serve-start (run a failing serve with exec)")
	}
	if len(args) < 1 {
		ts.Fatalf("usage: serve-start NAME [ARGS...]")
	}
	name := args[0]
	v, _ := scriptServes.LoadOrStore(ts, map[string]*scriptServe{})
	serves := v.(map[string]*scriptServe)
	if serves[name] != nil {
		ts.Fatalf("serve-start: %s is already running", name)
	}
	if len(serves) == 0 {
		ts.Defer(func() {
			for _, s := range serves {
				select {
				case <-s.exited:
				default:
					s.cmd.Process.Kill()
					<-s.exited
				}
			}
			scriptServes.Delete(ts)
		})
	}
	bin, err := exec.LookPath("devca")
	ts.Check(err)
	cmd := exec.Command(bin, append([]string{"serve"}, args[1:]...)...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = scriptEnv(ts)
	s := &scriptServe{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	pipe, err := cmd.StdoutPipe()
	ts.Check(err)
	ts.Check(cmd.Start())
	serves[name] = s
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for i := 0; sc.Scan(); i++ {
			fmt.Fprintln(s.stdout, sc.Text())
			if i == 0 {
				first <- sc.Text()
			}
		}
		close(first)
		// Wait only once stdout is read to its end.
		s.err = cmd.Wait()
		close(s.exited)
	}()
	select {
	case url, ok := <-first:
		if !ok || !strings.HasPrefix(url, "https://") {
			ts.Fatalf("devca serve printed %q, want a URL first; stderr:\n%s", url, s.stderr.String())
		}
		ts.Setenv(name, url)
		ts.Logf("%s: %s", name, url)
	case <-time.After(scriptServeTimeout):
		ts.Fatalf("devca serve printed no URL within %v; stderr:\n%s", scriptServeTimeout, s.stderr.String())
	}
}

func cmdServeStop(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: serve-stop NAME")
	}
	v, _ := scriptServes.Load(ts)
	serves, _ := v.(map[string]*scriptServe)
	s := serves[args[0]]
	if s == nil {
		ts.Fatalf("serve-stop: no server %s (start it with serve-start)", args[0])
	}
	if s.stopped {
		ts.Fatalf("serve-stop: %s was stopped before", args[0])
	}
	s.stopped = true
	ts.Check(s.cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-s.exited:
	case <-time.After(scriptServeTimeout):
		s.cmd.Process.Kill()
		<-s.exited
		ts.Fatalf("devca serve still running %v after an interrupt; stderr:\n%s", scriptServeTimeout, s.stderr.String())
	}
	fmt.Fprint(ts.Stdout(), s.stdout.String())
	fmt.Fprint(ts.Stderr(), s.stderr.String())
	switch {
	case s.err != nil && !neg:
		ts.Fatalf("devca serve: %v", s.err)
	case s.err == nil && neg:
		ts.Fatalf("devca serve exited 0, want a failure")
	}
}
