// simulate.mjs evaluates identity policies against lists of requests with
// @cloud-copilot/iam-simulate (an offline IAM policy simulator) and prints the
// decisions. It is the harness behind internal/policy's simulator tests.
//
// stdin:  {"account": "111122223333",                              (optional)
//          "principal": "arn:aws:iam::111122223333:user/alice",   (optional)
//          "jobs": [{"name": "...", "policy": {...IAM policy...},
//                    "requests": [{"name": "...", "action": "s3:PutObject",
//                                  "resource": "arn:aws:s3:::b/k",
//                                  "context": {"s3:x-amz-storage-class": "DEEP_ARCHIVE"}}]}]}
// stdout: {"jobs": [{"name": "...", "results": [{"name": "...",
//            "decision": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied",
//            "ignoredContextKeys": [...]}]}]}
// Many policies go through one process because starting node costs more
// than evaluating a policy.
// A request the simulator rejects as invalid (unknown action, a malformed
// policy) is reported with decision "Error" and the simulator's message, so
// the Go test fails loudly instead of reading a silent implicit deny; a
// context key that does not exist for the action is listed in
// ignoredContextKeys, which the Go test also refuses.
import { runSimulation } from '@cloud-copilot/iam-simulate'

async function readStdin() {
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  return Buffer.concat(chunks).toString('utf8')
}

const input = JSON.parse(await readStdin())
const account = input.account ?? '111122223333'
const principal = input.principal ?? `arn:aws:iam::${account}:user/icevault-backup`

const jobs = []
for (const job of input.jobs) {
  const results = []
  for (const r of job.requests) {
    const simulation = {
      request: {
        principal,
        action: r.action,
        resource: { resource: r.resource, accountId: account },
        contextVariables: r.context ?? {}
      },
      identityPolicies: [{ name: 'icevault', policy: job.policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: []
    }
    const res = await runSimulation(simulation, {})
    if (res.resultType === 'error') {
      results.push({ name: r.name, decision: 'Error', error: res.errors })
      continue
    }
    const single = res.resultType === 'single' ? res.result : res.results[0]
    results.push({
      name: r.name,
      decision: res.overallResult,
      ignoredContextKeys: single?.ignoredContextKeys ?? []
    })
  }
  jobs.push({ name: job.name, results })
}
process.stdout.write(JSON.stringify({ jobs }) + '\n')
