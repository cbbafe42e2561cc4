// Copies every example a doc includes into the doc, so that no code block in docs/ can drift.
// A block is written as
//   <!-- example: examples/file.ts -->            (the whole file)
//   <!-- example: examples/file.ts#region-name --> (the lines between `// #region region-name` and `// #endregion`)
// followed by a fenced ts block. `npm run docs` rewrites the blocks; test/docs.test.ts checks them.
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export const MARKER = /<!-- example: ([^#\s]+)(?:#([\w-]+))? -->\n```ts\n([\s\S]*?)```/g

export const exampleText = (root, file, region) => {
  const text = readFileSync(join(root, file), "utf8")
  if (region === undefined) return text.endsWith("\n") ? text : `${text}\n`
  const lines = text.split("\n")
  const start = lines.findIndex((line) => line.trim() === `// #region ${region}`)
  const end = lines.findIndex((line, i) => i > start && line.trim() === "// #endregion")
  if (start < 0 || end < 0) throw new Error(`${file}: no region ${region}`)
  const body = lines.slice(start + 1, end)
  const indent = Math.min(...body.filter((l) => l.trim().length > 0).map((l) => l.length - l.trimStart().length))
  return `${body.map((l) => l.slice(indent)).join("\n")}\n`
}

export const syncDoc = (root, text) =>
  text.replace(
    MARKER,
    (_, file, region) =>
      `<!-- example: ${file}${region ? `#${region}` : ""} -->\n\`\`\`ts\n${exampleText(root, file, region)}\`\`\``
  )

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.cwd()
  for (const name of readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md"))) {
    const path = join(root, "docs", name)
    const before = readFileSync(path, "utf8")
    const after = syncDoc(root, before)
    if (after !== before) {
      writeFileSync(path, after)
      console.log(`updated docs/${name}`)
    }
  }
}
