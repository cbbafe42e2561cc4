/**
 * Test support for the LaunchDarkly client: a loopback stand-in for LaunchDarkly's streaming
 * service (it can hang, then serve flags), flag definitions, flags files, log capture and small
 * hand-built `UserRepo`s. Network only on 127.0.0.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DateTime, Deferred, Duration, Effect, Layer, Logger, References, type Scope } from "effect"
import { DAY_MS } from "../../src/Segmentation.js"
import { User, type UserId } from "../../src/User.js"
import { UserNotFound, UserRepo, UserRepoError } from "../../src/UserRepo.js"

// ---------------------------------------------------------------------------------------------
// Flag definitions (the server-side data model LaunchDarkly streams and flags files hold)
// ---------------------------------------------------------------------------------------------

/** A flag whose variation `0` goes to contexts in `segment`, `1` to everyone else. */
export const segmentFlag = (key: string, segment: string, variations: readonly [unknown, unknown]) => ({
  key,
  version: 1,
  on: true,
  salt: key,
  variations: [...variations],
  offVariation: 1,
  fallthrough: { variation: 1 },
  targets: [],
  contextTargets: [],
  prerequisites: [],
  trackEvents: false,
  rules: [
    {
      id: `${key}-rule`,
      trackEvents: false,
      clauses: [{ contextKind: "user", attribute: "segments", op: "in", values: [segment], negate: false }],
      variation: 0
    }
  ]
})

/** A flags file in `format`; removed when the scope closes. */
export const flagsFile = (format: "json" | "yaml", flags: Record<string, unknown>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "effect-flag-context-"))
      const path = join(dir, format === "json" ? "flags.json" : "flags.yaml")
      writeFileSync(path, format === "json" ? JSON.stringify(flags) : toYaml(flags))
      return { dir, path }
    }),
    ({ dir }) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.map(({ path }) => path))

// JSON is YAML; written in block style only for the top level, to exercise the YAML parser.
const toYaml = (value: Record<string, unknown>): string =>
  Object.entries(value)
    .map(
      ([key, inner]) =>
        `${key}:\n${Object.entries(inner as Record<string, unknown>)
          .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`)
          .join("\n")}\n`
    )
    .join("")

// ---------------------------------------------------------------------------------------------
// A stand-in for LaunchDarkly's streaming service on 127.0.0.1
// ---------------------------------------------------------------------------------------------

export interface FakeLaunchDarkly {
  /** The base URI to give the SDK as `streamUri`, `baseUri` and `eventsUri`. */
  readonly uri: string
  /** TCP connections currently open. */
  readonly connections: () => number
  /** From now on, answer the stream with these flags; connections held so far are dropped, so the SDK reconnects. */
  readonly serve: (flags: Record<string, unknown>) => Effect.Effect<void>
}

/** A server that accepts connections and never answers, until `serve` is called. */
export const fakeLaunchDarkly: Effect.Effect<FakeLaunchDarkly, never, Scope.Scope> = Effect.acquireRelease(
  Effect.callback<{ readonly fake: FakeLaunchDarkly; readonly close: () => Promise<void> }>((resume) => {
    const sockets = new Set<Socket>()
    let flags: Record<string, unknown> | undefined
    const held = new Set<ServerResponse>()
    const server = createServer((request, response) => {
      if (flags === undefined) {
        held.add(response)
        return
      }
      if (request.url?.endsWith("/all")) {
        response.writeHead(200, { "content-type": "text/event-stream" })
        response.write(`event: put\ndata: ${JSON.stringify({ path: "/", data: { flags, segments: {} } })}\n\n`)
        held.add(response)
        return
      }
      response.writeHead(202).end()
    })
    server.on("connection", (socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(
        Effect.succeed({
          fake: {
            uri: `http://127.0.0.1:${port}`,
            connections: () => sockets.size,
            serve: (next) =>
              Effect.sync(() => {
                flags = next
                for (const socket of sockets) socket.destroy()
              })
          },
          close: () =>
            new Promise<void>((resolve) => {
              for (const socket of sockets) socket.destroy()
              server.close(() => resolve())
            })
        })
      )
    })
  }),
  ({ close }) => Effect.promise(close)
).pipe(Effect.map(({ fake }) => fake))

// ---------------------------------------------------------------------------------------------
// Users and repositories
// ---------------------------------------------------------------------------------------------

/** A user created `ageDays` before `now`, with these metadata segments. */
export const makeUser = (id: string, now: number, ageDays: number, segments: ReadonlyArray<string> = []) =>
  new User({
    id: id as UserId,
    email: `${id}@example.com`,
    email_verified: true,
    name: id,
    created_at: DateTime.makeUnsafe(now - ageDays * DAY_MS),
    updated_at: DateTime.makeUnsafe(now),
    metadata: segments.length > 0 ? { segments: [...segments], plan: "pro" } : { plan: "pro" }
  })

/** A repository that is down: every lookup fails with `UserRepoError` `"Unavailable"`. */
export const repoDown: Layer.Layer<UserRepo> = Layer.succeed(
  UserRepo,
  UserRepo.of({
    getById: (id) =>
      Effect.fail(new UserRepoError({ userId: id, reason: "Unavailable", cause: new Error("connection refused") }))
  })
)

/** A repository that never answers. */
export const repoHung: Layer.Layer<UserRepo> = Layer.succeed(UserRepo, UserRepo.of({ getById: () => Effect.never }))

/** An in-memory repository that counts lookups, and can hold them until `release`. */
export const countingRepo = (users: ReadonlyArray<User>) =>
  Effect.gen(function* () {
    const gate = yield* Deferred.make<void>()
    let held = false
    const calls: Array<string> = []
    const byId = new Map(users.map((user) => [user.id as string, user]))
    const repo = UserRepo.of({
      getById: (id) =>
        Effect.suspend(() => {
          calls.push(id)
          const user = byId.get(id)
          const answer = user === undefined ? Effect.fail(new UserNotFound({ userId: id })) : Effect.succeed(user)
          return held ? Effect.andThen(Deferred.await(gate), answer) : answer
        })
    })
    return {
      layer: Layer.succeed(UserRepo, repo),
      calls,
      hold: () => {
        held = true
      },
      release: Deferred.succeed(gate, undefined),
      set: (user: User) => byId.set(user.id, user)
    }
  })

// ---------------------------------------------------------------------------------------------
// Logs and waiting
// ---------------------------------------------------------------------------------------------

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A logger that records every line, and the layer that installs it alone. */
export const captureLogs = () => {
  const lines: Array<LogLine> = []
  const logger = Logger.make((options) => {
    const message = Array.isArray(options.message) ? options.message.map(String).join(" ") : String(options.message)
    lines.push({
      level: options.logLevel,
      message,
      annotations: options.fiber.getRef(References.CurrentLogAnnotations)
    })
  })
  return { lines, layer: Logger.layer([logger]) }
}

/** Retries `check` on the live clock until it holds, up to `within`. */
export const eventually = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  check: (a: A) => boolean,
  within: Duration.Input = Duration.seconds(10)
): Effect.Effect<A, E | Error, R> =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(within))
    while (true) {
      const value = yield* effect
      if (check(value)) return value
      if (Date.now() > deadline) return yield* Effect.fail(new Error("condition not reached in time"))
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
    }
  })
