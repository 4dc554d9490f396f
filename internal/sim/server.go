package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/icevault/icevault/internal/clock"
)

// Credentials the simulator accepts when Options.Keys is empty.
const (
	DefaultAccessKey = "AKIAICEVAULTSIM00000"
	DefaultSecretKey = "icevault-simulator-secret-not-real"
)

// Options configures a Server. The zero value is a usable in-memory
// simulator for us-east-1 with the default key.
type Options struct {
	Clock         clock.Clock       // Glacier time: thaw and expiry. Default clock.Real{}.
	Region        string            // default "us-east-1"; used in SigV4 scope check and GetBucketLocation
	Keys          map[string]string // access key ID -> secret; default {DefaultAccessKey: DefaultSecretKey}
	Dir           string            // "" = in memory; else objects persist in this directory and survive restart
	Buckets       []string          // created at start if missing
	ThawStandard  time.Duration     // default 12h
	ThawBulk      time.Duration     // default 48h
	EnforcePolicy bool              // behave like the seed's bucket policy
}

// Server is the simulator as an http.Handler. It is safe for concurrent use.
type Server struct {
	opts  Options
	clock clock.Clock
	wall  func() time.Time // SigV4 skew; replaced only by tests using AWS's 2013 vectors
	store blobStore

	mu      sync.Mutex // guards buckets and every objectMeta in them
	buckets map[string]map[string]*objectMeta

	logMu  sync.Mutex
	log    []Request
	counts map[string]int
	reqSeq uint64

	faultMu  sync.Mutex
	faults   []*faultEntry
	faultSeq int
	rng      *rand.Rand // seeded so Fault.Rate is reproducible run to run
}

// New returns a simulator; with Options.Dir set it loads what a previous
// simulator left there.
func New(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if len(opts.Keys) == 0 {
		opts.Keys = map[string]string{DefaultAccessKey: DefaultSecretKey}
	}
	if opts.ThawStandard <= 0 {
		opts.ThawStandard = 12 * time.Hour
	}
	if opts.ThawBulk <= 0 {
		opts.ThawBulk = 48 * time.Hour
	}
	s := &Server{
		opts:    opts,
		clock:   opts.Clock,
		wall:    time.Now,
		buckets: map[string]map[string]*objectMeta{},
		counts:  map[string]int{},
		rng:     rand.New(rand.NewPCG(0x1ce, 0xa17)),
	}
	var err error
	if opts.Dir == "" {
		s.store = newMemStore()
	} else {
		s.store, err = openDirStore(opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("sim: open %s: %w", opts.Dir, err)
		}
	}
	loaded, err := s.store.load()
	if err != nil {
		s.store.close()
		return nil, fmt.Errorf("sim: load objects: %w", err)
	}
	for b, objs := range loaded {
		s.buckets[b] = objs
	}
	for _, b := range opts.Buckets {
		if err := s.CreateBucket(b); err != nil {
			s.store.close()
			return nil, err
		}
	}
	return s, nil
}

// ErrInvalidBucketName is returned by CreateBucket for names S3 would refuse.
var ErrInvalidBucketName = errors.New("sim: invalid bucket name")

// CreateBucket creates a bucket if it does not exist yet.
func (s *Server) CreateBucket(name string) error {
	if !validBucketName(name) {
		return fmt.Errorf("%w: %q", ErrInvalidBucketName, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[name]; ok {
		return nil
	}
	if err := s.store.createBucket(name); err != nil {
		return fmt.Errorf("sim: create bucket %s: %w", name, err)
	}
	s.buckets[name] = map[string]*objectMeta{}
	return nil
}

// Close flushes and closes persistent storage. The Server must not be used
// afterwards.
func (s *Server) Close() error {
	if err := s.store.close(); err != nil {
		return fmt.Errorf("sim: close storage: %w", err)
	}
	return nil
}

// validBucketName applies S3's general-purpose bucket naming rules, which
// also keep names safe to use as directory names in Dir mode.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' || c == '.':
			if i == 0 || i == len(name)-1 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
