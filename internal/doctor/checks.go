package doctor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/store/s3store"
)

const loginFix = "AWS login required: run `icevault login`"

func (r *runner) loginFix() string {
	if r.o.Profile != "" && r.o.Profile != "icevault" {
		return loginFix + " (profile " + quote(r.o.Profile) + ")"
	}
	return loginFix
}

// errFix is the fix for an error whose cause is not specific to one check.
func (r *runner) errFix(c Cause) string {
	switch c {
	case CauseLogin:
		return r.loginFix()
	case CauseCredentials:
		return "AWS rejects these credentials: run `icevault login` (SSO), or store working IAM user keys with `icevault keys set`"
	case CauseClock:
		return "this machine's clock is off by more than AWS allows: turn on automatic time (NTP) and retry"
	case CauseNetwork:
		return "AWS did not answer (network, proxy or throttling): check the connection and run `icevault doctor` again"
	}
	return ""
}

// ---- who am I ----

func (r *runner) identity(ctx context.Context) Check {
	c := Check{ID: IDIdentity, Name: "who am I"}
	if r.d.CallerIdentity == nil {
		c.Status, c.Detail = Skipped, "STS is not reachable in this setup (custom endpoint without AWS_ENDPOINT_URL_STS)"
		return c
	}
	id, err := r.d.CallerIdentity(ctx)
	if err != nil {
		c.Status, c.Cause = Fail, r.cause(err)
		c.Detail = "STS GetCallerIdentity failed: " + err.Error()
		c.Fix = r.errFix(c.Cause)
		if c.Fix == "" {
			// GetCallerIdentity needs no permission: whatever else went
			// wrong, it is the credentials.
			c.Cause = CauseCredentials
			c.Fix = r.errFix(CauseCredentials)
		}
		if c.Cause == CauseLogin || c.Cause == CauseCredentials {
			r.credsBroken = "needs working credentials (see \"who am I\")"
		}
		return c
	}
	p := ParseARN(id.ARN)
	c.Status = OK
	c.Detail = fmt.Sprintf("%s in account %s (%s)", p.Describe(), id.Account, id.ARN)
	if p.Kind == PrincipalRoot {
		c.Status = Warn
		c.Fix = "do not back up with root credentials: use an IAM Identity Center permission set (`icevault setup`) or an IAM user limited by `icevault policy`"
	}
	return c
}

// ---- credential source and time left ----

