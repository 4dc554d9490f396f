// Package schedule installs icevault into the OS service manager: launchd
// LaunchAgents on macOS, systemd user units on Linux. It backs
// `icevault schedule install|uninstall|status`.
//
// Two modes, alternatives to each other (installing one removes the
// other's files, so a repository is never backed up twice):
//
//   - Agent (the default): `icevault agent` starts at login and stays up; it
//     runs every repository's schedule itself, catches up after sleep, pauses
//     when an SSO login is required and shows it in the menu bar / tray.
//     macOS: ~/Library/LaunchAgents/dev.icevault.agent.plist with RunAtLoad
//     and KeepAlive{SuccessfulExit=false} (restarted after a crash, not after
//     Quit), LowPriorityIO, a PATH that finds Homebrew's `aws`.
//     Linux: icevault-agent.service (Restart=on-failure, Nice=10, idle I/O,
//     WantedBy=default.target).
//   - Unattended (--unattended): no agent; the service manager's own timer
//     runs `icevault backup --repo R` for each repository with a schedule.
//     Meant for keychain credentials (static IAM keys): an SSO session
//     expires and an unattended run then exits 4 (login required) until
//     someone logs in. macOS: dev.icevault.backup.<R>.plist per repository,
//     StartCalendarInterval (daily times) or StartInterval (every ...),
//     ProcessType Background, LowPriorityIO, Nice 10; launchd runs a job
//     missed during sleep once on wake. Linux: the template
//     icevault-backup@.service (Type=oneshot, Nice=19, idle I/O, --repo "%I")
//     plus icevault-backup@<systemd-escaped R>.timer per repository:
//     OnCalendar=*-*-* HH:MM:00 for daily times, an OnCalendar equivalent
//     for intervals that divide a day, Persistent=true (catch up a run missed
//     while off or asleep), a RandomizedDelaySec of at most 5 minutes; other
//     intervals use OnBootSec=15min + OnUnitActiveSec.
//
// Every unit runs the absolute, symlink-resolved path of the icevault
// binary that installed it, plus --config when a non-default config file
// was used; a moved or upgraded binary at another path needs a re-install.
// Nothing secret is written: keys stay in the keychain.
//
// Logs: macOS ~/Library/Logs/icevault/agent.log and backup.<R>.log (the
// directory is created by install; launchd does not); Linux the journal
// (`journalctl --user -u icevault-agent` or `-u 'icevault-backup@*'`).
//
// Files carry a marker comment (Marker). Install replaces only files with
// the marker (a user's own file of the same name is an error), writes
// atomically with mode 0644, and is idempotent: unchanged content is not
// rewritten, only re-enabled; changed content is replaced, the manager
// reloaded (daemon-reload; launchd bootout + bootstrap) and the unit
// restarted. Uninstall removes only marked files, and does nothing when
// nothing is installed.
//
// The service manager is reached through the Manager interface, which runs
// `systemctl --user` or `launchctl` through a Runner (faked in tests). Where
// it is unreachable — no user bus in a container or CI, no GUI domain over
// SSH — Install still writes the files and reports ErrUnavailable in
// Result.NotActivated with a Hint (the systemctl/launchctl command to run);
// the CLI prints both and exits 1, because nothing will run until then.
//
// Only launchd vs systemd selection (Native) depends on build tags; all
// generation is portable so both formats are tested on Linux: systemd units
// with `systemd-analyze verify`, plists with howett.net/plist and Python's
// plistlib.
package schedule
