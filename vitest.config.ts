import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Vitest 5's reporter calls `Map.groupBy` (Node 21+) when it prints a failure; Node 20 lacks it.
if (typeof (Map as { groupBy?: unknown }).groupBy !== "function") {
  Object.defineProperty(Map, "groupBy", {
    configurable: true,
    writable: true,
    value: <K, T>(items: Iterable<T>, key: (item: T, index: number) => K): Map<K, Array<T>> => {
      const groups = new Map<K, Array<T>>()
      let index = 0
      for (const item of items) {
        const k = key(item, index++)
        const group = groups.get(k)
        if (group === undefined) groups.set(k, [item])
        else group.push(item)
      }
      return groups
    }
  })
}

export default defineConfig({
  // Examples and docs import the package by its published name; here that name is the source.
  resolve: {
    alias: [
      { find: /^effect-flag-context$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
      {
        find: /^effect-flag-context\/embedded$/,
        replacement: fileURLToPath(new URL("./src/embedded.ts", import.meta.url))
      },
      {
        find: /^effect-flag-context\/openfeature$/,
        replacement: fileURLToPath(new URL("./src/OpenFeature.ts", import.meta.url))
      }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
