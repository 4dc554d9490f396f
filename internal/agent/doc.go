// Package agent is icevault's long-running process: it keeps each
// repository's archive current on its schedule, owns restore jobs until
// their files are written, and answers the CLI, the tray and the dashboard
// through a local API. It decides; it never prints, never draws and never
// logs in by itself.
//
// # Scheduling
//
// A repository is due when its schedule says so, counted from its last
// successful backup (the catalog's newest snapshot on start): "every 6h"
// is due 6 h after it, "daily 02:30" at the first 02:30 after it. A
// repository never backed up is due at once. The loop wakes at least every
// WakeEvery (one minute) and compares the wall clock, because a laptop's
// sleep stops monotonic timers: a run missed during sleep starts once on
// wake, however many slots it missed. After a failure the next attempt
// waits Backoff·2^(n−1), capped at MaxBackoff, instead of the schedule.
// One run at a time across repositories: two backups on one disk and one
// uplink only slow each other. SetRepos takes a changed config (the agent
// command watches the file): a repository keeps its history, a new one is
// due only once its last backup has been read from its catalog.
//
// # Login required
//
// Before each run the agent asks the Runner whether the credentials work
// (reading the token cache; never logging in). When they do not — or a run
// stops with an error auth.Classify calls LoginRequired — the repository
// is marked "login required", the run is not started (or stops, keeping
// every confirmed pack: the next run continues from there), one
// notification with a "Log in" action is sent, and nothing is retried on a
// timer. CredentialsChanged (the token-cache watcher, or a finished
// `icevault login`) re-checks; once the credentials work, the pending run
// starts at once.
//
// # Restore jobs
//
// Every RestorePoll the agent advances each repository's active restore
// jobs through the Runner (poll the thaw, download what is ready, write
// files), between backups, and notifies when a job's first pack is ready
// and when every file is written.
//
// # Local API
//
// Handler serves JSON under /api/v1/ (status, backup, pause, resume,
// login). Serve it on a unix socket with mode 0600 (the CLI's way in: file
// permissions are the authentication) and, wrapped in Guard, on loopback
// HTTP for the dashboard: Guard checks the Host header (DNS rebinding),
// refuses foreign Origins, and admits a browser only with the session
// token, which lives in the agent's memory alone. A browser gets it by
// opening a one-time link (Guard.Link), which the CLI or the tray asks for
// over the socket: the long-lived token never appears in a URL, a command
// line or a file.
package agent
