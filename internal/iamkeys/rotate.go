package iamkeys

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/icevault/icevault/internal/clock"
)

// IAM is the part of the IAM client rotation calls.
type IAM interface {
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
	DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
}

// STS is the part of the STS client rotation calls.
type STS interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Clients returns IAM and STS clients that sign with k.
type Clients func(k Keys) (IAM, STS)

var (
	// ErrTwoKeys: the user already has the maximum of two access keys.
	ErrTwoKeys = errors.New("the IAM user already has two access keys (the most IAM allows)")
	// ErrNotIAMUser: the stored key does not belong to an IAM user.
	ErrNotIAMUser = errors.New("the stored key does not belong to an IAM user")
	// ErrNotVerified: the new key never worked; the old one is still stored.
	ErrNotVerified = errors.New("the new access key could not be verified")
	// ErrOldKeyLeft: rotation succeeded but the old key is still in IAM.
	ErrOldKeyLeft = errors.New("the old access key could not be deleted")
)

// DefaultMaxWait bounds how long a new key may take to start working. AWS
// documents IAM changes as eventually consistent; in practice new keys work
// within ~10 s, a minute leaves room for a slow region.
const DefaultMaxWait = 60 * time.Second

// Rotator replaces a repository's stored static key with a new one.
type Rotator struct {
	Clients Clients
	Store   Secrets
	Clock   clock.Clock   // nil: the wall clock
	MaxWait time.Duration // 0: DefaultMaxWait
	// DeleteInactive allows deleting the user's other key first when it is
	// Inactive (never when it is Active).
	DeleteInactive bool
	// Progress, when set, hears what is happening (the CLI prints it).
	Progress func(msg string)
}

// Result says what rotation did.
type Result struct {
	UserName, UserARN string
	OldKeyID          string
	NewKeyID          string // empty if no key was created
	DeletedInactive   string // the user's inactive key deleted first, if any
	Stored            bool   // the new key is stored (and the old one is not)
	OldDeleted        bool
	NewDeleted        bool // after a failure: the new key was removed from IAM again
	Attempts          int  // verification calls made
}

func (r *Rotator) progress(format string, args ...any) {
	if r.Progress != nil {
		r.Progress(fmt.Sprintf(format, args...))
	}
}

