// Start time and memory of `layerEmbedded`: from a copy of the machine's prepared template (the
// default) against initializing an empty cluster (`template: false`), interleaved, each start in a
// fresh Node process (so that memory is that start's alone). Needs `npm run build` first.
//
//   node scripts/embedded-start.mjs [runs]     (default 3 runs of each; the template is made first if missing)
import { spawnSync } from "node:child_process"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"

const root = resolve(import.meta.dirname, "..")
const runs = Number(process.argv[2] ?? 3)
const entry = pathToFileURL(join(root, "dist", "embedded.js")).href

// One start: build the layer, answer one lookup, release it; print the time to the answer, the peak RSS.
const child = (template) => `
import { Effect, Layer } from "effect"
import { layerEmbedded } from ${JSON.stringify(entry)}
import { UserRepo } from ${JSON.stringify(pathToFileURL(join(root, "dist", "index.js")).href)}
const started = performance.now()
await Effect.runPromise(
  Effect.gen(function* () {
    const repo = yield* UserRepo
    yield* Effect.flip(repo.getById("nobody"))
    console.log(JSON.stringify({ ms: performance.now() - started }))
  }).pipe(Effect.provide(layerEmbedded({ template: ${template} })))
)
console.log(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024 }))
`

const start = (template) => {
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", child(template)], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000
  })
  if (result.status !== 0) throw new Error(`start (template: ${template}) failed:\n${result.stderr}`)
  const lines = result.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line))
  return { ms: lines[0].ms, maxRssMb: lines[1].maxRssMb }
}

start(true) // makes the template if this machine has none, and warms the disk cache
const samples = { template: [], empty: [] }
for (let i = 0; i < runs; i++) {
  samples.template.push(start(true))
  samples.empty.push(start(false))
}
const summary = (list, key) => {
  const values = list.map((s) => s[key]).sort((a, b) => a - b)
  return `median ${values[Math.floor(values.length / 2)].toFixed(0)} (${values[0].toFixed(0)}–${values[values.length - 1].toFixed(0)})`
}
for (const [name, list] of Object.entries(samples)) {
  console.log(
    `${name === "template" ? "from the template" : "empty cluster    "}  start ${summary(list, "ms")} ms   peak RSS ${summary(list, "maxRssMb")} MB   (${runs} runs)`
  )
}
const ratio = (key) =>
  samples.empty.map((s) => s[key]).reduce((a, b) => a + b) / samples.template.map((s) => s[key]).reduce((a, b) => a + b)
console.log(`template vs empty: ${ratio("ms").toFixed(1)}× faster, ${ratio("maxRssMb").toFixed(1)}× less memory`)
