// Packs the package as npm would publish it and checks it as a new user would meet it:
//   1. the file list: no tests, benches or builds; every module has its types and a source map whose
//      sources are in the tarball;
//   2. `npm install <tarball> effect` into a scratch app (from the npm cache when it can): the size of
//      node_modules against effect + the LaunchDarkly SDK + @effect/sql-pg alone (at most +10%);
//   3. the command-line tool without its optional peers says what to install (no stack trace);
//   4. every `exports` entry loads with `import` and `require` and type-checks from a consumer under
//      `moduleResolution` `node16` and `bundler` (with the embedded entry's optional peers installed).
// Prints one line per check and a summary with the measured sizes; exits 1 on the first failure.
//
//   node scripts/check-package.mjs [--keep]    (--keep leaves the scratch directory for inspection)
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative, resolve } from "node:path"

const root = resolve(import.meta.dirname, "..")
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const scratch = mkdtempSync(join(tmpdir(), "efc-package-"))
const keep = process.argv.includes("--keep")
const npm = process.platform === "win32" ? "npm.cmd" : "npm"
const failures = []

const check = (name, ok, detail = "") => {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail === "" ? "" : ` — ${detail}`}`)
  if (!ok) failures.push(name)
}

const run = (command, args, cwd, options = {}) => {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, ...options.env } })
  if (options.allowFailure !== true && result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} (in ${cwd}) exited ${result.status}\n${result.stdout}\n${result.stderr}`
    )
  }
  return result
}

const dirSize = (dir) => {
  let bytes = 0
  let packages = 0
  const walk = (path) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name)
      if (entry.isSymbolicLink()) continue
      if (entry.isDirectory()) walk(full)
      else bytes += statSync(full).size
    }
  }
  walk(dir)
  const countIn = (path) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue
      if (entry.name.startsWith("@")) countIn(join(path, entry.name))
      else packages++
    }
  }
  countIn(dir)
  return { bytes, packages }
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`
const install = ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"]

const scratchApp = (name) => {
  const dir = join(scratch, name)
  mkdirSync(dir)
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module" }, null, 2))
  return dir
}

try {
  // 1. The tarball and its file list.
  const packed = JSON.parse(run(npm, ["pack", "--json", "--pack-destination", scratch], root).stdout)[0]
  const tarball = join(scratch, packed.filename)
  const files = packed.files.map((file) => file.path)
  const has = new Set(files)
  const stray = files.filter((path) => /^(test|bench|build|\.ci)\//.test(path) || /\.test\.[cm]?[jt]s$/.test(path))
  check("file list: no tests, benches or builds", stray.length === 0, stray.slice(0, 5).join(", "))
  check(
    "file list: LICENSE, README.md, package.json",
    ["LICENSE", "README.md", "package.json"].every((f) => has.has(f))
  )
  const modules = files.filter((path) => path.startsWith("dist/") && path.endsWith(".js"))
  const untyped = modules.filter((path) => !has.has(path.replace(/\.js$/, ".d.ts")))
  check(
    `file list: ${modules.length} modules each with a .d.ts`,
    modules.length > 0 && untyped.length === 0,
    untyped.join(", ")
  )
  const unmapped = []
  const unpacked = join(scratch, "unpacked")
  mkdirSync(unpacked)
  run("tar", ["-xzf", tarball, "-C", unpacked], root)
  for (const path of files.filter((p) => p.endsWith(".js.map") || p.endsWith(".d.ts.map"))) {
    const map = JSON.parse(readFileSync(join(unpacked, "package", path), "utf8"))
    for (const source of map.sources) {
      const target = relative(join(unpacked, "package"), resolve(dirname(join(unpacked, "package", path)), source))
      if (!has.has(target)) unmapped.push(`${path} → ${source}`)
    }
  }
  const maps = modules.filter((path) => !has.has(`${path}.map`))
  check(
    "source maps: every module has one, and every source is in the tarball",
    maps.length === 0 && unmapped.length === 0,
    [...maps, ...unmapped].slice(0, 5).join(", ")
  )
  const scripts = Object.keys(manifest.scripts ?? {}).filter((s) =>
    ["preinstall", "install", "postinstall", "prepare"].includes(s)
  )
  check("no install-time scripts", scripts.length === 0, scripts.join(", "))

  // 2. A fresh app: the package and effect, against what it can't do without.
  const peers = manifest.peerDependencies
  const app = scratchApp("app")
  run(npm, [...install, tarball, `effect@${peers.effect}`], app)
  const baseline = scratchApp("baseline")
  const core = ["@effect/sql-pg", "@launchdarkly/node-server-sdk"].map(
    (name) => `${name}@${manifest.dependencies[name]}`
  )
  run(npm, [...install, `effect@${peers.effect}`, ...core], baseline)
  const ours = dirSize(join(app, "node_modules"))
  const base = dirSize(join(baseline, "node_modules"))
  const ratio = ours.bytes / base.bytes
  check(
    "fresh app install within 10% of effect + SDK + sql-pg",
    ratio <= 1.1,
    `${mb(ours.bytes)} in ${ours.packages} packages vs ${mb(base.bytes)} in ${base.packages} (${((ratio - 1) * 100).toFixed(1)}%)`
  )
  const optional = Object.keys(manifest.peerDependenciesMeta ?? {})
  const installedOptional = optional.filter((name) => existsSync(join(app, "node_modules", name)))
  check("optional peers are not installed", installedOptional.length === 0, installedOptional.join(", "))

  // 3. The tool, without its optional peers.
  const bin = run(join(app, "node_modules", ".bin", "effect-flag-context"), ["--help"], app, { allowFailure: true })
  check(
    "CLI without @effect/platform-node: exit 1 and says what to install",
    bin.status === 1 && bin.stderr.includes("npm install @effect/platform-node") && !/^\s+at /m.test(bin.stderr),
    bin.stderr.trim().split("\n")[0]
  )

  // 3b. The tool installed, the embedded database's packages not: it says which to install.
  run(npm, [...install, `@effect/platform-node@${peers["@effect/platform-node"]}`], app)
  const embedded = run(join(app, "node_modules", ".bin", "effect-flag-context"), ["context", "ada"], app, {
    allowFailure: true,
    env: { DATABASE_URL: "" }
  })
  check(
    "CLI without PGlite: exit 1 and says what to install",
    embedded.status === 1 &&
      embedded.stderr.includes("npm install @electric-sql/pglite @electric-sql/pglite-socket") &&
      !/^\s+at /m.test(embedded.stderr),
    embedded.stderr.trim().split("\n").slice(-1)[0]
  )

  // 4. Every entry point: loads, and type-checks from a consumer.
  run(
    npm,
    [
      ...install,
      ...optional.filter((name) => name !== "@effect/platform-node").map((name) => `${name}@${peers[name]}`)
    ],
    app
  )
  const entries = Object.entries(manifest.exports).filter(
    ([key, value]) => value !== null && !key.includes("*") && key !== "./package.json"
  )
  const specifier = (key) => (key === "." ? manifest.name : `${manifest.name}/${key.slice(2)}`)
  for (const [key] of entries) {
    const probe = `const m = await import(${JSON.stringify(specifier(key))}); if (Object.keys(m).length === 0) process.exit(1)`
    const imported = run(process.execPath, ["--input-type=module", "-e", probe], app, { allowFailure: true })
    check(`import ${specifier(key)}`, imported.status === 0, imported.stderr.trim().split("\n")[0] ?? "")
    const required = run(
      process.execPath,
      ["-e", `if (Object.keys(require(${JSON.stringify(specifier(key))})).length === 0) process.exit(1)`],
      app,
      {
        allowFailure: true,
        env: { NODE_NO_WARNINGS: "1" }
      }
    )
    check(`require ${specifier(key)}`, required.status === 0, required.stderr.trim().split("\n")[0] ?? "")
  }
  // Each entry's names, used, so that a type that doesn't resolve is an error even with skipLibCheck.
  writeFileSync(
    join(app, "consumer.ts"),
    `${entries.map(([key], i) => `import * as entry${i} from ${JSON.stringify(specifier(key))}`).join("\n")}
