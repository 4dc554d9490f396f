// Package s3store implements store.Store over Amazon S3 with the official
// AWS SDK for Go v2.
//
// It is the only code in icevault that talks to S3, and it keeps DESIGN §2.1
// by construction: the SDK interface it depends on (API) declares
// PutObject, HeadObject, GetObject, RestoreObject and ListObjectsV2 and
// nothing else, so there is no way for it to delete, copy or start a
// multipart upload. Every PutObject carries x-amz-storage-class:
// DEEP_ARCHIVE, If-None-Match: * and x-amz-checksum-sha256.
//
// Every SDK error is translated here into a *store.Error with a store.Kind;
// retries of transient failures (throttling, 5xx, dropped connections) are
// the SDK's standard retryer, with jittered exponential backoff, configured
// once in NewClient.
package s3store
