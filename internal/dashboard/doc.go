// Package dashboard is icevault's local web page: what the agent is doing,
// the snapshots and their files, the restore planner (tick files, see the
// quote, start), restore jobs with their progress, and what the archive
// stores and costs over time.
//
// It is server-rendered HTML (html/template) with one small script and one
// stylesheet, all embedded and served under /static/, so that it works
// under a strict Content-Security-Policy (CSP): no inline script or style,
// nothing from elsewhere. The charts are SVG drawn on the server. Pages
// that change by themselves (the overview, restore jobs) are refreshed by
// the script fetching the same URL and swapping the part that changed,
// which needs nothing beyond connect-src 'self'.
//
// The package knows nothing of catalogs or buckets: it asks a Backend,
// declared here as small as the pages need, with its own plain types. The
// CLI's backend (cmd/icevault) implements it over the catalog and the
// restore package; the agent serves New's handler on 127.0.0.1 behind its
// token, Host and Origin guard. Every change is a POST from a form on the
// same origin, and no page ever shows a secret.
package dashboard
