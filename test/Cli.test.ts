/**
 * The command-line tool, tested as a process: `node <build>/bin.js …`, compiled once for this file
 * into a directory of its own (so that a concurrent `npm run build` or `npm start` rewriting
 * `dist/` can't pull it from under a test).
 */
import { execFile, execFileSync, spawn as spawnChild } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { availableParallelism, tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { basicLogger, init, integrations, type LDClient, type LDContext } from "@launchdarkly/node-server-sdk"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Context, Effect, Exit, Layer, Redacted, Result, Scope } from "effect"
import { parse as parseYaml } from "yaml"
import { freshDataDir } from "../src/embedded/Template.js"
import { parseFlagsFile } from "../src/cli/FlagsFile.js"
import { describeCause } from "../src/cli/output.js"
import { missingPackageMessage } from "../src/cli/Requirements.js"
import { parseColumns } from "../src/cli/settings.js"
import { renderTable } from "../src/cli/Table.js"
import { parseUsersFile } from "../src/cli/UsersFile.js"
import { EmbeddedPostgres } from "../src/embedded.js"
import { DAY_MS } from "../src/Segmentation.js"
import { UserRepoError } from "../src/UserRepo.js"

const root = join(import.meta.dirname, "..")
const build = join(root, "build", `cli-test-${process.pid}-${Date.now().toString(36)}`)
const examplesFlags = join(root, "examples", "flags.json")

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

// The variables the tool reads: a test says what it wants, the shell (or CI) does not leak in.
const ownEnv = /^(DATABASE_URL|LAUNCHDARKLY_|SEGMENT_|CONTEXT_CACHE_)/
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !ownEnv.test(name)))

// Runs overlap, but no more of them than there are cores: each one starts Node, and most a Postgres.
const slots = Math.max(2, availableParallelism())
let running = 0
const waiting: Array<() => void> = []
const acquire = (): Promise<void> =>
  running < slots
    ? Promise.resolve(void running++)
    : new Promise((resolve) => waiting.push(() => resolve(void running++)))
const release = (): void => {
  running--
  waiting.shift()?.()
}

const cli = async (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}): Promise<Run> => {
  await acquire()
  try {
    return await spawn(args, env)
  } finally {
    release()
  }
}

const spawn = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(build, "bin.js"), ...args],
      { cwd: root, env: { ...baseEnv, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resolve({ code, stdout, stderr })
      }
    )
  })

const json = (run: Run): unknown => {
  assert.strictEqual(run.code, 0, run.stderr)
  return JSON.parse(run.stdout)
}