func (r *runner) credentials(ctx context.Context) Check {
	c := Check{ID: IDCredentials, Name: "credentials"}
	if r.d.Credentials == nil {
		c.Status, c.Detail = Skipped, "no credential source to inspect"
		return c
	}
	info, err := r.d.Credentials(ctx)
	if err != nil {
		c.Status = Fail
		c.Detail = "getting credentials failed: " + err.Error()
		if r.d.IsLoginRequired(err) {
			c.Detail = "the SSO session has ended or was never started: " + err.Error()
			c.Cause, c.Fix = CauseLogin, r.loginFix()
		} else {
			c.Cause = CauseCredentials
			c.Fix = fmt.Sprintf("check the AWS profile %q (`aws configure list-profiles`; `icevault setup` writes one), or store IAM user keys with `icevault keys set`", r.o.Profile)
		}
		r.credsBroken = "needs working credentials (see \"credentials\")"
		return c
	}
	now := r.d.Clock.Now()
	var parts []string
	switch info.Source {
	case SourceSSO:
		parts = append(parts, "IAM Identity Center (SSO) profile "+quote(info.Profile))
	case SourceKeychain:
		parts = append(parts, "static IAM user keys from the OS keychain (they do not expire)")
	case SourceStaticFile:
		parts = append(parts, "static keys in a plaintext AWS credentials file (profile "+quote(info.Profile)+")")
	case SourceEnv:
		parts = append(parts, "keys from environment variables (AWS_ACCESS_KEY_ID)")
	default:
		parts = append(parts, "credentials from "+info.Provider)
	}
	left := func(t time.Time) string {
		d := t.Sub(now).Round(time.Minute)
		if d <= 0 {
			return "expired " + (-d).String() + " ago"
		}
		return "in " + d.String()
	}
	if !info.RoleExpires.IsZero() {
		parts = append(parts, "role credentials expire "+left(info.RoleExpires))
	}
	if !info.AccessTokenExpires.IsZero() {
		parts = append(parts, "access token expires "+left(info.AccessTokenExpires))
	}
	if info.Source == SourceSSO {
		if info.RefreshToken {
			s := "portal session: refresh token present (renewed automatically until the session ends)"
			if !info.RegistrationExpires.IsZero() {
				s += ", client registration expires " + left(info.RegistrationExpires)
			}
			parts = append(parts, s)
		} else if !info.AccessTokenExpires.IsZero() {
			parts = append(parts, "portal session: no refresh token (a new login is needed when the access token expires)")
		}
	}
	c.Detail = strings.Join(parts, "; ")
	c.Status = OK

	// Until when does this work without a login? Role credentials renew
	// from the access token, the access token from the refresh token
	// until the registration expires.
	var until time.Time
	switch {
	case info.Source == SourceSSO && info.RefreshToken:
		until = info.RegistrationExpires
	case info.Source == SourceSSO:
		until = info.AccessTokenExpires
	default:
		until = info.RoleExpires
	}
	switch {
	case !until.IsZero() && !until.After(now):
		c.Status, c.Cause = Fail, CauseLogin
		c.Fix = r.loginFix()
	case !until.IsZero() && until.Sub(now) < WarnTimeLeft:
		c.Status = Warn
		c.Fix = "less than an hour before AWS login is required: run `icevault login` now so a long backup does not pause"
	case info.Source == SourceStaticFile:
		c.Status = Warn
		c.Fix = "keys in a plaintext file can be copied by any program: move them to the OS keychain with `icevault keys set`, or use SSO (`icevault setup`)"
	}
	return c
}

// ---- bucket reachable and its region ----

func (r *runner) bucket(ctx context.Context) Check {
	c := Check{ID: IDBucket, Name: "bucket"}
	if why := r.s3Skip(false); why != "" {
		c.Status, c.Detail = Skipped, why
		r.bucketBroken = why
		return c
	}
	// GetBucketLocation first: icevault's policy grants it (for setup and
	// doctor), whereas HeadBucket needs an s3:ListBucket without the
	// s3:prefix condition the policy puts on listing.
	region, err := r.location(ctx)
	if err == nil {
		if region != r.o.Region {
			return r.wrongRegion(c, region)
		}
		c.Status = OK
		c.Detail = fmt.Sprintf("s3://%s is reachable, in %s", r.o.Bucket, region)
		return c
	}
	e := inspect(err)
	region = e.region
	if region == "" && r.d.Wire != nil {
		// On a region mismatch S3 refuses the signature and its error
		// body names the right region.
		region = r.d.Wire().ErrorRegion
	}
	var headErr error
	if region == "" && (r.cause(err) == CauseAccess || e.status == 301 || e.status == 400) {
		// HeadBucket answers x-amz-bucket-region even on 301 and 403.
		var out *s3.HeadBucketOutput
		if out, headErr = r.d.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(r.o.Bucket)}); headErr == nil {
			region = aws.ToString(out.BucketRegion)
			if region == "" {
				region = r.o.Region
			}
		} else {
			region = inspect(headErr).region
		}
	}
	if region != "" && region != r.o.Region {
		return r.wrongRegion(c, region)
	}
	c.Cause = r.cause(err)
	switch {
	case c.Cause == CauseAccess && region != "":
		c.Status = Warn
		c.Detail = fmt.Sprintf("s3://%s exists, in %s, but GetBucketLocation is refused", r.o.Bucket, region)
		c.Fix = fmt.Sprintf(`icevault setup and doctor use it: {"Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": "arn:aws:s3:::%s"} (see `+"`icevault policy`"+`)`, r.o.Bucket)
		return c
	case c.Cause == CauseNotFound:
		c.Status = Fail
		c.Detail = fmt.Sprintf("there is no bucket %q (or it belongs to another account)", r.o.Bucket)
		c.Fix = fmt.Sprintf("check bucket = %q in the repository config, or create it: aws s3api create-bucket --bucket %s --region %s (add --create-bucket-configuration LocationConstraint=%s outside us-east-1)",
			r.o.Bucket, r.o.Bucket, r.o.Region, r.o.Region)
		r.bucketBroken = "needs the bucket (see \"bucket\")"
	case c.Cause == CauseAccess:
		c.Status = Fail
		c.Detail = fmt.Sprintf("GetBucketLocation and HeadBucket on s3://%s were refused: the bucket belongs to another account, or the policy allows neither", r.o.Bucket)
		c.Fix = fmt.Sprintf(`check bucket = %q in the repository config; the policy needs {"Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": "arn:aws:s3:::%s"} (see `+"`icevault policy`"+`)`, r.o.Bucket, r.o.Bucket)
	default:
		c.Status = Fail
		c.Detail = fmt.Sprintf("GetBucketLocation on s3://%s failed: %v", r.o.Bucket, err)
		c.Fix = r.errFix(c.Cause)
		if c.Cause == CauseLogin || c.Cause == CauseCredentials {
			r.bucketBroken = "needs working credentials (see \"bucket\")"
		}
	}
	return c
}

