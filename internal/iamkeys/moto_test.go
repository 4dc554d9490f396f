package iamkeys

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/icevault/icevault/internal/testenv"
)

// motoClients makes real SDK clients against moto signed with k.
func motoClients(m *testenv.MotoServer) Clients {
	return func(k Keys) (IAM, STS) {
		cred := credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "")
		return iam.New(iam.Options{Region: m.Region, BaseEndpoint: aws.String(m.URL), Credentials: cred}),
			sts.New(sts.Options{Region: m.Region, BaseEndpoint: aws.String(m.URL), Credentials: cred})
	}
}

// TestRotateAgainstMoto runs the whole rotation through the SDK's real
// request serialization and response parsing against moto's IAM and STS.
//
// What this proves: the SDK calls are shaped correctly (user name, key IDs),
// CreateAccessKey's secret is read from the response, the new key is mapped
// to the same user (moto's GetCallerIdentity resolves a key it issued to its
// IAM user, and answers as "arn:…:sts::…:user/moto" for keys it does not
// know, which rotation rejects), and the old key is really gone afterwards.
// What it does not prove: moto verifies no signatures and no policies, so a
// wrong secret would pass here, and it has no propagation delay — the retry
// path is covered by the fake-clock tests only.
func TestRotateAgainstMoto(t *testing.T) {
	m := testenv.Moto(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, _ := motoClients(m)(Keys{m.AccessKey, m.SecretKey})
	adminIAM := admin.(*iam.Client)
	if _, err := adminIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("laptop")}); err != nil {
		t.Fatal(err)
	}
	ak, err := adminIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("laptop")})
	if err != nil {
		t.Fatal(err)
	}
	first := Keys{aws.ToString(ak.AccessKey.AccessKeyId), aws.ToString(ak.AccessKey.SecretAccessKey)}
	store := newMem()
	if err := Save(store, "default", first); err != nil {
		t.Fatal(err)
	}
	r := &Rotator{Clients: motoClients(m), Store: store, MaxWait: 5 * time.Second}
	res, err := r.Rotate(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	now, err := Load(store, "default")
	if err != nil || now.AccessKeyID != res.NewKeyID || now.AccessKeyID == first.AccessKeyID || res.UserName != "laptop" {
		t.Fatalf("stored %v, result %+v, err %v", now, res, err)
	}
	list, err := adminIAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("laptop")})
	if err != nil || len(list.AccessKeyMetadata) != 1 || aws.ToString(list.AccessKeyMetadata[0].AccessKeyId) != now.AccessKeyID {
		t.Fatalf("keys in IAM after rotation: %+v %v", list, err)
	}
	_, s := motoClients(m)(now)
	id, err := s.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != res.UserARN {
		t.Fatalf("new key answers as %v, %v", id, err)
	}

	// A second active key: rotation refuses and changes nothing.
	if _, err := adminIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("laptop")}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rotate(ctx, "default"); !errors.Is(err, ErrTwoKeys) {
		t.Fatalf("with two keys: %v", err)
	}
	if again, _ := Load(store, "default"); again != now {
		t.Fatal("refused rotation changed the stored key")
	}

	// Keys moto did not issue are not an IAM user's: refused before any change.
	store2 := newMem()
	Save(store2, "default", Keys{m.AccessKey, m.SecretKey})
	r2 := &Rotator{Clients: motoClients(m), Store: store2}
	if _, err := r2.Rotate(ctx, "default"); !errors.Is(err, ErrNotIAMUser) {
		t.Fatalf("unknown key: %v", err)
	}
}
