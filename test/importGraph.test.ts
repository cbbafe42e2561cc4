/**
 * The house shows the parts: the core (`src/*.ts`, `src/internal/`), the embedded database
 * (`src/embedded.ts`, `src/embedded/`) and the command-line tool (`src/cli/`, `src/bin.ts`). Imports
 * run CLI → embedded → core, never back, and each part loads only the packages its entry point
 * declares (the embedded database and the CLI's packages are optional peers).
 */
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { assert, describe, it } from "@effect/vitest"

const src = join(import.meta.dirname, "..", "src")

type Part = "core" | "embedded" | "cli"
const rank: Readonly<Record<Part, number>> = { core: 0, embedded: 1, cli: 2 }

const partOf = (file: string): Part => {
  const path = relative(src, file).split("\\").join("/")
  if (path === "bin.ts" || path.startsWith("cli/")) return "cli"
  if (path === "embedded.ts" || path.startsWith("embedded/")) return "embedded"
  return "core"
}

interface Manifest {
  readonly dependencies?: Readonly<Record<string, string>>
  readonly peerDependencies?: Readonly<Record<string, string>>
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>
}
const manifest = JSON.parse(readFileSync(join(src, "..", "package.json"), "utf8")) as Manifest
const isOptional = (name: string) => manifest.peerDependenciesMeta?.[name]?.optional === true

/** The packages (not Node built-ins) each part may load, besides those of the parts below it. */
const packages: Readonly<Record<Part, ReadonlyArray<string>>> = {
  core: ["effect", "@effect/sql-pg", "@launchdarkly/node-server-sdk", "yaml"],
  embedded: ["@electric-sql/pglite", "@electric-sql/pglite-socket"],
  cli: ["@effect/platform-node"]
}

// Other optional peers (an integration behind its own entry point) may be loaded by the core's
// modules, but never by the root entry point: see the last test.
const otherOptionalPeers = Object.keys(manifest.peerDependencies ?? {}).filter(
  (name) => isOptional(name) && ![...packages.embedded, ...packages.cli].includes(name)
)

const allowed = (part: Part): ReadonlyArray<string> => [
  ...(Object.keys(rank) as Array<Part>).filter((p) => rank[p] <= rank[part]).flatMap((p) => packages[p]),
  ...otherOptionalPeers
]

const packageName = (specifier: string): string => {
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier)
}

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

// Static imports and re-exports (`import … from "x"`, `export … from "x"`, `import "x"`) and dynamic `import("x")`.
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^;'"]*?from\s*"([^"]+)"|(?:^|\n)\s*import\s*"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g

const importsOf = (file: string): Array<string> =>
  Array.from(readFileSync(file, "utf8").matchAll(IMPORT), (match) => match[1] ?? match[2] ?? match[3] ?? "")

const files = sourceFiles(src)

describe("import graph", () => {
  it("finds the three parts", () => {
    const parts = new Set(files.map(partOf))
    assert.deepStrictEqual([...parts].sort(), ["cli", "core", "embedded"])
    assert.isTrue(
      files.some((file) => importsOf(file).includes("../embedded.js")),
      "the CLI loads the embedded entry"
    )
  })

  it("runs core ← embedded ← CLI: no module imports a part above its own", () => {
    const back: Array<string> = []
    for (const file of files) {
      for (const specifier of importsOf(file)) {
        if (!specifier.startsWith(".")) continue
        const target = resolve(dirname(file), specifier.replace(/\.js$/, ".ts"))
        if (rank[partOf(target)] > rank[partOf(file)]) {
          back.push(`${relative(src, file)} (${partOf(file)}) → ${specifier} (${partOf(target)})`)
        }
      }
    }
    assert.deepStrictEqual(back, [])
  })

  it("each part loads only the packages its entry point declares", () => {
    const stray: Array<string> = []
    for (const file of files) {
      const part = partOf(file)
      for (const specifier of importsOf(file)) {
        if (specifier.startsWith(".") || specifier.startsWith("node:")) continue
        if (!allowed(part).includes(packageName(specifier)))
          stray.push(`${relative(src, file)} (${part}) → ${specifier}`)
      }
    }
    assert.deepStrictEqual(stray, [])
  })

  it("the package manifest declares each part's packages where its entry point needs them", () => {
    const required = { ...manifest.dependencies }
    const peers = manifest.peerDependencies ?? {}
    for (const name of packages.core) {
      assert.isTrue(name in required || (name in peers && !isOptional(name)), `${name} is installed with the core`)
    }
    for (const name of [...packages.embedded, ...packages.cli]) {
      assert.isFalse(name in required, `${name} is not a dependency of the core`)
      assert.isTrue(name in peers && isOptional(name), `${name} is an optional peer`)
    }
  })

  it("the root entry point never loads an optional peer, even indirectly (static imports)", () => {
    const STATIC = /(?:^|\n)\s*(?:import|export)\s(?!type\s)[^;'"]*?from\s*"([^"]+)"|(?:^|\n)\s*import\s*"([^"]+)"/g
    const seen = new Set<string>()
    const loaded: Array<string> = []
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      for (const match of readFileSync(file, "utf8").matchAll(STATIC)) {
        const specifier = match[1] ?? match[2] ?? ""
        if (specifier.startsWith(".")) visit(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")))
        else if (isOptional(packageName(specifier))) loaded.push(`${relative(src, file)} → ${specifier}`)
      }
    }
    visit(join(src, "index.ts"))
    assert.isAbove(seen.size, 5)
    assert.deepStrictEqual(loaded, [])
  })
})