func (r *runner) wrongRegion(c Check, region string) Check {
	c.Status, c.Cause = Fail, CauseConfig
	c.Detail = fmt.Sprintf("s3://%s is in %s, but the repository config says region = %q", r.o.Bucket, region, r.o.Region)
	section := "the repository's section"
	if r.o.Repo != "" {
		section = "[repository." + r.o.Repo + "]"
	}
	c.Fix = fmt.Sprintf("set region = %q in %s of the icevault config", region, section)
	r.bucketBroken = "needs the right region (see \"bucket\")"
	return c
}

// location asks GetBucketLocation for the bucket's region.
func (r *runner) location(ctx context.Context) (string, error) {
	out, err := r.d.S3.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(r.o.Bucket)})
	if err != nil {
		return "", err
	}
	switch lc := string(out.LocationConstraint); lc {
	case "":
		return "us-east-1", nil // S3's historical answer for us-east-1
	case "EU":
		return "eu-west-1", nil
	default:
		return lc, nil
	}
}

func (r *runner) listStatement() string {
	return fmt.Sprintf(`{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::%s", "Condition": {"StringLike": {"s3:prefix": ["%s*"]}}} (see `+"`icevault policy`"+`)`, r.o.Bucket, r.o.Prefix)
}

func (r *runner) objectResource() string {
	return fmt.Sprintf("arn:aws:s3:::%s/%s*", r.o.Bucket, r.o.Prefix)
}

// ---- listing allowed ----

func (r *runner) list(ctx context.Context) Check {
	c := Check{ID: IDList, Name: "listing"}
	if why := r.s3Skip(true); why != "" {
		c.Status, c.Detail = Skipped, why
		return c
	}
	out, err := r.d.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: aws.String(r.o.Bucket), Prefix: aws.String(r.o.Prefix), MaxKeys: aws.Int32(1),
	})
	if err != nil {
		c.Status, c.Cause = Fail, r.cause(err)
		c.Detail = fmt.Sprintf("ListObjectsV2 on s3://%s/%s failed: %v", r.o.Bucket, r.o.Prefix, err)
		if c.Cause == CauseAccess {
			r.listDenied = true
			c.Detail = fmt.Sprintf("ListObjectsV2 on s3://%s/%s was refused: backups cannot reconcile and restores cannot poll thaws", r.o.Bucket, r.o.Prefix)
			c.Fix = "add to the policy: " + r.listStatement()
		} else {
			c.Fix = r.errFix(c.Cause)
		}
		return c
	}
	c.Status = OK
	if len(out.Contents) == 0 {
		c.Detail = fmt.Sprintf("allowed; nothing under s3://%s/%s yet", r.o.Bucket, r.o.Prefix)
	} else {
		c.Detail = fmt.Sprintf("allowed; s3://%s/%s holds objects (first: %s)", r.o.Bucket, r.o.Prefix, aws.ToString(out.Contents[0].Key))
	}
	return c
}

