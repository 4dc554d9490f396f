package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/icevault/icevault/internal/config"
)

// Version is the IAM policy language version every generated policy uses.
const Version = "2012-10-17"

// DefaultPrefix is where repositories live unless told otherwise; it is the
// config package's default, so a policy generated with no --prefix covers a
// repository created with no --prefix.
const DefaultPrefix = config.DefaultPrefix

// DefaultPartition is the AWS partition of the generated ARNs.
const DefaultPartition = "aws"

// Options choose the policy's variant.
type Options struct {
	// Bucket is the one bucket icevault may use. Required.
	Bucket string
	// Prefix is the key prefix the policy confines icevault to; empty means
	// DefaultPrefix. A trailing "/" is added when missing, as the config
	// package does.
	Prefix string
	// WholeBucket grants the whole bucket instead of a prefix (for a
	// repository configured with prefix = ""). Prefix must then be empty.
	WholeBucket bool
	// Restore allows s3:RestoreObject, needed to thaw archived packs.
	Restore bool
	// CreateOnly denies any object-creating PutObject sent without
	// If-None-Match, so a stolen credential cannot overwrite history.
	CreateOnly bool
	// TLSOnly denies every S3 call on the bucket made over plain http.
	TLSOnly bool
	// RotateKeys lets a static IAM user list, create and delete its own
	// access keys (icevault keys rotate).
	RotateKeys bool
	// Partition is the ARN partition; empty means "aws".
	Partition string
}

// Document is an IAM policy. It has no Principal anywhere, so it can be
// used as an IAM Identity Center permission-set inline policy, an IAM user
// or group policy, or a customer managed policy.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one policy statement. Why is the plain-text reason shown by
// Explain; it is not part of the JSON.
type Statement struct {
	Sid       string    `json:"Sid"`
	Effect    string    `json:"Effect"`
	Action    List      `json:"Action"`
	Resource  List      `json:"Resource"`
	Condition Condition `json:"Condition,omitempty"`
	Why       string    `json:"-"`
}

// Condition is operator → condition key → values. encoding/json writes map
// keys sorted, so the output is deterministic.
type Condition map[string]map[string]List

// List is a JSON string when it has one element and an array otherwise,
// the way people write policies by hand.
type List []string

// MarshalJSON implements json.Marshaler.
func (l List) MarshalJSON() ([]byte, error) {
	if len(l) == 1 {
		return marshal(l[0])
	}
	return marshal([]string(l))
}

