// Package tray is icevault's menu bar (macOS) and tray (Linux) icon: it shows
// the agent's state and reports clicks. It decides nothing: the agent hands
// it a State on every change (Tray.Set) and acts on the Actions it reports
// through Options.OnAction ("Back up now", "Pause"/"Resume", "Log in to
// AWS…", a restore job, "Open dashboard", "Quit" — quitting is the agent's
// call too).
//
// The package has two halves. Build is a pure function from State to Menu:
// the icon (one per mode: idle, backing up, paused, login required, error),
// the title, tooltip and every item's label, enabled and visible flags and
// action. The adapter renders a Menu with fyne.io/systray; Menu always has
// the same slots and separators, so native items are created once and then
// only relabelled, enabled or hidden (systray cannot hide a separator, and
// hosts key open menus on item IDs). Clicks are resolved against the menu
// shown at that moment, so a click that raced a state change on an item
// now hidden or disabled is dropped.
//
// Platforms:
//   - Linux and the BSDs: systray's pure-Go StatusNotifierItem at
//     /StatusNotifierItem with a com.canonical.dbusmenu menu at
//     /StatusNotifierItem/menu, registered with org.kde.StatusNotifierWatcher.
//     Run probes first and returns an error wrapping ErrHeadless when there
//     is no session bus, no watcher (stock GNOME without the AppIndicator
//     extension) or no host; the agent then runs without a tray and may call
//     Probe again later. Stopping the tray closes the shared
//     dbus.SessionBus() connection (systray does), so other D-Bus users in
//     the process hold their own.
//   - macOS with cgo: AppKit needs the main thread, so Main is the entry
//     point there (Run refuses); call it from main.
//   - macOS without cgo, and anything else: Run, Main and Probe return an
//     error wrapping ErrHeadless ("run headless").
//
// systray is a process-wide singleton: one Run or Main per process
// (ErrAlreadyRunning after that). It also logs its own D-Bus failures with
// the standard log package; nothing else here prints.
//
// The icons are 32×32 PNGs in icons/, drawn by icons/gen.go (go generate)
// and embedded: a coloured disc per state, plus monochrome template
// variants that macOS tints to the menu bar; login required and error stay
// in colour there so they stand out.
package tray
