package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Running is a simulator listening on a real loopback port.
type Running struct {
	*Server
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT

	http *http.Server
	done chan error

	connMu   sync.Mutex
	newConns map[net.Conn]bool // accepted, no request read yet
}

// Start runs a simulator on an ephemeral loopback port.
func Start(opts Options) (*Running, error) {
	return Listen("127.0.0.1:0", opts)
}

// ErrNotLoopback is returned by Listen for addresses other machines could
// reach: the simulator accepts a fixed, published key and must never be a
// real server.
var ErrNotLoopback = errors.New("sim: refusing to listen on a non-loopback address")

// Listen runs a simulator on addr, which must be a loopback address such as
// 127.0.0.1:9000, [::1]:9000 or localhost:9000.
func Listen(addr string, opts Options) (*Running, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sim: listen address %q: %w", addr, err)
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("%w: %q (use 127.0.0.1:PORT)", ErrNotLoopback, addr)
		}
	}
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sim: listen on %s: %w", addr, err)
	}
	rn := &Running{
		Server:   s,
		Addr:     ln.Addr().String(),
		URL:      "http://" + ln.Addr().String(),
		done:     make(chan error, 1),
		newConns: map[net.Conn]bool{},
	}
	rn.http = &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second, ConnState: rn.trackConn}
	go func() { rn.done <- rn.http.Serve(ln) }()
	return rn, nil
}

// trackConn remembers connections that have not sent a request yet:
// http.Server.Shutdown waits five seconds for those (SDKs often dial a spare
// connection), which would make every test's cleanup slow.
func (r *Running) trackConn(c net.Conn, st http.ConnState) {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	if st == http.StateNew {
		r.newConns[c] = true
	} else {
		delete(r.newConns, c)
	}
}

// Close stops accepting requests, waits briefly for those in flight, then
// closes storage.
func (r *Running) Close() error {
	r.connMu.Lock()
	for c := range r.newConns {
		c.Close()
	}
	r.connMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.http.Shutdown(ctx)
	if err != nil {
		r.http.Close()
	}
	if serr := <-r.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if cerr := r.Server.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sim: close: %w", err)
	}
	return nil
}
