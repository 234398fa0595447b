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
// and of type connection when no address answers.
func (a *Authority) dial(ctx context.Context, start time.Time, host string, port int) (net.Conn, error) {
	var addrs []netip.Addr
	if addr, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{addr}
	} else {
		found, err := a.lookupNetIP(ctx, "ip", host)
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
	for i, addr := range addrs {
		target = netip.AddrPortFrom(addr.Unmap(), uint16(port)).String()
		conn, err := dialShare(ctx, &d, target, len(addrs)-i)
		if err == nil {
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
