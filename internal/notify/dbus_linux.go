package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	fdo "github.com/esiqveland/notify"
	dbus "github.com/godbus/dbus/v5"
)

// The freedesktop Notifications service (spec 1.2).
const (
	busName      = "org.freedesktop.Notifications"
	busPath      = dbus.ObjectPath("/org/freedesktop/Notifications")
	busIface     = "org.freedesktop.Notifications"
	sigActions   = busIface + ".ActionInvoked"
	sigClosed    = busIface + ".NotificationClosed"
	capActions   = "actions"
	defaultKey   = "default" // the action a click on the notification body invokes
	callTimeout  = 10 * time.Second
	signalBuffer = 16 // godbus queues further signals itself; this only smooths bursts
)

// style is how a kind is shown.
type style struct {
	urgency  fdo.Urgency
	expire   time.Duration // fdo.ExpireTimeoutNever stays until dismissed
	category string        // freedesktop category hint
}

// Failures and login stay until the user sees them: they need the user.
var styles = map[Kind]style{
	BackupFinished:  {fdo.UrgencyLow, 10 * time.Second, "transfer.complete"},
	BackupFailed:    {fdo.UrgencyCritical, fdo.ExpireTimeoutNever, "transfer.error"},
	LoginRequired:   {fdo.UrgencyCritical, fdo.ExpireTimeoutNever, "network.error"},
	RestoreReady:    {fdo.UrgencyNormal, fdo.ExpireTimeoutSetByNotificationServer, "transfer"},
	RestoreComplete: {fdo.UrgencyNormal, fdo.ExpireTimeoutSetByNotificationServer, "transfer.complete"},
}

// dbusNotifier talks to org.freedesktop.Notifications on the session bus.
//
// It uses esiqveland/notify for the wire types but makes the calls and
// reads the signals itself: the library's calls take no context (a hung
// server would hang the agent), its signal loop type-asserts signal
// bodies from any peer (a malformed signal would panic the agent) and it
// logs through the standard logger.
type dbusNotifier struct {
	conn *dbus.Conn
	opts SystemOptions
	sig  chan *dbus.Signal
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu      sync.Mutex
	actions bool
	sent    map[ID]sentNote // ours, until closed
	current map[topic]ID    // what a new notification of the topic replaces
}

type sentNote struct {
	topic   topic
	actions []Action
}

// Open connects to the session bus and checks that a notification server
// answers there. No bus or no server is an *UnavailableError.
func Open(opts SystemOptions) (System, error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil, &UnavailableError{Op: "connect to the D-Bus session bus", Err: err}
	}
	d, err := newDBus(conn, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return d, nil
}

func newDBus(conn *dbus.Conn, opts SystemOptions) (*dbusNotifier, error) {
	d := &dbusNotifier{
		conn: conn, opts: opts,
		sig:     make(chan *dbus.Signal, signalBuffer),
		done:    make(chan struct{}),
		sent:    map[ID]sentNote{},
		current: map[topic]ID{},
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	// Asking first also activates a server that is installed but not running.
	if _, err := d.capabilities(ctx); err != nil {
		return nil, err
	}
	// Only signals the server sends: the bus resolves the well-known name
	// to its current owner, so another client cannot fake a click.
	err := conn.AddMatchSignalContext(ctx,
		dbus.WithMatchSender(busName),
		dbus.WithMatchObjectPath(busPath),
		dbus.WithMatchInterface(busIface))
	if err != nil {
		return nil, fmt.Errorf("notify: subscribe to %s signals: %w", busIface, err)
	}
	conn.Signal(d.sig)
	d.wg.Add(1)
	go d.loop()
	return d, nil
}

// capabilities asks the server what it can do and remembers whether it
// shows actions. A server may be replaced at any time, so each Notify asks.
func (d *dbusNotifier) capabilities(ctx context.Context) ([]string, error) {
	var caps []string
	err := d.conn.Object(busName, busPath).CallWithContext(ctx, busIface+".GetCapabilities", 0).Store(&caps)
	if err != nil {
		return nil, callError("GetCapabilities", err)
	}
	d.mu.Lock()
	d.actions = slices.Contains(caps, capActions)
	d.mu.Unlock()
	return caps, nil
}

// callError marks the errors that mean nobody is there as unavailable.
// NoReply is the bus saying the server left (or hung) with the call
// unanswered: a server that exits while a call is on its way to it.
func callError(method string, err error) error {
	var de dbus.Error
	if errors.Is(err, dbus.ErrClosed) ||
		(errors.As(err, &de) && (de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
			de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
			de.Name == "org.freedesktop.DBus.Error.NoReply" ||
			de.Name == "org.freedesktop.DBus.Error.Spawn.ServiceNotFound")) {
		return &UnavailableError{Op: "call " + busIface + "." + method, Err: err}
	}
	return fmt.Errorf("notify: %s.%s: %w", busIface, method, err)
}

func (d *dbusNotifier) ActionsSupported() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.actions
}

