package serve

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// BusyPortError is returned by [Listen] when the port, and every fallback
// port it was allowed to try, is taken by another program.
type BusyPortError struct {
	Host string // as given to Listen: "localhost", an address, or "" for all interfaces
	Port int    // the port asked for
	Last int    // the last port tried; Port when there was no fallback
	// Free is a port after Port that was free on Host a moment ago, for
	// the user to choose instead; 0 when none was found or when Listen
	// already tried the fallback ports itself.
	Free int
}

func (e *BusyPortError) Error() string {
	if e.Last > e.Port {
		return fmt.Sprintf("ports %d to %d are busy", e.Port, e.Last)
	}
	host := e.Host
	if host == "" {
		host = "all interfaces"
	}
	return fmt.Sprintf("port %d is busy on %s", e.Port, host)
}

// Unwrap lets errors.Is(err, syscall.EADDRINUSE) see what the system said.
func (e *BusyPortError) Unwrap() error { return syscall.EADDRINUSE }

// Listen opens the TCP listeners for host and port: 127.0.0.1 and ::1 for
// "localhost" (browsers try both; ::1 only where the machine has it), the
// host itself otherwise, and every interface for "". Port 0 lets the
// system choose one; the listeners' addresses tell which.
//
// When the port is busy Listen tries the next fallback ports in turn and
// returns the first that is free, so a caller that moves on its own says
// so by comparing ports. A busy port with no fallback, or all of them busy,
// is a [*BusyPortError]; other failures are returned wrapped.
func Listen(host string, port, fallback int) ([]net.Listener, error) {
	lns, err := listenPort(host, port)
	if err == nil {
		return lns, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listening on %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	if fallback <= 0 || port == 0 {
		return nil, &BusyPortError{Host: host, Port: port, Last: port, Free: freePort(host, port)}
	}
	last := min(port+fallback, 65535)
	for p := port + 1; p <= last; p++ {
		if lns, err := listenPort(host, p); err == nil {
			return lns, nil
		}
	}
	return nil, &BusyPortError{Host: host, Port: port, Last: last}
}

// listenPort is one attempt of Listen. For "localhost" the port of
// 127.0.0.1 decides; ::1 joins it on the same port when it can.
func listenPort(host string, port int) ([]net.Listener, error) {
	if host != "localhost" {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return nil, err
		}
		return []net.Listener{ln}, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	port = ln.Addr().(*net.TCPAddr).Port
	lns := []net.Listener{ln}
	// IPv6 loopback is a bonus: some machines have none.
	if ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
		lns = append(lns, ln6)
	}
	return lns, nil
}

// suggestTries is how far past a busy port freePort looks.
const suggestTries = 20

// freePort finds a port after port that is free on host right now, or 0.
func freePort(host string, port int) int {
	if host == "localhost" {
		host = "127.0.0.1"
	}
	for p := port + 1; p <= port+suggestTries && p <= 65535; p++ {
		if ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p))); err == nil {
			ln.Close()
			return p
		}
	}
	return 0
}

// Port returns the TCP port lns listen on (all of them share it), or 0.
func Port(lns []net.Listener) int {
	if len(lns) == 0 {
		return 0
	}
	if a, ok := lns[0].Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}
