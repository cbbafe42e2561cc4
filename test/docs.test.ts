import { readdirSync, readFileSync } from "node:fs"
import { builtinModules } from "node:module"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { syncDoc } from "../scripts/sync-docs.mjs"

const root = join(import.meta.dirname, "..")
const docs = readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md"))
const read = (path: string) => readFileSync(join(root, path), "utf8")

const packageName = (specifier: string): string => {
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier)
}

/** The packages the README and the docs tell a user to install (`npm install a b c`). */
const told = (): ReadonlySet<string> => {
  const names = new Set<string>()
  for (const text of ["README.md", ...docs.map((name) => `docs/${name}`)].map(read)) {
    for (const [, args = ""] of text.matchAll(/npm install ([^\n`]+)/g)) {
      for (const arg of args.split(/\s+/)) {
        if (arg === "" || arg.startsWith("-")) continue
        names.add(arg.replace(/(.)@[^/]*$/, "$1"))
      }
    }
  }
  return names
}

/** Entry points whose optional peers the user must install too. */
const peersOf: Readonly<Record<string, ReadonlyArray<string>>> = {
  "effect-flag-context/embedded": ["@electric-sql/pglite", "@electric-sql/pglite-socket"]
}

/** The example files the docs show code from. */
const shownExamples = (): ReadonlySet<string> =>
  new Set(
    docs.flatMap((name) =>
      Array.from(read(`docs/${name}`).matchAll(/<!-- example: (examples\/[^#\s]+)/g), (match) => match[1] ?? "")
    )
  )

describe("docs", () => {
  it.each(docs)("%s - every ts block is an example file or a region of one, verbatim", (name) => {
    const text = read(`docs/${name}`)
    const blocks = text.split("```ts").length - 1
    const included = (text.match(/<!-- example: [^\n]+ -->\n```ts/g) ?? []).length
    assert.strictEqual(included, blocks, "a ts code block has no <!-- example: … --> marker")
    assert.strictEqual(text, syncDoc(root, text), "run `npm run docs`")
  })

  it("every package the docs' code imports is one the user was told to install", () => {
    const installed = told()
    assert.isTrue(installed.has("effect-flag-context") && installed.has("effect"), [...installed].join(", "))
    const untold: Array<string> = []
    for (const file of shownExamples()) {
      for (const [, specifier = ""] of read(file).matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
        if (specifier.startsWith(".") || specifier.startsWith("node:") || builtinModules.includes(specifier)) continue
        for (const name of [packageName(specifier), ...(peersOf[specifier] ?? [])]) {
          if (!installed.has(name))
            untold.push(`${file}: ${specifier}${name === packageName(specifier) ? "" : ` (${name})`}`)
        }
      }
    }
    assert.deepStrictEqual(untold, [])
  })
})