// Rotate runs the steps in doc.go for the repository's stored key.
func (r *Rotator) Rotate(ctx context.Context, repoName string) (Result, error) {
	var res Result
	clk := r.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	old, err := Load(r.Store, repoName)
	if err != nil {
		return res, err
	}
	res.OldKeyID = old.AccessKeyID
	oldIAM, oldSTS := r.Clients(old)

	id, err := oldSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return res, fmt.Errorf("checking the stored key %s with STS GetCallerIdentity (nothing was changed): %w", old.AccessKeyID, err)
	}
	res.UserARN = aws.ToString(id.Arn)
	user, ok := userName(res.UserARN)
	if !ok {
		return res, fmt.Errorf("%w: it is %s; rotation is for IAM user keys (nothing was changed)", ErrNotIAMUser, res.UserARN)
	}
	res.UserName = user

	list, err := oldIAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		return res, fmt.Errorf("listing the access keys of IAM user %s (nothing was changed; the policy must allow iam:ListAccessKeys, iam:CreateAccessKey and iam:DeleteAccessKey on the user itself — see `icevault policy --rotate-keys`): %w", user, err)
	}
	foundOld := false
	for _, k := range list.AccessKeyMetadata {
		kid := aws.ToString(k.AccessKeyId)
		if kid == old.AccessKeyID {
			foundOld = true
			continue
		}
		if k.Status == iamtypes.StatusTypeInactive && r.DeleteInactive {
			r.progress("Deleting the inactive key %s of %s first (--delete-inactive)", kid, user)
			if _, err := oldIAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(kid)}); err != nil {
				return res, fmt.Errorf("deleting the inactive key %s of %s (nothing else was changed): %w", kid, user, err)
			}
			res.DeletedInactive = kid
			continue
		}
		created := ""
		if k.CreateDate != nil {
			created = ", created " + k.CreateDate.UTC().Format("2006-01-02")
		}
		what := fmt.Sprintf("delete it if nothing uses it (aws iam delete-access-key --user-name %s --access-key-id %s), or make it inactive and re-run with --delete-inactive", user, kid)
		if k.Status == iamtypes.StatusTypeInactive {
			what = fmt.Sprintf("it is inactive: re-run with --delete-inactive to delete it, or delete it yourself (aws iam delete-access-key --user-name %s --access-key-id %s)", user, kid)
		}
		return res, fmt.Errorf("%w: besides the stored key %s, %s has key %s (%s%s); %s. Nothing was changed",
			ErrTwoKeys, old.AccessKeyID, user, kid, k.Status, created, what)
	}
	if !foundOld {
		return res, fmt.Errorf("the stored key %s is not among the access keys of IAM user %s (nothing was changed)", old.AccessKeyID, user)
	}

	out, err := oldIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		return res, fmt.Errorf("creating a new access key for %s (the stored key %s is unchanged): %w", user, old.AccessKeyID, err)
	}
	if out.AccessKey == nil {
		return res, fmt.Errorf("creating a new access key for %s: IAM returned no key", user)
	}
	nk := Keys{AccessKeyID: aws.ToString(out.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey)}
	res.NewKeyID = nk.AccessKeyID
	r.progress("Created access key %s for %s; waiting for it to work", nk.AccessKeyID, user)

	undo := func(cause error) (Result, error) {
		_, derr := oldIAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(nk.AccessKeyID)})
		if derr == nil {
			res.NewDeleted = true
			return res, redact(fmt.Errorf("%w; the new key %s was deleted again and the stored key %s is unchanged and still in use", cause, nk.AccessKeyID, old.AccessKeyID), nk)
		}
		return res, redact(fmt.Errorf("%w; the stored key %s is unchanged and still in use, but the new key %s could not be deleted (%v): delete it with aws iam delete-access-key --user-name %s --access-key-id %s",
			cause, old.AccessKeyID, nk.AccessKeyID, derr, user, nk.AccessKeyID), nk)
	}

	if err := nk.Validate(); err != nil {
		return undo(fmt.Errorf("IAM returned a key that does not look valid: %w", err))
	}
	if err := r.verify(ctx, clk, nk, res.UserARN, &res); err != nil {
		if ctx.Err() != nil {
			// Cancelled: the cleanup needs a context that still works.
			ctx = context.WithoutCancel(ctx)
		}
		return undo(err)
	}
	if err := Save(r.Store, repoName, nk); err != nil {
		return undo(fmt.Errorf("storing the new key: %w", err))
	}
	res.Stored = true
	newIAM, _ := r.Clients(nk)
	del := &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(old.AccessKeyID)}
	if _, err = newIAM.DeleteAccessKey(ctx, del); err != nil {
		// The new key may not have reached IAM itself yet: the old one
		// can still delete itself.
		_, err = oldIAM.DeleteAccessKey(ctx, del)
	}
	if err != nil {
		return res, redact(fmt.Errorf("%w: the new key %s is stored and works, but deleting the old key %s failed (%v); delete it with aws iam delete-access-key --user-name %s --access-key-id %s",
			ErrOldKeyLeft, nk.AccessKeyID, old.AccessKeyID, err, user, old.AccessKeyID), nk)
	}
	res.OldDeleted = true
	return res, nil
}

// verify calls STS with the new key until it answers as the same user, with
// exponential backoff (1 s doubling, at most 10 s apart) until MaxWait.
func (r *Rotator) verify(ctx context.Context, clk clock.Clock, nk Keys, wantARN string, res *Result) error {
	maxWait := r.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	_, newSTS := r.Clients(nk)
	start := clk.Now()
	delay := time.Second
	var last error
	for {
		res.Attempts++
		id, err := newSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		switch {
		case err == nil && aws.ToString(id.Arn) == wantARN:
			return nil
		case err == nil:
			// Not a consistency delay: the key is someone else's.
			return fmt.Errorf("%w: it answers as %s, not %s", ErrNotVerified, aws.ToString(id.Arn), wantARN)
		}
		last = err
		waited := clk.Now().Sub(start)
		if waited >= maxWait {
			return fmt.Errorf("%w within %v (%d attempts; last error: %v)", ErrNotVerified, maxWait, res.Attempts, last)
		}
		d := min(delay, maxWait-waited)
		r.progress("The new key does not work yet (IAM is eventually consistent); retrying in %v", d)
		if err := clk.Sleep(ctx, d); err != nil {
			return fmt.Errorf("%w: interrupted while waiting (%v; last error: %v)", ErrNotVerified, err, last)
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// userName extracts NAME from arn:PARTITION:iam::ACCOUNT:user[/PATH]/NAME.
func userName(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || !strings.HasPrefix(parts[5], "user/") {
		return "", false
	}
	res := parts[5][len("user/"):]
	if i := strings.LastIndexByte(res, '/'); i >= 0 {
		res = res[i+1:]
	}
	return res, res != ""
}
