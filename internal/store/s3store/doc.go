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
//
// # Endpoint
//
// The S3 endpoint is, first match wins:
//
//  1. the repository's endpoint (config "endpoint", ClientOptions.Endpoint);
//  2. what the SDK resolves by itself when the aws.Config comes from
//     config.LoadDefaultConfig: $AWS_ENDPOINT_URL_S3, then
//     $AWS_ENDPOINT_URL, then the profile's services section (s3 =
//     endpoint_url) or its endpoint_url — unless
//     $AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (aws-sdk-go-v2
//     service/s3/endpoints.go resolveBaseEndpoint, config/env_config.go);
//  3. AWS, virtual-hosted style.
//
// The repository wins because it is the more specific, deliberate setting,
// and it is what `icevault init --endpoint` and doctor show. An endpoint from
// either source gets the same rule: ValidateEndpoint (plain http:// only on
// loopback, so credentials and data never cross a network in clear; an
// endpoint from the environment that breaks it is refused with a message
// naming the variable) and path-style addressing (the simulator and moto
// serve nothing else, and a URL must not change meaning with where it was
// written).
package s3store