// UnmarshalJSON implements json.Unmarshaler.
func (l *List) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = List{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// JSON is the document indented with two spaces and ending in a newline,
// ready for `icevault policy > policy.json`.
func (d Document) JSON() ([]byte, error) {
	b, err := marshal(d)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// Compact is the document on one line, without a trailing newline.
func (d Document) Compact() ([]byte, error) { return marshal(d) }

// Size is the document's length in characters not counting whitespace,
// which is how IAM measures its policy size quotas.
func (d Document) Size() int {
	b, err := d.Compact()
	if err != nil {
		return 0
	}
	n := 0
	for _, r := range string(b) {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// IAM's size quotas (characters, whitespace not counted).
const (
	UserInlineLimit    = 2048  // all inline policies of one IAM user together
	ManagedPolicyLimit = 6144  // one customer managed policy
	PermissionSetLimit = 32768 // one IAM Identity Center permission-set inline policy
)

// Stable statement IDs. They are part of the output format: people diff
// generated policies and refer to statements by Sid, so never rename one.
const (
	SidList            = "IcevaultListRepository"
	SidLocation        = "IcevaultGetBucketLocation"
	SidRead            = "IcevaultReadObjects"
	SidPut             = "IcevaultPutDeepArchiveOnly"
	SidRestore         = "IcevaultRestoreObjects"
	SidDenyWrongClass  = "IcevaultDenyNonDeepArchiveClass"
	SidDenyNoClass     = "IcevaultDenyCreateWithoutStorageClass"
	SidDenyOverwrite   = "IcevaultDenyOverwrite"
	SidDenyDestructive = "IcevaultDenyDestructiveActions"
	SidDenyInsecure    = "IcevaultDenyInsecureTransport"
	SidRotateKeys      = "IcevaultRotateOwnAccessKeys"
)

// DestructiveObjectActions and DestructiveBucketActions are explicitly
// denied in every variant: what a stolen credential could otherwise use,
// directly or through another policy granting it, to destroy history.
var (
	DestructiveObjectActions = []string{
		"s3:BypassGovernanceRetention", // shortens or removes an Object Lock (governance) retention
		"s3:DeleteObject",
		"s3:DeleteObjectVersion",
	}
	DestructiveBucketActions = []string{
		"s3:DeleteBucket",
		"s3:DeleteBucketPolicy",
		"s3:PutBucketPolicy",           // could grant deletes through the bucket policy, or lock the owner out
		"s3:PutBucketVersioning",       // suspending versioning turns overwrites into losses
		"s3:PutLifecycleConfiguration", // an expiration rule deletes everything
	}
)

// RotateKeyActions are exactly what `icevault keys rotate` (internal/iamkeys)
// calls on its own IAM user; it learns the user name from STS, which needs
// no permission.
var RotateKeyActions = []string{
	"iam:CreateAccessKey",
	"iam:DeleteAccessKey",
	"iam:ListAccessKeys",
}

// ErrInvalid marks an option that cannot make a valid policy.
var ErrInvalid = errors.New("invalid policy options")

var partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)

// Normalize validates o and fills in defaults: the prefix gets its trailing
// "/" and DefaultPrefix when empty, the partition "aws".
func (o Options) Normalize() (Options, error) {
	if err := config.ValidateBucket(o.Bucket); err != nil {
		return o, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if strings.HasPrefix(o.Bucket, "xn--") || strings.HasSuffix(o.Bucket, "-s3alias") || net4RE.MatchString(o.Bucket) {
		return o, fmt.Errorf("%w: bucket name %q is not valid: S3 reserves names starting with xn-- or ending in -s3alias, and forbids names shaped like an IP address", ErrInvalid, o.Bucket)
	}
	if o.WholeBucket {
		if o.Prefix != "" {
			return o, fmt.Errorf("%w: a prefix (%q) and the whole bucket were both asked for", ErrInvalid, o.Prefix)
		}
	} else {
		if o.Prefix == "" {
			o.Prefix = DefaultPrefix
		}
		if !strings.HasSuffix(o.Prefix, "/") {
			o.Prefix += "/"
		}
		if err := validatePrefix(o.Prefix); err != nil {
			return o, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	if o.Partition == "" {
		o.Partition = DefaultPartition
	}
	if !partitionRE.MatchString(o.Partition) {
		return o, fmt.Errorf("%w: partition %q is not an AWS partition (aws, aws-cn, aws-us-gov, ...)", ErrInvalid, o.Partition)
	}
	return o, nil
}

var net4RE = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)

// validatePrefix refuses what would change the meaning of the ARNs and
// conditions the prefix is pasted into: IAM wildcards, policy variables,
// and keys S3 itself would refuse.
func validatePrefix(p string) error {
	switch {
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("prefix %q must not start with '/' (S3 keys have no leading slash)", p)
	case strings.Contains(p, "//"):
		return fmt.Errorf("prefix %q contains an empty path segment (//)", p)
	case strings.ContainsAny(p, "*?"):
		return fmt.Errorf("prefix %q contains * or ?, which IAM reads as wildcards: it would grant more than the prefix", p)
	case strings.Contains(p, "${"):
		return fmt.Errorf("prefix %q contains ${, which IAM reads as a policy variable", p)
	case !utf8.ValidString(p):
		return fmt.Errorf("prefix %q is not valid UTF-8", p)
	case len(p) > 512:
		return fmt.Errorf("prefix is %d bytes long; keep it under 512 (S3 keys are at most 1024)", len(p))
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return fmt.Errorf("prefix %q contains a control character", p)
		}
	}
	return nil
}

// Generate builds the least-privilege policy for exactly the calls icevault
// makes (see doc.go for the design). The same options always give the same
// bytes.
func Generate(o Options) (Document, error) {
	o, err := o.Normalize()
	if err != nil {
		return Document{}, err
	}
	bucketARN := fmt.Sprintf("arn:%s:s3:::%s", o.Partition, o.Bucket)
	allObjects := bucketARN + "/*"
	repoObjects := bucketARN + "/" + o.Prefix + "*"
	scope := fmt.Sprintf("under %q", o.Prefix)
	if o.WholeBucket {
		scope = "anywhere in the bucket"
	}

	var st []Statement
	list := Statement{
		Sid: SidList, Effect: "Allow", Action: List{"s3:ListBucket"}, Resource: List{bucketARN},
		Why: fmt.Sprintf("Lets icevault list (ListObjectsV2) the keys %s: a backup reconciles what exists and a restore polls a thousand thaws per LIST. "+
			"Listing needs s3:ListBucket on the bucket ARN; it also turns HeadObject's answer for a missing key from 403 into 404.", scope),
	}
	if !o.WholeBucket {
		list.Condition = Condition{"StringLike": {"s3:prefix": {o.Prefix + "*"}}}
		list.Why += fmt.Sprintf(" The StringLike condition on s3:prefix limits listing to requests whose prefix starts with %q; "+
			"other parts of the bucket cannot be listed (nor can S3's HeadBucket, which sends no prefix: doctor uses GetBucketLocation instead).", o.Prefix)
	}
	st = append(st, list,
		Statement{
			Sid: SidLocation, Effect: "Allow", Action: List{"s3:GetBucketLocation"}, Resource: List{bucketARN},
			Why: "Lets icevault (setup, doctor) ask which region the bucket is in, so it can sign for the right one. It reveals nothing about the objects. " +
				"It is a separate statement because it carries no s3:prefix, which the listing condition would refuse.",
		},
		Statement{
			Sid: SidRead, Effect: "Allow", Action: List{"s3:GetObject"}, Resource: List{repoObjects},
			Why: fmt.Sprintf("Lets icevault read objects %s: GetObject (restores, once a pack is thawed) and HeadObject, which IAM authorizes as s3:GetObject "+
				"and which works on archived objects (size, storage class, checksum, restore status). A backup never reads object bodies.", scope),
		},
		Statement{
			Sid: SidPut, Effect: "Allow", Action: List{"s3:PutObject"}, Resource: List{repoObjects},
			Condition: Condition{"StringEquals": {"s3:x-amz-storage-class": {"DEEP_ARCHIVE"}}},
			Why: fmt.Sprintf("Lets icevault upload objects %s, and only with the header x-amz-storage-class: DEEP_ARCHIVE. "+
				"StringEquals is false when the key is absent, so this grant never covers a PUT without the header (which S3 would store as STANDARD), "+
				"nor UploadPart or CompleteMultipartUpload (which never carry it): icevault uploads every object in one PUT.", scope),
		},
	)
	if o.Restore {
		st = append(st, Statement{
			Sid: SidRestore, Effect: "Allow", Action: List{"s3:RestoreObject"}, Resource: List{repoObjects},
			Why: fmt.Sprintf("Lets icevault ask S3 to thaw archived objects %s (RestoreObject, Standard ≤ 12 h or Bulk ≤ 48 h) before reading them. "+
				"Leave it out of the policy of a machine that only backs up; restoring costs money, so a stolen backup credential cannot run up a restore bill.", scope),
		})
	}
	st = append(st,
		Statement{
			Sid: SidDenyWrongClass, Effect: "Deny", Action: List{"s3:PutObject"}, Resource: List{allObjects},
			Condition: Condition{
				"StringNotEquals": {"s3:x-amz-storage-class": {"DEEP_ARCHIVE"}},
				"Null":            {"s3:x-amz-storage-class": {"false"}},
			},
			Why: "Refuses any PutObject, CopyObject or CreateMultipartUpload that names a storage class other than DEEP_ARCHIVE, anywhere in the bucket, " +
				"even if another policy attached to the same identity allows it (an explicit Deny always wins). " +
				"Null false means \"the key is present\": StringNotEquals alone is true when the key is absent, and would also hit UploadPart and " +
				"CompleteMultipartUpload, which never carry the header. This statement is the storage-class check written correctly for multipart uploads.",
		},
		Statement{
			Sid: SidDenyNoClass, Effect: "Deny", Action: List{"s3:PutObject"}, Resource: List{allObjects},
			Condition: Condition{
				"Bool": {"s3:ObjectCreationOperation": {"true"}},
				"Null": {"s3:x-amz-storage-class": {"true"}},
			},
			Why: "Refuses any request that creates an object without naming its storage class: a PutObject or CopyObject without the header " +
				"(S3 would store it as STANDARD) and every CompleteMultipartUpload, which never carries the header. " +
				"This deliberately rules out multipart uploads: IAM cannot tell a CreateMultipartUpload without the header (a STANDARD upload) " +
				"from an UploadPart, nor a CompleteMultipartUpload from a PutObject without the header, so no policy can allow DEEP_ARCHIVE multipart " +
				"uploads while refusing STANDARD ones. icevault never uploads in parts (objects stay under 5 GB), so it loses nothing.",
		},
	)
	if o.CreateOnly {
		st = append(st, Statement{
			Sid: SidDenyOverwrite, Effect: "Deny", Action: List{"s3:PutObject"}, Resource: List{allObjects},
			Condition: Condition{
				"Bool": {"s3:ObjectCreationOperation": {"true"}},
				"Null": {"s3:if-none-match": {"true"}},
			},
			Why: "Refuses any object-creating PUT or COPY sent without If-None-Match, so S3 answers 412 instead of replacing an object that exists: " +
				"a stolen credential cannot overwrite history with garbage. icevault sends If-None-Match: * on every upload. " +
				"(s3:ObjectCreationOperation is false for CreateMultipartUpload and UploadPart, which this statement therefore leaves alone.)",
		})
	}
	st = append(st, Statement{
		Sid: SidDenyDestructive, Effect: "Deny",
		Action:   append(append(List{}, DestructiveObjectActions...), DestructiveBucketActions...),
		Resource: List{bucketARN, allObjects},
		Why: "Refuses, even if another policy grants them, the calls that destroy history: deleting objects or versions, bypassing an Object Lock " +
			"retention, deleting the bucket, adding a lifecycle rule (an expiration rule deletes everything), suspending versioning, and " +
			"replacing or deleting the bucket policy (which could grant the deletes). icevault never deletes; pruning, if you ever want it, " +
			"is an administrator's job with other credentials.",
	})
	if o.TLSOnly {
		st = append(st, Statement{
			Sid: SidDenyInsecure, Effect: "Deny", Action: List{"s3:*"}, Resource: List{bucketARN, allObjects},
			Condition: Condition{"Bool": {"aws:SecureTransport": {"false"}}},
			Why: "Refuses every S3 call on the bucket that arrives over plain http, so a misconfigured endpoint can never send signed requests " +
				"or encrypted packs in clear text. icevault talks https to AWS (plain http only to a loopback simulator).",
		})
	}
	if o.RotateKeys {
		st = append(st, Statement{
			Sid: SidRotateKeys, Effect: "Allow", Action: append(List{}, RotateKeyActions...),
			Resource: List{
				fmt.Sprintf("arn:%s:iam::*:user/${aws:username}", o.Partition),
				fmt.Sprintf("arn:%s:iam::*:user/*/${aws:username}", o.Partition),
			},
			Why: "Lets a static IAM user manage its own access keys, and nobody else's (${aws:username} is the caller's own name; the second ARN covers " +
				"users created with a path): `icevault keys rotate` lists the keys, creates a new one, checks it with STS, then deletes the old one. " +
				"It does nothing for IAM Identity Center roles, which have no access keys and no aws:username.",
		})
	}
	return Document{Version: Version, Statement: st}, nil
}
