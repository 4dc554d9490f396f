package keystore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	dbus "github.com/godbus/dbus/v5"
)

const osKeychainName = "Secret Service over D-Bus"

const secretServiceName = "org.freedesktop.secrets"

// osKeychainPrecheck tells "no keychain here" apart before go-keyring is
// called: without a session bus, go-keyring (godbus) would try to autolaunch
// one with dbus-launch, leaving a stray daemon behind; with a bus but no
// Secret Service, its calls fail with a D-Bus error about an unknown name.
func osKeychainPrecheck() error {
	conn, err := dbus.SessionBusPrivateNoAutoStartup()
	if err != nil {
		return fmt.Errorf("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset, no $XDG_RUNTIME_DIR/bus): %w", err)
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		return fmt.Errorf("D-Bus session bus: authentication failed: %w", err)
	}
	if err := conn.Hello(); err != nil {
		return fmt.Errorf("D-Bus session bus: hello failed: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bus := conn.BusObject()
	var owned bool
	if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, secretServiceName).Store(&owned); err != nil {
		return fmt.Errorf("D-Bus session bus: NameHasOwner: %w", err)
	}
	if owned {
		return nil
	}
	// Not running, but the bus may start it on the first call (activation).
	var activatable []string
	if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.ListActivatableNames", 0).Store(&activatable); err != nil {
		return fmt.Errorf("D-Bus session bus: ListActivatableNames: %w", err)
	}
	if slices.Contains(activatable, secretServiceName) {
		return nil
	}
	return errors.New("no Secret Service (" + secretServiceName + ") on the D-Bus session bus; " +
		"a keyring daemon such as gnome-keyring or KeePassXC provides one")
}
