// Package restore gets files back out of Deep Archive: plan → request →
// poll → download → assemble, as a job recorded in the catalog that
// survives process exits and reboots through the 12–48 hour thaw.
//
//   - Plan finds, from the catalog alone, the files under the requested
//     paths and the minimal set of packs that hold their content.
//   - QuoteFor prices it (restore requests, retrieval, the restored copy for
//     its days, GETs, egress) and says when it should be ready, per tier.
//   - Start records the job and asks S3 to thaw each pack, at a modest rate.
//   - Refresh polls cheaply (one LIST with RestoreStatus per thousand
//     objects where the server reports it, HEAD otherwise), notices restored
//     copies that expire before they are downloaded and asks again.
//   - Download fetches ready packs to local files, resuming a cut download
//     with a ranged GET, and keeps a pack only once its SHA-256 matches. A
//     response that ends early without an error (a truncated object, or a
//     proxy cutting it) is ErrTruncated: nothing of it is kept, the pack
//     stays undownloaded, and the next run fetches it whole.
//   - Assemble writes each file whose packs are all here: every blob is
//     authenticated by age and its ID re-checked, the file is written under a
//     temporary name, synced, given its mode and mtime, and renamed into
//     place only when complete; an existing file is never replaced unless
//     the job allows it (DESIGN §2.6). What a pass could not write is in
//     AssembleResult.WaitingFiles: each file with the packs it waits for.
//   - StartThaw records a thaw-only job (kind "recover", Quote.ThawOnly):
//     `recover --all-data` thaws every data pack that way, in the same
//     round as the metadata, paced, polled and asked for again like any
//     job; Step finishes it once every object is thawed, downloading
//     nothing. CopyJob moves it into the rebuilt catalog.
//
// The package never prints; it reports through Events.
package restore
