package va

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// dial connects over TCP to port on host: an IP address, or a name tried
// at each address it resolves to, in the resolver's order, until one
// answers. While more addresses remain, an attempt gets its share of the
// time left, so one silent address cannot use up the validation.
//
// It fails with an [*Error] of type dns when the name does not resolve,
// and of type connection when no address answers. When phase is not nil,
// dial tells it what it is doing and the error type a failure then has
// (TypeDNS and "resolving …", TypeConnection and "connecting to …"), and
// two empty strings once connected, so that a caller that gives up first
// (http.Client does when ctx is done) can say where it was.
func (a *Authority) dial(ctx context.Context, start time.Time, host string, port int, phase func(typ, doing string)) (net.Conn, error) {
	if phase == nil {
		phase = func(string, string) {}
	}
	var addrs []netip.Addr
	if addr, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{addr}
	} else {
		phase(TypeDNS, fmt.Sprintf("resolving %s through %s", host, a.ipResolver))
		found, err := bounded(ctx, func() ([]netip.Addr, error) { return a.lookupNetIP(ctx, "ip", host) })
		if err != nil {
			cause, _ := stopped(ctx, start, err)
			return nil, newError(TypeDNS, cause, "resolving %s through %s", host, a.ipResolver)
		}
		if len(found) == 0 {
			return nil, &Error{Type: TypeDNS, Detail: fmt.Sprintf("resolving %s through %s: no addresses", host, a.ipResolver)}
		}
		addrs = found
	}
	var (
		d       net.Dialer
		tried   []string
		lastErr error
		target  string
	)
	phase(TypeConnection, fmt.Sprintf("connecting to %s port %d", host, port))
	for i, addr := range addrs {
		target = netip.AddrPortFrom(addr.Unmap(), uint16(port)).String()
		conn, err := dialShare(ctx, &d, target, len(addrs)-i)
		if err == nil {
			phase("", "")
			return conn, nil
		}
		lastErr = err
		tried = append(tried, target+": "+causeText(err))
		if ctx.Err() != nil {
			break
		}
	}
	e := &Error{
		Type:   TypeConnection,
		Detail: fmt.Sprintf("connecting to %s port %d: %s", host, port, strings.Join(tried, "; ")),
		Addr:   target,
		Err:    lastErr,
	}
	if cause, ok := stopped(ctx, start, lastErr); ok {
		e.Detail = fmt.Sprintf("connecting to %s port %d (%s): %v", host, port, strings.Join(tried, "; "), cause)
		e.Err = cause
	}
	return nil, e
}

// dialShare dials target with 1/remaining of the time ctx has left.
func dialShare(ctx context.Context, d *net.Dialer, target string, remaining int) (net.Conn, error) {
	if deadline, ok := ctx.Deadline(); ok && remaining > 1 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Until(deadline)/time.Duration(remaining))
		defer cancel()
	}
	return d.DialContext(ctx, "tcp", target)
}

// bounded returns lookup's result, or ctx's error as soon as ctx is done:
// the Go resolver finishes its current try, up to the timeout of
// /etc/resolv.conf, before it looks at a canceled context, and a Config
// lookup may ignore ctx altogether. The lookup then ends on its own.
func bounded[T any](ctx context.Context, lookup func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := lookup()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