// ---- create-only DEEP_ARCHIVE test upload ----

// PutTestNote is said wherever the put test is mentioned.
const PutTestNote = "the put test leaves one small undeletable object (the no-delete policy keeps it forever; ~40 KB billed, a fraction of a cent a year), by design"

func (r *runner) putTestKey() string {
	return r.o.Prefix + "doctor/icevault-doctor-" + r.stamp() + ".txt"
}

func (r *runner) put(ctx context.Context) Check {
	c := Check{ID: IDPut, Name: "put test"}
	if r.o.SkipPutTest {
		c.Status, c.Detail = Skipped, "--no-put-test; "+PutTestNote
		return c
	}
	if why := r.s3Skip(true); why != "" {
		c.Status, c.Detail = Skipped, why
		return c
	}
	if r.d.Store == nil {
		c.Status, c.Detail = Skipped, "no store"
		return c
	}
	key := r.putTestKey()
	host := r.d.Host
	if host == "" {
		host = "this machine"
	}
	body := []byte(fmt.Sprintf("Written by `icevault doctor` on %s from %s to prove that create-only\n"+
		"DEEP_ARCHIVE uploads (If-None-Match: *, SHA-256 checksum) work under this\n"+
		"bucket's policy. icevault never deletes, so this object stays: it costs about\n"+
		"40 KB of billed storage. It is not part of any repository; ignore it.\n",
		r.d.Clock.Now().UTC().Format(time.RFC3339), host))
	res, err := r.d.Store.Put(ctx, store.PutRequest{
		Key: key, Body: bytes.NewReader(body), Size: int64(len(body)), SHA256: sha256.Sum256(body),
		Metadata: map[string]string{"icevault-doctor": "put-test"},
	})
	if err != nil {
		c.Status = Fail
		c.Detail = fmt.Sprintf("create-only DEEP_ARCHIVE PutObject of s3://%s/%s failed: %v", r.o.Bucket, key, err)
		switch store.KindOf(err) {
		case store.KindAccessDenied:
			c.Cause = CauseAccess
			c.Detail = fmt.Sprintf("create-only DEEP_ARCHIVE PutObject of s3://%s/%s was refused: backups cannot upload", r.o.Bucket, key)
			c.Fix = fmt.Sprintf(`add to the policy: {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "%s"} together with the deny of every other storage class (see `+"`icevault policy`"+`)`, r.objectResource())
		case store.KindLoginRequired:
			c.Cause, c.Fix = CauseLogin, r.loginFix()
		case store.KindTransient:
			c.Cause, c.Fix = CauseNetwork, r.errFix(CauseNetwork)
		case store.KindNotFound:
			c.Cause, c.Fix = CauseNotFound, "check bucket = "+quote(r.o.Bucket)+" in the repository config"
		default:
			c.Cause = r.cause(err)
			c.Fix = r.errFix(c.Cause)
		}
		return c
	}
	c.Status = OK
	c.Detail = fmt.Sprintf("created s3://%s/%s (DEEP_ARCHIVE, If-None-Match: *, SHA-256 verified by S3); %s", r.o.Bucket, key, PutTestNote)
	if res.Existed {
		c.Detail = fmt.Sprintf("s3://%s/%s already held these bytes (DEEP_ARCHIVE, create-only)", r.o.Bucket, key)
	}
	return c
}

// ---- restore permission ----

