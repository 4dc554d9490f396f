// Package sim is an in-process Amazon S3 Glacier Deep Archive simulator: a
// real S3 REST endpoint, verified with SigV4, that icevault's tests and demo
// run against instead of AWS.
//
// Nothing installable models what makes Deep Archive hard to program against:
// thaws that stay in progress for 12–48 hours (409 RestoreAlreadyInProgress),
// restored copies that expire, a create-only bucket policy, and flaky
// networks. The simulator models exactly those, driven by an injected
// clock.Clock so a test can move through a two-day thaw in microseconds, and
// it logs every request so a test can prove what a client did not send
// (DeleteObject, CopyObject, multipart uploads).
//
// What it models:
//   - SigV4 header authentication (aws-sdk-go-v2, botocore/AWS CLI), payload
//     hashes, aws-chunked bodies with chunk and trailer signatures, trailing
//     and header checksums (SHA-256, SHA-1, CRC32, CRC32C, CRC64NVME),
//     Content-MD5.
//   - PutObject (storage classes, If-None-Match: *, If-Match, user metadata),
//     HeadObject, GetObject (ranges, checksum mode), RestoreObject with
//     Standard and Bulk thaw times and S3's documented expiry rule,
//     ListObjectsV2 (with the RestoreStatus optional attribute), ListObjects,
//     HeadBucket and GetBucketLocation, with S3's XML error bodies.
//   - EnforcePolicy: the seed's bucket policy (read, list, restore, and
//     create-only DEEP_ARCHIVE puts); everything else is AccessDenied.
//   - Fault injection (error responses, latency, connection resets) by
//     operation, probability, Nth request and count.
//   - Memory or directory storage; the directory survives a restart,
//     restore state included.
//
// Where it deliberately differs from S3:
//   - Path-style addressing only (/bucket/key); the Host header is not used
//     for routing, so virtual-hosted-style requests are not understood.
//   - Only header-signed SigV4; presigned URLs, SigV2 and SigV4a are refused.
//   - No versioning, ACLs, tagging, lifecycle, encryption, object lock,
//     ListBuckets or bucket creation over the wire. Delete, Copy and
//     multipart operations are detected and logged, then refused (501, or
//     403 AccessDenied under EnforcePolicy), because icevault must never
//     send them.
//   - A restored copy's expiry follows the S3 User Guide's rule (request
//     time + Days, rounded up to the next 00:00 UTC) but is never earlier
//     than one midnight after the thaw completes, so a long Bulk thaw with
//     Days=1 still yields a usable restored copy.
//   - With EnforcePolicy, a PutObject without If-None-Match: * is refused
//     only when the key exists (the create-only policy icevault generates
//     denies it unconditionally).
//   - Listen refuses non-loopback addresses: this is a test double, not a
//     server.
package sim
