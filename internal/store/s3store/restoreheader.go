package s3store

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/icevault/icevault/internal/store"
)

// ParseRestoreHeader reads S3's x-amz-restore header:
//
//	ongoing-request="true"
//	ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"
//
// An empty header means no restore was requested (store.RestoreUnknown is
// returned so that callers decide; Head turns it into RestoreNone).
func ParseRestoreHeader(h string) (store.Restore, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return store.Restore{}, nil
	}
	fields := map[string]string{}
	rest := h
	for rest != "" {
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			return store.Restore{}, fmt.Errorf("malformed x-amz-restore header %q", h)
		}
		name = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ","))
		after = strings.TrimSpace(after)
		if !strings.HasPrefix(after, `"`) {
			return store.Restore{}, fmt.Errorf("malformed x-amz-restore header %q", h)
		}
		end := strings.Index(after[1:], `"`)
		if end < 0 {
			return store.Restore{}, fmt.Errorf("malformed x-amz-restore header %q", h)
		}
		fields[strings.ToLower(name)] = after[1 : end+1]
		rest = strings.TrimSpace(after[end+2:])
	}
	switch fields["ongoing-request"] {
	case "true":
		return store.Restore{State: store.RestoreInProgress}, nil
	case "false":
		exp, err := http.ParseTime(fields["expiry-date"])
		if err != nil {
			return store.Restore{}, fmt.Errorf("x-amz-restore header %q: expiry-date: %w", h, err)
		}
		return store.Restore{State: store.RestoreDone, Expiry: exp.UTC()}, nil
	}
	return store.Restore{}, fmt.Errorf("x-amz-restore header %q has no ongoing-request", h)
}
