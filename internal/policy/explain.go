package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Outcomes of one request against a policy, as the table in Explain shows
// them (and the simulator tests check them).
const (
	OutcomeAllowed    = "allowed"
	OutcomeDenied     = "denied"      // by an explicit Deny
	OutcomeNotAllowed = "not allowed" // no Allow matches (implicit deny)
)

// UploadCase is one kind of s3:PutObject request and what IAM sees of it.
type UploadCase struct {
	Request      string
	StorageClass string // value of s3:x-amz-storage-class; "" means the key is absent
	Creation     bool   // s3:ObjectCreationOperation
	Seed         string // outcome under the seed guide's policy (5.B)
	Generated    string // outcome under the policy Generate writes
}

// UploadCases are the s3:PutObject requests the storage-class statements
// must get right. The simulator tests evaluate each one against both
// policies, so this table cannot drift from what IAM does.
var UploadCases = []UploadCase{
	{"PutObject, DEEP_ARCHIVE (icevault)", "DEEP_ARCHIVE", true, OutcomeAllowed, OutcomeAllowed},
	{"PutObject, STANDARD", "STANDARD", true, OutcomeDenied, OutcomeDenied},
	{"PutObject, no storage-class header", "", true, OutcomeDenied, OutcomeDenied},
	{"CopyObject to GLACIER_IR", "GLACIER_IR", true, OutcomeDenied, OutcomeDenied},
	{"CreateMultipartUpload, STANDARD", "STANDARD", false, OutcomeAllowed, OutcomeDenied},
	{"CreateMultipartUpload, DEEP_ARCHIVE", "DEEP_ARCHIVE", false, OutcomeAllowed, OutcomeAllowed},
	{"UploadPart", "", false, OutcomeAllowed, OutcomeNotAllowed},
	{"CompleteMultipartUpload", "", true, OutcomeDenied, OutcomeDenied},
}

// SeedDeny is the seed guide's storage-class statement, kept here to show
// (and test) why the generated policy does not use it.
var SeedDeny = Statement{
	Sid: "DenyNonDeepArchiveStorageClass", Effect: "Deny", Action: List{"s3:PutObject"}, Resource: List{"arn:aws:s3:::YOUR_BUCKET/*"},
	Condition: Condition{
		"Bool":            {"s3:ObjectCreationOperation": {"true"}},
		"StringNotEquals": {"s3:x-amz-storage-class": {"DEEP_ARCHIVE"}},
	},
}

// Explain describes d statement by statement in plain text, then why the
// storage-class statements are not the seed guide's.
func Explain(d Document) string {
	var b strings.Builder
	fmt.Fprintf(&b, "icevault IAM policy: %d statements, %d characters (whitespace not counted).\n", len(d.Statement), d.Size())
	b.WriteString(wrap("", "It has no Principal: paste it as the inline policy of an IAM Identity Center permission set (quota 32,768 characters), "+
		"attach it to an IAM user or group, or create it as a customer managed policy (quota 6,144). "+
		sizeNote(d.Size())))
	b.WriteString("\n")
	b.WriteString(wrap("", "IAM evaluates every statement: a request is allowed only if some Allow matches and no Deny does. "+
		"An explicit Deny wins over any Allow in any other policy of the same identity, which is why the guarantees below are written as Denies."))
	for i, s := range d.Statement {
		fmt.Fprintf(&b, "\n%d. %s: %s %s\n", i+1, s.Sid, strings.ToUpper(s.Effect), strings.Join(s.Action, ", "))
		fmt.Fprintf(&b, "   on %s\n", strings.Join(s.Resource, ", "))
		if c := describeCondition(s.Condition); c != "" {
			fmt.Fprintf(&b, "   when %s\n", c)
		}
		b.WriteString(wrap("   ", s.Why))
	}

	b.WriteString("\nWhy not the seed guide's storage-class Deny\n")
	b.WriteString(wrap("   ", "The guide denies s3:PutObject when "+describeCondition(SeedDeny.Condition)+". "+
		"But PutObject, CopyObject, CreateMultipartUpload, UploadPart and CompleteMultipartUpload are all the one IAM action s3:PutObject, "+
		"and only Put, Copy and CreateMultipartUpload carry s3:x-amz-storage-class. StringNotEquals is true when the key is absent, "+
		"so that statement denies every CompleteMultipartUpload: any multipart upload, even a DEEP_ARCHIVE one, fails at its last step, "+
		"after all its parts were uploaded and billed. And because s3:ObjectCreationOperation is false for CreateMultipartUpload, "+
		"a STANDARD CreateMultipartUpload gets through, and its parts are stored (at STANDARD prices, until aborted) before the upload fails. "+
		"icevault never uploads in parts, so the guide's policy works for it; the generated one says what it means:"))
	b.WriteString("\n")
	b.WriteString(uploadTable())
	b.WriteString("\n")
	b.WriteString(wrap("   ", "("+OutcomeNotAllowed+" = no Allow matches; "+OutcomeDenied+" = an explicit Deny matches. "+
		"Under the guide's policy, CreateMultipartUpload STANDARD and UploadPart are allowed by its unconditional PutObject grant.) "+
		"No IAM policy can allow DEEP_ARCHIVE multipart uploads while refusing STANDARD ones: IAM sees a header-less "+
		"CreateMultipartUpload exactly like an UploadPart, and a CompleteMultipartUpload exactly like a header-less PutObject."))
	return b.String()
}

func sizeNote(n int) string {
	switch {
	case n > ManagedPolicyLimit:
		return fmt.Sprintf("At %d characters it is too large for a managed policy: use it as a permission-set inline policy.", n)
	case n > UserInlineLimit:
		return fmt.Sprintf("At %d characters it is over the 2,048 an IAM user's inline policies share: attach it as a customer managed policy.", n)
	}
	return "It fits every one of these quotas."
}

func uploadTable() string {
	rows := [][]string{{"request", "storage class", "creates object", "guide's policy", "this policy"}}
	for _, c := range UploadCases {
		class := c.StorageClass
		if class == "" {
			class = "(absent)"
		}
		rows = append(rows, []string{c.Request, class, fmt.Sprint(c.Creation), c.Seed, c.Generated})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("   ")
		for i, cell := range r {
			if i == len(r)-1 {
				b.WriteString(cell)
				break
			}
			b.WriteString(cell + strings.Repeat(" ", widths[i]-len([]rune(cell))+2))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// describeCondition renders a condition block as "Op key = v1 or v2 and ...",
// operators and keys sorted like the JSON.
func describeCondition(c Condition) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(c)) {
		for _, key := range slices.Sorted(maps.Keys(c[op])) {
			parts = append(parts, fmt.Sprintf("%s %s = %s", op, key, strings.Join(c[op][key], " or ")))
		}
	}
	return strings.Join(parts, " and ")
}

// wrap fills text to 78 columns, each line starting with indent.
func wrap(indent, text string) string {
	const width = 78
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(text) {
		if len([]rune(line)) > len(indent) && len([]rune(line))+1+len([]rune(w)) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len([]rune(line)) > len(indent) {
			line += " "
		}
		line += w
	}
	if len([]rune(line)) > len(indent) {
		b.WriteString(line + "\n")
	}
	return b.String()
}