func (r *runner) restore(ctx context.Context) Check {
	c := Check{ID: IDRestore, Name: "restore permission"}
	if why := r.s3Skip(true); why != "" {
		c.Status, c.Detail = Skipped, why
		return c
	}
	// A key that cannot exist: S3 authorizes before it looks the key up,
	// so NoSuchKey means "allowed" and nothing is thawed or billed beyond
	// one request.
	key := r.o.Prefix + "doctor/icevault-doctor-restore-probe-" + r.stamp() + "-does-not-exist"
	_, err := r.d.S3.RestoreObject(ctx, &s3.RestoreObjectInput{
		Bucket: aws.String(r.o.Bucket), Key: aws.String(key),
		RestoreRequest: &types.RestoreRequest{
			Days:                 aws.Int32(1),
			GlacierJobParameters: &types.GlacierJobParameters{Tier: types.TierBulk},
		},
	})
	e := inspect(err)
	switch {
	case err == nil:
		// Cannot happen for a fresh key; S3 accepted, so it is allowed.
		c.Status, c.Detail = OK, "RestoreObject is allowed"
	case e.code == "NoSuchKey" || (e.status == 404 && e.code != "NoSuchBucket"):
		c.Status = OK
		c.Detail = "RestoreObject is allowed (S3 answered NoSuchKey for a key that does not exist: the policy let the request through; nothing was thawed)"
	case r.cause(err) == CauseAccess:
		c.Status, c.Cause = Warn, CauseAccess
		if r.o.RequireRestore {
			c.Status = Fail
		}
		c.Detail = "RestoreObject was refused: backups work, but restores from this machine will not"
		if r.listDenied {
			c.Detail += " (listing is refused too, and S3 then hides missing keys behind AccessDenied, so this may also be the listing permission)"
		}
		c.Fix = fmt.Sprintf(`to restore from this machine, add to the policy: {"Effect": "Allow", "Action": "s3:RestoreObject", "Resource": "%s"}`, r.objectResource())
	default:
		c.Status, c.Cause = Warn, r.cause(err)
		c.Detail = "could not tell whether RestoreObject is allowed: " + err.Error()
		c.Fix = r.errFix(c.Cause)
		if c.Cause == CauseLogin {
			c.Status = Fail
		}
	}
	return c
}

// ---- deny probe ----

// ProbeDenyNote explains the probe wherever it is offered.
const ProbeDenyNote = "sends one STANDARD PutObject that a correct policy refuses; if the policy is missing, it leaves a tiny STANDARD object that icevault cannot delete (~$0.023/GB-month)"