func (d *dbusNotifier) Notify(ctx context.Context, n Notification) (ID, error) {
	st, ok := styles[n.Kind]
	if !ok {
		return 0, fmt.Errorf("notify: unknown kind %d", int(n.Kind))
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := d.capabilities(ctx); err != nil {
		return 0, err
	}
	t := topic{n.Kind, n.Group}
	d.mu.Lock()
	withActions := d.actions
	replaces := d.current[t]
	d.mu.Unlock()

	note := fdo.Notification{
		AppName:       AppName,
		ReplacesID:    uint32(replaces),
		AppIcon:       d.opts.icon(),
		Summary:       n.Title,
		Body:          n.Body,
		ExpireTimeout: st.expire,
	}
	note.SetUrgency(st.urgency)
	note.AddHint(fdo.Hint{ID: "category", Variant: dbus.MakeVariant(st.category)})
	note.AddHint(fdo.Hint{ID: "desktop-entry", Variant: dbus.MakeVariant(AppName)})
	var actions []string
	if withActions {
		for i, a := range n.Actions {
			if i == 0 && !hasKey(n.Actions, defaultKey) {
				actions = append(actions, defaultKey, a.Label)
			}
			actions = append(actions, a.Key, a.Label)
		}
	} else if len(n.Actions) > 0 {
		d.opts.logf("notify: the notification server shows no actions; %d dropped from %q", len(n.Actions), n.Title)
	}
	if actions == nil {
		actions = []string{} // "as", never a nil that would not encode
	}

	var id uint32
	err := d.conn.Object(busName, busPath).CallWithContext(ctx, busIface+".Notify", 0,
		note.AppName, note.ReplacesID, note.AppIcon, note.Summary, note.Body,
		actions, note.Hints, int32(note.ExpireTimeout.Milliseconds())).Store(&id)
	if err != nil {
		return 0, callError("Notify", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if replaces != 0 && ID(id) != replaces {
		delete(d.sent, replaces) // the server showed a new one instead
	}
	d.sent[ID(id)] = sentNote{topic: t, actions: slices.Clone(n.Actions)}
	d.current[t] = ID(id)
	return ID(id), nil
}

func hasKey(as []Action, key string) bool {
	return slices.ContainsFunc(as, func(a Action) bool { return a.Key == key })
}

func (d *dbusNotifier) loop() {
	defer d.wg.Done()
	for {
		select {
		case <-d.done:
			return
		case s, ok := <-d.sig:
			if !ok {
				return
			}
			if ev, ok := d.event(s); ok && d.opts.OnEvent != nil {
				d.opts.OnEvent(ev)
			}
		}
	}
}

// event translates a signal about one of our notifications. Signals about
// other applications' notifications, and malformed ones, are ignored.
func (d *dbusNotifier) event(s *dbus.Signal) (Event, bool) {
	if s == nil || s.Path != busPath || len(s.Body) != 2 {
		return Event{}, false
	}
	raw, ok := s.Body[0].(uint32)
	if !ok {
		return Event{}, false
	}
	id := ID(raw)
	d.mu.Lock()
	defer d.mu.Unlock()
	note, ours := d.sent[id]
	if !ours {
		return Event{}, false
	}
	ev := Event{ID: id, Kind: note.topic.kind, Group: note.topic.group}
	switch s.Name {
	case sigActions:
		key, ok := s.Body[1].(string)
		if !ok {
			return Event{}, false
		}
		if key == defaultKey && len(note.actions) > 0 && !hasKey(note.actions, defaultKey) {
			key = note.actions[0].Key
		}
		if !hasKey(note.actions, key) {
			return Event{}, false
		}
		ev.Action = key
	case sigClosed:
		reason, ok := s.Body[1].(uint32)
		if !ok {
			return Event{}, false
		}
		ev.Closed, ev.Reason = true, CloseReason(reason)
		delete(d.sent, id)
		if d.current[note.topic] == id {
			delete(d.current, note.topic)
		}
	default:
		return Event{}, false
	}
	return ev, true
}

// Close stops event delivery and closes the connection Open made.
func (d *dbusNotifier) Close() error {
	var err error
	d.once.Do(func() {
		close(d.done)
		d.conn.RemoveSignal(d.sig)
		d.wg.Wait()
		err = d.conn.Close()
	})
	return err
}
