package sim

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"time"
)

// restoreState is the thaw of an archived object. The object's bytes never
// move; the state only decides whether GET is allowed.
type restoreState struct {
	Tier        string    `json:"tier"`
	Days        int       `json:"days"`
	RequestedAt time.Time `json:"requestedAt"`
	ReadyAt     time.Time `json:"readyAt"` // thaw completes
	Expiry      time.Time `json:"expiry"`  // restored copy disappears
}

type restorePhase int

const (
	restoreNone    restorePhase = iota // never requested, or the copy expired
	restoreOngoing                     // thawing
	restoreDone                        // restored copy readable until Expiry
)

func (rs *restoreState) phase(now time.Time) restorePhase {
	switch {
	case rs == nil || !now.Before(rs.Expiry):
		return restoreNone
	case now.Before(rs.ReadyAt):
		return restoreOngoing
	}
	return restoreDone
}

// header renders x-amz-restore, "" when there is nothing to report.
func (rs *restoreState) header(now time.Time) string {
	switch rs.phase(now) {
	case restoreOngoing:
		return `ongoing-request="true"`
	case restoreDone:
		return `ongoing-request="false", expiry-date="` + rs.Expiry.UTC().Format(http.TimeFormat) + `"`
	}
	return ""
}

// expiryAfter applies the S3 User Guide's rule ("Restoring an archived
// object"): the number of days is added to the time of the restore request
// and the result rounded up to the next midnight UTC, for the first restore
// and for every extension alike.
func expiryAfter(t time.Time, days int) time.Time {
	return nextMidnightUTC(t.Add(time.Duration(days) * 24 * time.Hour))
}

func nextMidnightUTC(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
}

type restoreRequestXML struct {
	XMLName              xml.Name `xml:"RestoreRequest"`
	Days                 *int     `xml:"Days"`
	GlacierJobParameters *struct {
		Tier string `xml:"Tier"`
	} `xml:"GlacierJobParameters"`
	Type string `xml:"Type"` // "SELECT" requests are not modelled
}

// thawTimes for GLACIER's Expedited tier; Deep Archive has none.
const expeditedThaw = 5 * time.Minute

func (c *reqCtx) restoreObject() {
	s := c.s
	if !s.bucketExists(c.bucket) {
		c.writeError(errNoSuchBucket(c.bucket))
		return
	}
	body, e := c.readSmallBody(64 << 10)
	if e != nil {
		c.writeError(e)
		return
	}
	var req restoreRequestXML
	if err := xml.Unmarshal(body, &req); err != nil {
		c.writeError(errMalformedXML())
		return
	}
	if req.Type != "" {
		c.writeError(errNotImplemented())
		return
	}
	if req.Days == nil {
		// Days is required for GLACIER and DEEP_ARCHIVE restores (only
		// Intelligent-Tiering archive tiers omit it).
		c.writeError(errMalformedXML())
		return
	}
	if *req.Days < 1 {
		c.writeError(errInvalidArgument("Days must be greater than or equal to 1"))
		return
	}
	tier := "Standard"
	if req.GlacierJobParameters != nil && req.GlacierJobParameters.Tier != "" {
		tier = req.GlacierJobParameters.Tier
	}
	if tier != "Standard" && tier != "Bulk" && tier != "Expedited" {
		c.writeError(errMalformedXML())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	objs, ok := s.buckets[c.bucket]
	if !ok {
		c.writeError(errNoSuchBucket(c.bucket))
		return
	}
	m, ok := objs[c.key]
	if !ok {
		c.writeError(errNoSuchKey(c.key))
		return
	}
	if !archived(m.StorageClass) {
		e := errInvalidObjectState(m.StorageClass)
		e.Message = "Restore is not allowed for the object's current storage class"
		c.writeError(e)
		return
	}
	var thaw time.Duration
	switch {
	case tier == "Expedited" && m.StorageClass == "DEEP_ARCHIVE":
		c.writeError(errInvalidArgument("Expedited retrieval is not supported for the DEEP_ARCHIVE storage class"))
		return
	case tier == "Expedited":
		thaw = expeditedThaw
	case tier == "Bulk":
		thaw = s.opts.ThawBulk
	default:
		thaw = s.opts.ThawStandard
	}

	now := s.clock.Now().UTC()
	var next restoreState
	status := http.StatusAccepted
	switch m.Restore.phase(now) {
	case restoreOngoing:
		c.writeError(newErr(http.StatusConflict, "RestoreAlreadyInProgress", "Object restore is already in progress"))
		return
	case restoreDone:
		// Extending a restored copy: only the expiry moves.
		next = *m.Restore
		next.Days = *req.Days
		next.Expiry = expiryAfter(now, *req.Days)
		status = http.StatusOK
	default:
		next = restoreState{Tier: tier, Days: *req.Days, RequestedAt: now, ReadyAt: now.Add(thaw)}
		next.Expiry = expiryAfter(now, *req.Days)
		// The documented rule counts from the request, which for a Bulk
		// thaw with Days=1 would expire the copy before it exists; count
		// from completion instead, as S3 is observed to.
		if !next.Expiry.After(next.ReadyAt) {
			next.Expiry = expiryAfter(next.ReadyAt, *req.Days)
		}
	}
	updated := *m
	updated.Restore = &next
	if err := s.store.saveMeta(c.bucket, &updated); err != nil {
		c.writeError(errInternal(err))
		return
	}
	objs[c.key] = &updated
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(status)
}

// readSmallBody reads a request body that is an XML document, enforcing the
// payload hash and any checksum the client sent.
func (c *reqCtx) readSmallBody(limit int64) ([]byte, *s3Error) {
	p, e := c.payload()
	if e != nil {
		return nil, e
	}
	check, e := newBodyChecker(c.r)
	if e != nil {
		return nil, e
	}
	body, err := io.ReadAll(io.TeeReader(io.LimitReader(p, limit+1), check.writer()))
	if err != nil {
		var se *s3Error
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, errIncompleteBody()
	}
	if int64(len(body)) > limit {
		return nil, errMalformedXML()
	}
	if _, _, e := check.verify(p.trailers); e != nil {
		return nil, e
	}
	return body, nil
}
