package s3store_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store/s3store"
	"github.com/icevault/icevault/internal/store/storetest"
)

// endpointVars are every variable through which the SDK picks an S3
// endpoint by itself (aws-sdk-go-v2/config env_config.go; service/s3
// endpoints.go resolveBaseEndpoint).
var endpointVars = []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"}

// sdkConfig loads an AWS config the way the CLI does (LoadDefaultConfig
// with the "icevault" profile), from an isolated environment: profileExtra
// is appended to that profile (which holds the simulator's key), and env is
// set on top.
func sdkConfig(t *testing.T, profileExtra string, env map[string]string, httpClient aws.HTTPClient) aws.Config {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	profile := "[profile icevault]\nregion = us-east-1\naws_access_key_id = " + sim.DefaultAccessKey +
		"\naws_secret_access_key = " + sim.DefaultSecretKey + "\n" + profileExtra
	if err := os.WriteFile(cfgFile, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	for _, v := range append([]string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE"}, endpointVars...) {
		t.Setenv(v, "")
		os.Unsetenv(v) // the SDK checks presence (os.LookupEnv), not only value
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithSharedConfigProfile("icevault")}
	if httpClient != nil {
		opts = append(opts, awsconfig.WithHTTPClient(httpClient))
	}
	cfg, err := awsconfig.LoadDefaultConfig(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// urlRecorder answers no request: it records where the SDK sent it.
type urlRecorder struct {
	mu   sync.Mutex
	urls []string
}

func (r *urlRecorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.urls = append(r.urls, req.URL.Scheme+"://"+req.URL.Host+req.URL.Path)
	return nil, errors.New("urlRecorder: not sent")
}

// sentTo heads "some/key" in bucket "bkt" and returns the URL the request
// went to.
func sentTo(t *testing.T, cfg aws.Config, rec *urlRecorder, opts s3store.ClientOptions) string {
	t.Helper()
	opts.MaxAttempts = 1
	client, err := s3store.NewClient(cfg, opts)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	_, _ = s3store.New(client, "bkt", s3store.Options{}).Head(t.Context(), "some/key")
	if len(rec.urls) != 1 {
		t.Fatalf("%d requests sent, want 1: %q", len(rec.urls), rec.urls)
	}
	return rec.urls[0]
}

// TestEndpointFromEnvironmentRefusedOverPlainHTTP: the SDK takes an S3
// endpoint from AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile's
// endpoint_url even when the repository names none. The loopback-only rule
// for http:// must hold for those too, with a message naming the source.
func TestEndpointFromEnvironmentRefusedOverPlainHTTP(t *testing.T) {
	for _, c := range []struct {
		name, profile string
		env           map[string]string
		source        string
	}{
		{"AWS_ENDPOINT_URL_S3", "", map[string]string{"AWS_ENDPOINT_URL_S3": "http://192.0.2.10:9000"}, "$AWS_ENDPOINT_URL_S3"},
		{"AWS_ENDPOINT_URL", "", map[string]string{"AWS_ENDPOINT_URL": "http://s3.example.com"}, "$AWS_ENDPOINT_URL"},
		// The service-specific variable wins over the global one.
		{"S3 over global", "", map[string]string{"AWS_ENDPOINT_URL": "https://s3.example.com", "AWS_ENDPOINT_URL_S3": "http://10.0.0.5"}, "$AWS_ENDPOINT_URL_S3"},
		{"profile endpoint_url", "endpoint_url = http://10.1.2.3:9000\n", nil, "endpoint_url in the AWS profile"},
		{"profile services section", "services = local\n\n[services local]\ns3 =\n  endpoint_url = http://10.1.2.4:9000\n", nil, "endpoint_url in the AWS profile"},
		{"not a URL", "", map[string]string{"AWS_ENDPOINT_URL_S3": "ftp://127.0.0.1"}, "$AWS_ENDPOINT_URL_S3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &urlRecorder{}
			cfg := sdkConfig(t, c.profile, c.env, rec)
			_, err := s3store.NewClient(cfg, s3store.ClientOptions{})
			if err == nil {
				t.Fatal("NewClient accepted the endpoint")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, "set by "+c.source) ||
				!strings.Contains(msg, "https://") || !strings.Contains(msg, "repository config") {
				t.Errorf("error %q: want one line naming %s and saying to use https:// or the repository's endpoint", msg, c.source)
			}
			if len(rec.urls) != 0 {
				t.Errorf("requests sent: %q", rec.urls)
			}
		})
	}
}

// TestEndpointSourcesAndAddressing: where requests go for each way of
// naming an endpoint, and that every custom endpoint is path-style.
func TestEndpointSourcesAndAddressing(t *testing.T) {
	for _, c := range []struct {
		name, profile string
		env           map[string]string
		repoEndpoint  string
		want          string
	}{
		{"AWS by default (virtual-hosted)", "", nil, "", "https://bkt.s3.us-east-1.amazonaws.com/some/key"},
		{"https from AWS_ENDPOINT_URL_S3", "", map[string]string{"AWS_ENDPOINT_URL_S3": "https://s3.example.com"}, "", "https://s3.example.com/bkt/some/key"},
		{"https from AWS_ENDPOINT_URL", "", map[string]string{"AWS_ENDPOINT_URL": "https://s3.example.com:8443"}, "", "https://s3.example.com:8443/bkt/some/key"},
		{"https from the profile", "endpoint_url = https://s3.example.net\n", nil, "", "https://s3.example.net/bkt/some/key"},
		// "localhost" is a host name, not an IP: only UsePathStyle keeps the
		// bucket out of the host (b.localhost).
		{"loopback http from AWS_ENDPOINT_URL_S3", "", map[string]string{"AWS_ENDPOINT_URL_S3": "http://localhost:9000"}, "", "http://localhost:9000/bkt/some/key"},
		{"loopback http from the profile", "endpoint_url = http://127.0.0.1:9001\n", nil, "", "http://127.0.0.1:9001/bkt/some/key"},
		// The repository's endpoint wins, even over an endpoint that
		// would be refused.
		{"repository over AWS_ENDPOINT_URL_S3", "", map[string]string{"AWS_ENDPOINT_URL_S3": "http://192.0.2.10:9000"}, "http://localhost:9002", "http://localhost:9002/bkt/some/key"},
		{"repository over AWS_ENDPOINT_URL", "", map[string]string{"AWS_ENDPOINT_URL": "http://192.0.2.10:9000"}, "https://s3.example.org", "https://s3.example.org/bkt/some/key"},
		{"repository over the profile", "endpoint_url = http://10.1.2.3\n", nil, "https://s3.example.org", "https://s3.example.org/bkt/some/key"},
		// The SDK's own switch to ignore configured endpoints is honoured.
		{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "", map[string]string{"AWS_ENDPOINT_URL_S3": "http://192.0.2.10:9000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "", "https://bkt.s3.us-east-1.amazonaws.com/some/key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &urlRecorder{}
			cfg := sdkConfig(t, c.profile, c.env, rec)
			if got := sentTo(t, cfg, rec, s3store.ClientOptions{Endpoint: c.repoEndpoint}); got != c.want {
				t.Errorf("request sent to %s, want %s", got, c.want)
			}
		})
	}
}

// TestEndpointFromEnvironmentAgainstSimulator: with no endpoint in the
// repository, AWS_ENDPOINT_URL_S3 on loopback reaches the simulator, which
// serves path-style only, for a real put, head and list.
func TestEndpointFromEnvironmentAgainstSimulator(t *testing.T) {
	srv, err := sim.Start(sim.Options{Buckets: []string{"from-env"}, EnforcePolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// Through "localhost", so a virtual-hosted request would name the
	// bucket in the host and miss it.
	endpoint := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	cfg := sdkConfig(t, "", map[string]string{"AWS_ENDPOINT_URL_S3": endpoint}, nil)
	client, err := s3store.NewClient(cfg, s3store.ClientOptions{MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := s3store.New(client, "from-env", s3store.Options{})
	o := storetest.NewObject("env/k", 100)
	storetest.Put(t, s, o)
	info, err := s.Head(t.Context(), o.Key)
	if err != nil || info.Size != 100 || info.StorageClass != "DEEP_ARCHIVE" {
		t.Fatalf("Head = %+v, %v", info, err)
	}
	var puts int
	for _, r := range srv.Requests() {
		if r.Op == "PutObject" && r.Bucket == "from-env" && r.Key == "env/k" {
			puts++
		}
	}
	if puts != 1 {
		t.Fatalf("the simulator logged %d PutObjects of from-env/env/k, want 1: %+v", puts, srv.Requests())
	}
}