func (r *runner) probeDeny(ctx context.Context) Check {
	c := Check{ID: IDProbeDeny, Name: "deny probe"}
	if !r.o.ProbeDeny {
		c.Status, c.Detail = Skipped, "not run: pass --probe-deny to check that the policy refuses non-DEEP_ARCHIVE uploads ("+ProbeDenyNote+")"
		return c
	}
	if why := r.s3Skip(true); why != "" {
		c.Status, c.Detail = Skipped, why
		return c
	}
	if r.d.Probe == nil {
		c.Status, c.Detail = Skipped, "no S3 client for the probe"
		return c
	}
	key := r.o.Prefix + "doctor/icevault-doctor-probe-STANDARD-must-be-denied-" + r.stamp() + ".txt"
	body := []byte("icevault doctor --probe-deny: this STANDARD upload should have been refused by the bucket policy.\n")
	sum := sha256.Sum256(body)
	// If-None-Match and the checksum are sent like every icevault write, so
	// the storage class is the only thing the policy can object to.
	_, err := r.d.Probe.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(r.o.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		StorageClass:      types.StorageClassStandard,
		IfNoneMatch:       aws.String("*"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	switch cause := r.cause(err); {
	case err == nil:
		c.Status, c.Cause = Fail, CausePolicy
		c.Detail = fmt.Sprintf("the policy ACCEPTED a STANDARD upload: s3://%s/%s now exists in STANDARD (~$0.023/GB-month) and these credentials could fill the bucket with expensive objects", r.o.Bucket, key)
		c.Fix = fmt.Sprintf(`add to the policy: {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "%s", "Condition": {"StringNotEquals": {"s3:x-amz-storage-class": "DEEP_ARCHIVE"}}} (see `+"`icevault policy`"+`); remove the probe object with an administrator login`, r.objectResource())
	case cause == CauseAccess:
		c.Status = OK
		c.Detail = "a STANDARD upload was refused (AccessDenied), as the policy intends"
	case cause == CauseLogin:
		c.Status, c.Cause, c.Fix = Fail, cause, r.loginFix()
		c.Detail = "the probe could not run: " + err.Error()
	default:
		c.Status, c.Cause = Warn, cause
		c.Detail = "the probe was refused, but not by the policy: " + err.Error()
		c.Fix = r.errFix(cause)
	}
	return c
}

// ---- clock skew ----

func (r *runner) clock() Check {
	c := Check{ID: IDClock, Name: "clock"}
	if r.d.Wire == nil {
		c.Status, c.Detail = Skipped, "no HTTP recorder"
		return c
	}
	w := r.d.Wire()
	if w.ServerDate.IsZero() {
		c.Status, c.Detail = Skipped, "no response from AWS carried a Date header"
		return c
	}
	// Date has a one-second resolution.
	skew := w.LocalDate.Sub(w.ServerDate).Truncate(time.Second)
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	switch {
	case abs <= time.Second:
		c.Status, c.Detail = OK, "within a second of the server's clock"
	case abs < WarnSkew:
		c.Status, c.Detail = OK, fmt.Sprintf("%s %s the server's clock", abs, dir)
	case abs < FailSkew:
		c.Status, c.Detail = Warn, fmt.Sprintf("%s %s the server's clock; AWS refuses requests beyond 15 minutes", abs, dir)
		c.Fix = "turn on automatic time (NTP): macOS System Settings › General › Date & Time; Linux `timedatectl set-ntp true`"
	default:
		c.Status, c.Cause = Fail, CauseClock
		c.Detail = fmt.Sprintf("%s %s the server's clock; SigV4 signatures fail beyond 15 minutes", abs.Round(time.Second), dir)
		c.Fix = "fix the system time: turn on automatic time (NTP): macOS System Settings › General › Date & Time; Linux `timedatectl set-ntp true`"
	}
	return c
}

// ---- TLS ----

func (r *runner) tls() Check {
	c := Check{ID: IDTLS, Name: "TLS"}
	if err := s3store.ValidateEndpoint(r.o.Endpoint); err != nil {
		c.Status, c.Cause = Fail, CauseConfig
		c.Detail = err.Error()
		c.Fix = "set endpoint to an https:// URL in the repository config (or remove it to use AWS)"
		return c
	}
	var w Wire
	if r.d.Wire != nil {
		w = r.d.Wire()
	}
	if strings.HasPrefix(r.o.Endpoint, "http://") {
		c.Status = OK
		c.Detail = "plain http:// to " + r.o.Endpoint + ": allowed only because it is this machine (simulator or test server)"
		return c
	}
	where := "AWS"
	if r.o.Endpoint != "" {
		where = r.o.Endpoint
	}
	switch {
	case w.HTTPS == 0:
		c.Status, c.Detail = OK, "https to "+where+" (no response yet to read the TLS version from)"
	case w.TLSVersion < tls.VersionTLS12:
		c.Status, c.Cause = Fail, CauseConfig
		c.Detail = fmt.Sprintf("https to %s negotiated %s, which AWS no longer accepts", where, tls.VersionName(w.TLSVersion))
		c.Fix = "a proxy or an old TLS stack is in the way: connect without the TLS-intercepting proxy"
	default:
		c.Status, c.Detail = OK, fmt.Sprintf("https to %s, %s", where, tls.VersionName(w.TLSVersion))
	}
	return c
}
