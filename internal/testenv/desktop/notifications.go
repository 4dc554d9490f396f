package desktop

import (
	"slices"
	"sync"
	"testing"
	"time"

	dbus "github.com/godbus/dbus/v5"
)

// The notification server's names (the freedesktop specification).
const (
	NotifyName    = "org.freedesktop.Notifications"
	NotifyPath    = dbus.ObjectPath("/org/freedesktop/Notifications")
	NotifyIface   = "org.freedesktop.Notifications"
	SigActions    = NotifyIface + ".ActionInvoked"
	SigClosed     = NotifyIface + ".NotificationClosed"
	closedByCall  = uint32(3)
	serverVersion = "1.2"
)

// NotifyCall is one Notify the server received.
type NotifyCall struct {
	App      string
	Replaces uint32
	Icon     string
	Summary  string
	Body     string
	Actions  []string
	Hints    map[string]dbus.Variant
	Timeout  int32
	ID       uint32
}

// Server is a notification server stand-in: it records calls and lets the
// test emit the signals a user's clicks would.
type Server struct {
	t    *testing.T
	conn *dbus.Conn
	caps []string

	mu     sync.Mutex
	calls  []NotifyCall
	closed []uint32
	lastID uint32
}

// serverMethods is what is exported; it keeps Server's test helpers off the
// bus.
type serverMethods struct{ s *Server }

func (m serverMethods) Notify(app string, replaces uint32, icon, summary, body string,
	actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	id := replaces
	if id == 0 {
		s.lastID++
		id = s.lastID
	}
	s.calls = append(s.calls, NotifyCall{app, replaces, icon, summary, body, actions, hints, timeout, id})
	return id, nil
}

func (m serverMethods) GetCapabilities() ([]string, *dbus.Error) { return m.s.caps, nil }

func (m serverMethods) CloseNotification(id uint32) *dbus.Error {
	m.s.mu.Lock()
	m.s.closed = append(m.s.closed, id)
	m.s.mu.Unlock()
	if err := m.s.conn.Emit(NotifyPath, SigClosed, id, closedByCall); err != nil {
		return dbus.MakeFailedError(err)
	}
	return nil
}

func (m serverMethods) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "icevault-test", "icevault", "0", serverVersion, nil
}

// StartNotificationServer owns the notification server's name on the bus
// at addr, offering caps (e.g. "actions", "body").
func StartNotificationServer(t *testing.T, addr string, caps ...string) *Server {
	t.Helper()
	conn := Dial(t, addr)
	s := &Server{t: t, conn: conn, caps: caps}
	if err := conn.Export(serverMethods{s}, NotifyPath, NotifyIface); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(NotifyName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request %s: %v %v", NotifyName, reply, err)
	}
	return s
}

// Dial connects to the bus at addr for the test's lifetime.
func Dial(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to the private bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Conn is the server's connection (to drop it from the bus, say).
func (s *Server) Conn() *dbus.Conn { return s.conn }

// Calls returns the Notify calls so far.
func (s *Server) Calls() []NotifyCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Closed returns the IDs CloseNotification was called with.
func (s *Server) Closed() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.closed)
}

// Emit sends one of the server's signals.
func (s *Server) Emit(name string, args ...any) {
	s.t.Helper()
	if err := s.conn.Emit(NotifyPath, name, args...); err != nil {
		s.t.Fatalf("emit %s: %v", name, err)
	}
}

// WaitCall waits for a Notify whose summary is summary.
func (s *Server) WaitCall(t *testing.T, summary string) NotifyCall {
	t.Helper()
	deadline := time.Now().Add(2 * Wait)
	for time.Now().Before(deadline) {
		for _, c := range s.Calls() {
			if c.Summary == summary {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no notification %q; got %+v", summary, s.Calls())
	return NotifyCall{}
}