import { Effect, Layer } from "effect"
${entries.map((_, i) => `export const names${i}: ReadonlyArray<string> = Object.keys(entry${i})`).join("\n")}
export const program = Effect.gen(function* () {
  const flags = yield* entry0.FlagClient
  return yield* flags.isEnabled("flag", entry0.UserId.make("user-1"))
})
export const layer: Layer.Layer<entry0.FlagClient> = entry0.FlagClient.layerTestWith({}).pipe(Layer.provide(Layer.empty))
`
  )
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc")
  for (const [module, moduleResolution] of [
    ["node16", "node16"],
    ["esnext", "bundler"]
  ]) {
    const config = join(app, `tsconfig.${moduleResolution}.json`)
    writeFileSync(
      config,
      JSON.stringify({
        compilerOptions: {
          module,
          moduleResolution,
          target: "es2022",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: []
        },
        files: ["consumer.ts"]
      })
    )
    const typed = run(process.execPath, [tsc, "-p", config], app, { allowFailure: true })
    check(
      `type-check a consumer under moduleResolution ${moduleResolution}`,
      typed.status === 0,
      typed.stdout.trim().split("\n").slice(0, 3).join(" | ")
    )
  }
  console.log(
    `\n${failures.length === 0 ? "package ok" : `${failures.length} check(s) failed`}: tarball ${mb(packed.size)} (${files.length} files, ${mb(packed.unpackedSize)} unpacked); fresh app ${mb(ours.bytes)}/${ours.packages} packages; baseline ${mb(base.bytes)}/${base.packages} packages`
  )
} catch (error) {
  console.error(error instanceof Error ? error.message : error)
  failures.push("error")
} finally {
  if (keep) console.log(`scratch kept in ${scratch}`)
  else rmSync(scratch, { recursive: true, force: true })
}
process.exitCode = failures.length === 0 ? 0 : 1