/** A failed run: exit 1, the message on stderr, no stack trace. */
const assertFails = (run: Run, ...messages: ReadonlyArray<string | RegExp>) => {
  assert.strictEqual(run.code, 1, `expected exit 1\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
  for (const message of messages) {
    if (typeof message === "string") assert.include(run.stderr, message)
    else assert.match(run.stderr, message)
  }
  assert.notMatch(run.stderr, /^\s+at .+[:(]/m, "no stack trace")
}

/** The real SDK on a flags file, to compare the tool's answers with. */
const sdkOn = async (path: string): Promise<LDClient> => {
  const client = init("cli-test", {
    updateProcessor: new integrations.FileDataSourceFactory({
      paths: [path],
      autoUpdate: false,
      yamlParser: parseYaml
    }).getFactory(),
    sendEvents: false,
    diagnosticOptOut: true,
    logger: basicLogger({ level: "none" })
  })
  await client.waitForInitialization({ timeout: 10 })
  return client
}

interface EvalOutput {
  readonly value: unknown
  readonly variationIndex: number | null
  readonly fallback: string | null
  readonly context: LDContext
}

let scratch = ""
let sdk: LDClient
let adaContext: Run

// Most runs share one embedded Postgres, started here and seeded by the first run, so that only the
// runs that test the tool's own embedded database (`demo`) pay for starting one.
const embeddedScope = Effect.runSync(Scope.make())
let shared: ReadonlyArray<string> = []
const startShared = Effect.gen(function* () {
  // The tool's template, built here if this machine has none yet, before the concurrent runs need it.
  const dataDir = yield* freshDataDir
  const context = yield* Layer.build(EmbeddedPostgres.layer({ dataDir }))
  return Context.get(context, EmbeddedPostgres).url
}).pipe(Scope.provide(embeddedScope), Effect.provide(NodeServices.layer))

beforeAll(async () => {
  execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.build.json", "--outDir", build], {
    cwd: root,
    stdio: "pipe"
  })
  scratch = mkdtempSync(join(tmpdir(), "efc-cli-test-"))
  sdk = await sdkOn(examplesFlags)
  shared = ["--database-url", await Effect.runPromise(startShared)]
  adaContext = await cli([
    "context",
    "ada",
    ...shared,
    "--seed",
    "--employee-domain",
    "example.org",
    "--system-user",
    "ada"
  ])
}, 120_000)

afterAll(async () => {
  sdk?.close()
  if (scratch !== "") rmSync(scratch, { recursive: true, force: true })
  rmSync(build, { recursive: true, force: true })
  // A socket server that never finishes stopping must not hold the file up.
  await Promise.race([
    Effect.runPromise(Scope.close(embeddedScope, Exit.void)),
    new Promise((resolve) => setTimeout(resolve, 10_000).unref())
  ])
}, 30_000)

const file = (name: string, text: string): string => {
  const path = join(scratch, name)
  writeFileSync(path, text)
  return path
}

describe.concurrent("Cli", { timeout: 120_000 }, () => {
  it("demo - one row per example user with the segments its rules give, and the absent id marked as a fallback", async () => {
    const run = await cli(["demo"])
    assert.strictEqual(run.code, 0, run.stderr)
    const expected: Record<string, string> = {
      "svc-billing": "admin, established_user, internal, system",
      ada: "admin, beta, early_access, employee, established_user, user",
      grace: "employee, recent_user, user",
      linus: "new_user, user",
      margaret: "beta, recent_user, user",
      alan: "beta, established_user, moderator, user",
      barbara: "established_user, user",
      edsger: "new_user, user",
      ken: "beta, recent_user, user",
      radia: "established_user, user",
      frances: "new_user, user",
      katherine: "new_user, new_user_promo, user",
      "ghost-404": "(not found)"
    }
    const lines = run.stdout.split("\n")
    for (const [userId, segments] of Object.entries(expected)) {
      const row = lines.find((line) => line.startsWith(`${userId} `))
      assert.isDefined(row, `no row for ${userId}`)
      const [, cells] = /^\S+\s+\S+\s+(.+?)\s{2,}/.exec(row ?? "") ?? []
      assert.strictEqual(cells, segments, `segments of ${userId}`)
    }
    const ghost = lines.find((line) => line.startsWith("ghost-404 ")) ?? ""
    assert.match(ghost, /false\*/)
    assert.include(run.stdout, "ghost-404: UserNotFound")
    // What the repository and the client log goes to stderr, never into the table.
    assert.include(run.stderr, "userId=radia, problem=InvalidJson")
  })

  it("demo --json - every value is what the SDK answers for the context the tool reports", async () => {
    const rows = json(await cli(["demo", "--json"])) as ReadonlyArray<{
      readonly userId: string
      readonly fallback: string | null
      readonly context: LDContext
      readonly flags: Readonly<Record<string, EvalOutput>>
    }>
    assert.strictEqual(rows.length, 13)
    assert.deepStrictEqual(
      rows.filter((row) => row.fallback !== null).map((row) => [row.userId, row.fallback]),
      [["ghost-404", "UserNotFound"]]
    )
    let compared = 0
    for (const row of rows) {
      assert.strictEqual(Object.keys(row.flags).length, 9)
      for (const [flagKey, evaluation] of Object.entries(row.flags)) {
        const detail = await sdk.variationDetail(flagKey, row.context, null)
        assert.deepStrictEqual(evaluation.value, detail.value, `${flagKey} for ${row.userId}`)
        assert.strictEqual(evaluation.variationIndex, detail.variationIndex ?? null)
        compared++
      }
    }
    assert.strictEqual(compared, 13 * 9)
  })

  it("eval - the value, variation and context agree with a direct SDK evaluation", async () => {
    const [human, eu, young] = await Promise.all([
      cli(["eval", "beta-dashboard", "ada", ...shared, "--flags-file", examplesFlags]),
      cli([
        "eval",
        "checkout-config",
        "barbara",
        "--attr",
        "region=eu",
        "--json",
        ...shared,
        "--flags-file",
        examplesFlags
      ]),
      cli([
        "eval",
        "young-account-banner",
        "barbara",
        "--attr",
        "account_age_days=3",
        "--role",
        "admin",
        "--json",
        ...shared,
        "--flags-file",
        examplesFlags
      ])
    ])
    assert.strictEqual(human.code, 0, human.stderr)
    assert.match(human.stdout, /^beta-dashboard = true\n/)
    assert.match(human.stdout, /fallback +none/)

    for (const [flagKey, run] of [
      ["checkout-config", eu],
      ["young-account-banner", young]
    ] as const) {
      const output = json(run) as EvalOutput
      const detail = await sdk.variationDetail(flagKey, output.context, null)
      assert.deepStrictEqual(output.value, detail.value, flagKey)
      assert.strictEqual(output.variationIndex, detail.variationIndex ?? null)
    }
    // The attribute reached the context: barbara is not in the EU, the request says she is.
    assert.deepStrictEqual((json(eu) as EvalOutput).value, { provider: "adyen", retries: 5, region: "eu" })
    // `--attr` values that parse as JSON are JSON: the number 3 matches `account_age_days < 30`.
    const youngOutput = json(young) as EvalOutput
    assert.strictEqual(youngOutput.value, true)
    assert.include((youngOutput.context as unknown as { segments: Array<string> }).segments, "admin")
  })

  it("flags - every flag of a YAML flags file (flagValues), served by the SDK's file data source", async () => {
    const path = file("flags.yaml", "flagValues:\n  banner-text: from yaml\n  max-items: 7\n")
    const output = json(await cli(["flags", "ada", "--flags-file", path, "--json", ...shared])) as {
      flags: Record<string, EvalOutput>
    }
    assert.deepStrictEqual(
      Object.entries(output.flags).map(([key, evaluation]) => [key, evaluation.value]),
      [
        ["banner-text", "from yaml"],
        ["max-items", 7]
      ]
    )
  })

  it("context - the context sent for a user, with the rules given as options", async () => {
    const ada = json(adaContext) as { fallback: unknown; context: Record<string, unknown> }
    assert.strictEqual(ada.fallback, null)
    assert.strictEqual(ada.context["key"], "ada")
    assert.strictEqual(ada.context["email_domain"], "agpt.co")
    assert.strictEqual(ada.context["account_age_days"], 400)
    assert.deepStrictEqual(ada.context["custom"], { plan: "enterprise" })
    // --system-user and --employee-domain replace the example rules (agpt.co, svc-billing).
    assert.deepStrictEqual(ada.context["segments"], ["admin", "beta", "early_access", "established_user", "system"])
  })

  it("eval - an unknown flag exits 1, says so and shows the default served", async () => {
    assertFails(
      await cli(["eval", "no-such-flag", "ada", "--default", "false", ...shared, "--flags-file", examplesFlags]),
      'unknown flag "no-such-flag"',
      "examples/flags.json has no flag with this key",
      "the default was served: false"
    )
  })

  it("eval - an invalid user id exits 1 and says why", async () => {
    assertFails(
      await cli(["eval", "beta-dashboard", "   "]),
      'invalid user id "   "',
      "must not be empty or whitespace"
    )
  })

  it("a missing flags file exits 1 and names the file", async () => {
    const path = join(scratch, "missing.json")
    assertFails(await cli(["eval", "beta-dashboard", "ada", "--flags-file", path]), `flags file ${path}: no such file`)
    assertFails(await cli(["flags", "ada"], { LAUNCHDARKLY_FLAGS_FILE: path }), `flags file ${path}: no such file`)
  })

  it("a flags file that is not valid JSON or YAML exits 1 with the file and the problem", async () => {
    const badJson = file("bad.json", '{\n  "flags": {\n    "a": 1,\n  }\n}\n')
    assertFails(await cli(["flags", "ada", "--flags-file", badJson]), `flags file ${badJson}: not valid JSON`, "line 4")
    const badYaml = file("bad.yaml", "flagValues:\n  a: [1, 2\n")
    assertFails(await cli(["flags", "ada", "--flags-file", badYaml]), `flags file ${badYaml}: not valid YAML`)
  })

  it("an unreachable database exits 1 and names the host and port, never the password", async () => {
    const port = await closedPort()
    const run = await cli(["context", "ada"], { DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/db` })
    assertFails(run, `cannot reach Postgres at 127.0.0.1:${port}`)
    assert.notInclude(run.stderr, "secret")
  })

  it("a flags or users file that is not a regular file (a FIFO) exits 1 at once instead of hanging", async () => {
    const fifo = join(scratch, "flags.fifo")
    execFileSync("mkfifo", [fifo])
    assertFails(
      await cli(["eval", "beta-dashboard", "ada", ...shared, "--flags-file", fifo]),
      `flags file ${fifo}: a FIFO (named pipe), not a regular file`
    )
    assertFails(
      await cli(["context", "ada", "--users", fifo]),
      `users file ${fifo}: a FIFO (named pipe), not a regular file`
    )
    assertFails(
      await cli(["context", "ada", "--users", scratch]),
      `users file ${scratch}: a directory, not a regular file`
    )
  })

  it.each(["SIGTERM", "SIGINT"] as const)(
    "%s - the first one ends the process while it waits for a database that never answers",
    async (signal) => {
      const hung = Net.createServer(() => {})
      await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve))
      const address = hung.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      try {
        const exit = await new Promise<{ readonly code: number | null; readonly signal: string | null }>((resolve) => {
          const child = spawnChild(process.execPath, [join(build, "bin.js"), "context", "ada"], {
            cwd: root,
            env: { ...baseEnv, DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/db` },
            stdio: "ignore"
          })
          // Killed for good if it outlives the bound: the test then fails on the signal it died of.
          const bound = setTimeout(() => child.kill("SIGKILL"), 30_000)
          child.once("exit", (code, died) => {
            clearTimeout(bound)
            resolve({ code, signal: died })
          })
          hung.once("connection", () => setTimeout(() => child.kill(signal), 200))
        })
        // Interrupted (130, the runtime's code), forced out (130/143), or dead of the signal itself.
        assert.isTrue(
          exit.code === 130 || exit.code === 143 || exit.signal === signal,
          `exited with ${JSON.stringify(exit)}`
        )
      } finally {
        hung.close()
      }
    }
  )

  it("SIGTERM while the embedded template is being built ends the run and leaves no template behind", async () => {
    const cache = mkdtempSync(join(tmpdir(), "efc-cli-template-"))
    try {
      const exit = await new Promise<{ readonly code: number | null; readonly signal: string | null }>((resolve) => {
        const child = spawnChild(process.execPath, [join(build, "bin.js"), "context", "ada"], {
          cwd: root,
          env: { ...baseEnv, XDG_CACHE_HOME: cache },
          stdio: "ignore"
        })
        const bound = setTimeout(() => child.kill("SIGKILL"), 60_000)
        // Signalled once initdb has started writing its directory: the slow, synchronous part.
        const building = () => {
          try {
            return readdirSync(join(cache, "effect-flag-context")).some((name) => name.includes(".building-"))
          } catch {
            return false
          }
        }
        const poll = setInterval(() => {
          if (building()) {
            clearInterval(poll)
            child.kill("SIGTERM")
          }
        }, 50)
        child.once("exit", (code, died) => {
          clearInterval(poll)
          clearTimeout(bound)
          resolve({ code, signal: died })
        })
      })
      assert.isTrue(exit.code === 130 || exit.code === 143 || exit.signal === "SIGTERM", JSON.stringify(exit))
      // The build was stopped, not finished: no template, no half-built directory.
      assert.deepStrictEqual(readdirSync(join(cache, "effect-flag-context")), [])
    } finally {
      rmSync(cache, { recursive: true, force: true })
    }
  })

  it("a users file row that does not decode exits 1, naming the row and the field", async () => {
    const users = file(
      "users.json",
      JSON.stringify({
        users: [
          { id: "a", email: "a@example.com", emailVerified: true, createdDaysAgo: 3 },
          { id: "b", emailVerified: true, createdDaysAgo: 3 }
        ]
      })
    )
    assertFails(await cli(["context", "a", "--users", users]), `users file ${users}: row 2 (id "b"): email:`)
  })
})

const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

// ---------------------------------------------------------------------------------------------
// Against the Postgres of DATABASE_URL (CI sets it), in a schema of its own that is dropped after.
// ---------------------------------------------------------------------------------------------

const databaseUrl = process.env["DATABASE_URL"]

describe.skipIf(databaseUrl === undefined || databaseUrl === "")("Cli with --database-url", () => {
  const url = databaseUrl ?? ""
  const schema = `efc_cli_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`
  const table = `${schema}.users`
  const dropSchema = Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    yield* sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })))

  afterAll(() => Effect.runPromise(dropSchema), 30_000)

  const exists = (name: string) =>
    Effect.gen(function* () {
      const sql = yield* PgClient.PgClient
      const [row] = yield* sql<{ readonly found: boolean }>`SELECT to_regclass(${name}) IS NOT NULL AS found`
      return row?.found === true
    }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })), Effect.runPromise)
  const exec = (statement: string) =>
    Effect.gen(function* () {
      const sql = yield* PgClient.PgClient
      yield* sql.unsafe(statement)
    }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })), Effect.runPromise)

  it("is read-only: a missing table is an error saying how to create it, and is not created", async () => {
    const missing = `${schema}.missing`
    for (const command of [
      ["context", "ada"],
      ["flags", "ada", "--flags-file", examplesFlags],
      ["eval", "beta-dashboard", "ada", "--flags-file", examplesFlags],
      ["demo"]
    ]) {
      assertFails(
        await cli([...command, "--database-url", url, "--table", missing]),
        `could not read the user table "${schema}"."missing": it does not exist`,
        `effect-flag-context setup --database-url URL --table ${missing}`
      )
    }
    assert.isFalse(await exists(`"${schema}"."missing"`))
  })

  it("setup creates the table without writing users; --seed creates and seeds", async () => {
    const created = `${schema}.created`
    const setup = await cli(["setup", "--database-url", url, "--table", created])
    assert.strictEqual(setup.code, 0, setup.stderr)
    const empty = json(await cli(["context", "ada", "--database-url", url, "--table", created])) as {
      fallback: unknown
    }
    assert.strictEqual(empty.fallback, "UserNotFound")

    const seeded = json(await cli(["context", "ada", "--table", table, "--seed"], { DATABASE_URL: url })) as {
      fallback: unknown
      context: { segments: Array<string> }
    }
    assert.strictEqual(seeded.fallback, null)
    // No example rules against a real database: only the configured ones.
    assert.deepStrictEqual(seeded.context.segments, ["admin", "beta", "early_access", "established_user", "user"])
  })

  it("--column maps the table's own column names; check validates them and prints one user's context", async () => {
    const django = `${schema}.auth_user`
    await exec(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
    await exec(
      `CREATE TABLE "${schema}"."auth_user" (id text PRIMARY KEY, email text NOT NULL, "emailVerified" boolean NOT NULL,
       name text, date_joined timestamptz NOT NULL, "updatedAt" timestamptz NOT NULL, metadata jsonb)`
    )
    await exec(
      `INSERT INTO "${schema}"."auth_user" VALUES ('u1', 'u1@example.org', true, 'U', now() - interval '3 days', now(), '{"plan": "pro"}')`
    )
    const unmapped = await cli(["check", "--database-url", url, "--table", django])
    assertFails(unmapped, 'createdAt: no column "createdAt"', "--column createdAt=COLUMN")
    assert.match(unmapped.stdout, /createdAt +createdAt +\(missing\)/)

    const args = ["--database-url", url, "--table", django, "--column", "createdAt=date_joined"]
    const checked = await cli(["check", ...args])
    assert.strictEqual(checked.code, 0, checked.stderr)
    assert.match(checked.stdout, /createdAt +date_joined +timestamp with time zone +ok/)
    const report = JSON.parse(checked.stdout.slice(checked.stdout.indexOf("{"))) as {
      userId: string
      fallback: unknown
      context: Record<string, unknown>
    }
    assert.deepStrictEqual([report.userId, report.fallback, report.context["account_age_days"]], ["u1", null, 3])
    const context = json(await cli(["context", "u1", ...args])) as {
      fallback: unknown
      context: Record<string, unknown>
    }
    assert.deepStrictEqual([context.fallback, context.context["custom"]], [null, { plan: "pro" }])

    assertFails(
      await cli(["context", "u1", ...args, "--column", "colour=x"]),
      '--column colour=x: unknown key "colour"'
    )

    // A table without metadata (Django's): `--column metadata=` says so.
    await exec(`ALTER TABLE "${schema}"."auth_user" DROP COLUMN metadata`)
    assertFails(await cli(["check", ...args]), 'metadata: no column "metadata"', "--column metadata=")
    const bare = json(await cli(["context", "u1", ...args, "--column", "metadata="])) as {
      fallback: unknown
      context: Record<string, unknown>
    }
    assert.deepStrictEqual(
      [bare.fallback, bare.context["custom"], bare.context["email_domain"]],
      [null, undefined, "example.org"]
    )
    assertFails(await cli(["context", "u1", ...args, "--column", "email="]), "the table must have its email column")
  })

  it("eval - needs a flag source, then agrees with the SDK", async () => {
    const args = ["--database-url", url, "--table", table, "--seed", "--employee-domain", "agpt.co"]
    assertFails(await cli(["eval", "employee-tools", "grace", ...args]), "no flags to evaluate")
    const output = json(
      await cli(["eval", "employee-tools", "grace", ...args, "--json"], { LAUNCHDARKLY_FLAGS_FILE: examplesFlags })
    ) as EvalOutput
    const detail = await sdk.variationDetail("employee-tools", output.context, null)
    assert.strictEqual(output.value, true)
    assert.strictEqual(output.value, detail.value)
  })
})

// ---------------------------------------------------------------------------------------------
// The tool's pure parts, in process.
// ---------------------------------------------------------------------------------------------

describe("Cli files and tables", () => {
  const now = Date.UTC(2026, 0, 31)

  it("parseUsersFile - createdDaysAgo becomes createdAt, odd metadata is kept verbatim for seeding", () => {
    const text = JSON.stringify({
      users: [
        { id: "a", email: "a@x", emailVerified: true, createdDaysAgo: 10, metadata: "{not json" },
        { id: "b", email: "b@x", emailVerified: false, createdAt: "2020-01-01T00:00:00Z", metadata: { plan: "pro" } }
      ],
      absentIds: ["z"]
    })
    const file = Result.getOrThrow(parseUsersFile("u.json", text, now))
    assert.strictEqual(file.users[0]?.created_at.epochMilliseconds, now - 10 * DAY_MS)
    assert.deepStrictEqual(file.users[0]?.metadata, {})
    assert.deepStrictEqual(file.rawMetadata, [{ id: "a", metadata: "{not json" }])
    assert.deepStrictEqual(file.users[1]?.metadata, { plan: "pro" })
    assert.deepStrictEqual(file.absentIds, ["z"])
  })

  it("parseUsersFile - names the row and the field that do not decode", () => {
    const problem = (rows: unknown) => {
      const result = parseUsersFile("u.json", JSON.stringify(rows), now)
      return Result.isFailure(result) ? result.failure.message : "decoded"
    }
    const row = { id: "a", email: "a@x", emailVerified: true, createdDaysAgo: 1 }
    assert.strictEqual(
      problem([row, { ...row, id: "  " }]),
      'users file u.json: row 2 (id "  "): id: a user id must not be empty or whitespace'
    )
    assert.strictEqual(
      problem([{ ...row, createdDaysAgo: "3" }]),
      'users file u.json: row 1 (id "a"): createdDaysAgo: expected a number of days ≥ 0, got "3"'
    )
    assert.strictEqual(
      problem([row, { ...row, email: "b@x" }]),
      'users file u.json: row 2 (id "a"): duplicate id (also row 1)'
    )
    assert.strictEqual(
      problem({ users: [row], absentIds: ["a"] }),
      'users file u.json: absentIds: "a" is also a user of the file'
    )
    assert.match(problem("x"), /expected \{ "users": \[\.\.\.\] \}/)
  })

  it("parseFlagsFile - the keys of flags and flagValues; a line and column for a JSON syntax error", () => {
    const keys = parseFlagsFile("f.json", readFileSync(examplesFlags, "utf8"))
    assert.deepStrictEqual(Result.getOrThrow(keys).slice(0, 3), ["beta-dashboard", "employee-tools", "admin-console"])
    const problem = (path: string, text: string) => {
      const result = parseFlagsFile(path, text)
      return Result.isFailure(result) ? result.failure.message : "valid"
    }
    assert.strictEqual(problem("f.yml", "flagValues:\n  a: 1\n"), "valid")
    assert.match(
      problem("f.json", '{\n  "flags": {\n    "a": 1,\n  }\n}'),
      /^flags file f\.json: not valid JSON: .* at line 4, column 3$/
    )
    assert.strictEqual(
      problem("f.json", "[]"),
      'flags file f.json: expected an object with "flags", "flagValues" or "segments"'
    )
    assert.strictEqual(
      problem("f.json", '{"flags": {"a": {"key": "b", "variations": []}}}'),
      'flags file f.json: flag "a": its "key" must be "a"'
    )
    assert.strictEqual(
      problem("f.json", '{"flags": {"a": {"key": "a", "variations": []}}, "flagValues": {"a": 1}}'),
      'flags file f.json: flag "a" is in both "flags" and "flagValues"'
    )
  })

  it("describeCause - the innermost message of a repository failure, with its code", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })
    const error = new UserRepoError({
      userId: "ada",
      reason: "Unavailable",
      cause: new Error("wrapped", { cause: refused })
    })
    assert.strictEqual(describeCause(error.cause), "connect ECONNREFUSED 127.0.0.1:1")
    const sql = {
      message: "SqlError",
      reason: { cause: { message: "operator does not exist: uuid = text", code: "42883" } }
    }
    assert.strictEqual(describeCause(sql), "operator does not exist: uuid = text (42883)")
    assert.strictEqual(describeCause("text"), undefined)
  })

  it("parseColumns - key=column, repeatable; an empty name for an absent column; unknown keys refused", () => {
    assert.deepStrictEqual(
      Effect.runSync(parseColumns(["createdAt=date_joined", "metadata=", " emailVerified = email_confirmed_at"])),
      { createdAt: "date_joined", metadata: null, emailVerified: "email_confirmed_at" }
    )
    const problem = (options: ReadonlyArray<string>) => Effect.runSync(Effect.flip(parseColumns(options))).message
    assert.match(problem(["created=x"]), /unknown key "created"/)
    assert.match(problem(["createdAt"]), /expected key=column/)
    assert.match(problem(["id="]), /must have an id column/)
    assert.match(problem(["name=a", "name=b"]), /name is given twice/)
  })

  it("missingPackageMessage - names the optional peers to install; other failures are not its business", () => {
    const notFound = (name: string) =>
      Object.assign(new Error(`Cannot find package '${name}' imported from /app/node_modules/x.js`), {
        code: "ERR_MODULE_NOT_FOUND"
      })
    assert.match(
      missingPackageMessage(notFound("@effect/platform-node")) ?? "",
      /needs @effect\/platform-node, which is not installed: npm install @effect\/platform-node/
    )
    assert.match(
      missingPackageMessage(notFound("@electric-sql/pglite-socket")) ?? "",
      /which are not installed: npm install @electric-sql\/pglite @electric-sql\/pglite-socket$/
    )
    assert.isUndefined(missingPackageMessage(notFound("left-pad")))
    assert.isUndefined(missingPackageMessage(new Error("Cannot find package '@effect/platform-node'")))
  })

  it("renderTable - columns as wide as their cells, headers broken at hyphens, one column wrapped to fit", () => {
    const table = renderTable(
      [{ header: "user" }, { header: "segments", wrap: true }, { header: "new-user-onboarding" }],
      [
        ["ada", "admin, beta, early_access, employee", "true"],
        ["ghost-404", "(not found)", "false*"]
      ],
      { maxWidth: 40 }
    )
    assert.strictEqual(
      table,
      [
        "                              new-user-",
        "user       segments           onboarding",
        "─────────  ─────────────────  ──────────",
        "ada        admin, beta,       true",
        "           early_access,",
        "           employee",
        "ghost-404  (not found)        false*"
      ].join("\n")
    )
  })
})
