package sim

import (
	"net"
	"net/http"
	"time"
)

// Fault makes the simulator misbehave for matching requests. It is checked
// after the operation is recognised and before authentication, like a
// network or front-end failure would be.
type Fault struct {
	Op      string        // S3 operation name ("PutObject", ...), "" = any
	Status  int           // error response to send (if Status != 0) ...
	Code    string        // ... with this S3 error code
	Message string        // ... and message
	Latency time.Duration // delay before handling (wall clock, cancellable by client disconnect)
	Reset   bool          // hijack and close the connection without a response
	// LoseResponse handles the request normally and then drops the
	// connection instead of answering: the request took effect, the client
	// never learns it did (the crash-between-commit-and-reply case).
	LoseResponse bool
	Rate         float64 // fire with this probability (seeded deterministic PRNG); 0 with Nth==0 means always
	Nth          int     // fire only on the Nth matching request (1-based)
	Times        int     // stop after firing this many times; 0 = unlimited
}

type faultEntry struct {
	id      int
	f       Fault
	matched int
	fired   int
}

// InjectFault installs f until remove is called. Faults are evaluated in the
// order they were injected; latency from every firing fault adds up, and the
// first firing fault with Reset or Status decides the response.
func (s *Server) InjectFault(f Fault) (remove func()) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faultSeq++
	id := s.faultSeq
	s.faults = append(s.faults, &faultEntry{id: id, f: f})
	return func() {
		s.faultMu.Lock()
		defer s.faultMu.Unlock()
		for i, e := range s.faults {
			if e.id == id {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
				return
			}
		}
	}
}

// firingFaults decides, under the lock, which faults fire for one request of
// op, so counters and the PRNG advance once per request.
func (s *Server) firingFaults(op string) []Fault {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	var out []Fault
	for _, e := range s.faults {
		if e.f.Op != "" && e.f.Op != op {
			continue
		}
		e.matched++
		if e.f.Times > 0 && e.fired >= e.f.Times {
			continue
		}
		fire := true
		switch {
		case e.f.Nth > 0:
			fire = e.matched == e.f.Nth
		case e.f.Rate > 0:
			fire = s.rng.Float64() < e.f.Rate
		}
		if fire {
			e.fired++
			out = append(out, e.f)
		}
	}
	return out
}

// applyFaults runs the faults firing for this request. It reports whether
// the request was answered (or the connection dropped) by a fault.
func (c *reqCtx) applyFaults() bool {
	for _, f := range c.s.firingFaults(c.op) {
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-c.r.Context().Done():
				t.Stop()
				c.status = 0
				c.code = "ClientDisconnected"
				return true
			case <-t.C:
			}
		}
		switch {
		case f.LoseResponse:
			c.w.discard = true
		case f.Reset:
			c.reset()
			return true
		case f.Status != 0:
			code, msg := f.Code, f.Message
			if code == "" {
				code = http.StatusText(f.Status)
			}
			if msg == "" {
				msg = "Injected fault"
			}
			c.writeError(newErr(f.Status, code, msg))
			return true
		}
	}
	return false
}

// reset drops the connection without a response, the way a dying proxy or a
// network partition does. SO_LINGER 0 makes the close an RST, so the client
// sees "connection reset" rather than a clean EOF.
func (c *reqCtx) reset() {
	c.status = 0
	c.code = "ConnectionReset"
	c.hijacked = true
	conn, _, err := c.w.Hijack()
	if err != nil {
		// HTTP/2 or a test recorder: the closest we can do is abort the
		// handler, which net/http turns into a dropped connection.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}
