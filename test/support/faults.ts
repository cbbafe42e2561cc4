/**
 * Test support for the fault suite: a scriptable loopback stand-in for LaunchDarkly, a TCP
 * listener that accepts and never answers, a watch on the process for unhandled rejections and
 * uncaught exceptions, and a count of the fibers a piece of work leaves running. Network only on
 * 127.0.0.1.
 */
import { createServer, type ServerResponse } from "node:http"
import * as Net from "node:net"
import { type Context, Effect, Metric, type Scope } from "effect"

// ---------------------------------------------------------------------------------------------
// A stand-in for LaunchDarkly's streaming and polling services
// ---------------------------------------------------------------------------------------------

/** How the stand-in answers one request for flags. */
export type Answer =
  /** This HTTP status, empty body. */
  | { readonly _tag: "Status"; readonly status: number }
  /** Accept the request and never answer. */
  | { readonly _tag: "Hang" }
  /** The flags: a `put` event on the stream (kept open), or the polling payload. */
  | { readonly _tag: "Serve"; readonly flags: Readonly<Record<string, unknown>> }

export const status = (code: number): Answer => ({ _tag: "Status", status: code })
export const hang: Answer = { _tag: "Hang" }
export const serve = (flags: Readonly<Record<string, unknown>>): Answer => ({ _tag: "Serve", flags })

/** One request for flags, and what it was answered. */
export interface FlagRequest {
  readonly path: string
  readonly answer: Answer["_tag"]
  readonly status: number | null
}

export interface LaunchDarklyStandIn {
  /** The base URI to give the SDK as `baseUri`, `streamUri` and `eventsUri`. */
  readonly uri: string
  /** Requests for flags (stream `/all`, poll `/sdk/latest-all`), oldest first. */
  readonly requests: () => ReadonlyArray<FlagRequest>
  /** TCP connections currently open. */
  readonly connections: () => number
  /**
   * From now on answer requests for flags with `plan`, one entry per request, the last one for
   * every request after; open connections are dropped, so a streaming SDK reconnects.
   */
  readonly answer: (plan: ReadonlyArray<Answer>) => Effect.Effect<void>
}

/** A stand-in for LaunchDarkly on 127.0.0.1, answering with `plan` (see `answer`); closed with the scope. */
export const launchDarklyStandIn = (
  plan: ReadonlyArray<Answer>
): Effect.Effect<LaunchDarklyStandIn, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ readonly standIn: LaunchDarklyStandIn; readonly close: () => Promise<void> }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const held = new Set<ServerResponse>()
      const requests: Array<FlagRequest> = []
      let current: ReadonlyArray<Answer> = plan
      let next = 0
      const take = (): Answer => {
        const answer = current[Math.min(next, current.length - 1)] ?? hang
        next++
        return answer
      }
      const server = createServer((request, response) => {
        const path = (request.url ?? "/").split("?")[0] ?? "/"
        const stream = path.endsWith("/all")
        const poll = path.endsWith("/sdk/latest-all")
        if (!stream && !poll) {
          // Events and diagnostics: accepted and dropped.
          response.writeHead(202).end()
          return
        }
        const answer = take()
        requests.push({ path, answer: answer._tag, status: answer._tag === "Status" ? answer.status : null })
        switch (answer._tag) {
          case "Status":
            // Not kept alive: an open connection after the answer is then the SDK's, not an idle one.
            response.writeHead(answer.status, { "content-type": "text/plain", connection: "close" }).end()
            return
          case "Hang":
            held.add(response)
            return
          case "Serve": {
            const payload = { flags: answer.flags, segments: {} }
            if (poll) {
              response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(payload))
              return
            }
            response.writeHead(200, { "content-type": "text/event-stream" })
            response.write(`event: put\ndata: ${JSON.stringify({ path: "/", data: payload })}\n\n`)
            held.add(response)
            return
          }
        }
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      const dropAll = () => {
        held.clear()
        for (const socket of sockets) socket.destroy()
      }
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = address !== null && typeof address === "object" ? address.port : 0
        resume(
          Effect.succeed({
            standIn: {
              uri: `http://127.0.0.1:${port}`,
              requests: () => requests.slice(),
              connections: () => sockets.size,
              answer: (nextPlan) =>
                Effect.sync(() => {
                  current = nextPlan
                  next = 0
                  dropAll()
                })
            },
            close: () =>
              new Promise<void>((resolve) => {
                dropAll()
                server.close(() => resolve())
              })
          })
        )
      })
    }),
    ({ close }) => Effect.promise(close)
  ).pipe(Effect.map(({ standIn }) => standIn))

// ---------------------------------------------------------------------------------------------
// A hung peer
// ---------------------------------------------------------------------------------------------

export interface HungListener {
  readonly host: string
  readonly port: number
  /** Connections accepted so far. */
  readonly accepted: () => number
}

/** A loopback TCP listener that accepts every connection and never sends a byte; closed with the scope. */
export const hungListener: Effect.Effect<HungListener, never, Scope.Scope> = Effect.acquireRelease(
  Effect.callback<{ readonly listener: HungListener; readonly close: () => Promise<void> }>((resume) => {
    const sockets = new Set<Net.Socket>()
    let accepted = 0
    const server = Net.createServer((socket) => {
      accepted++
      sockets.add(socket)
      socket.on("error", () => {})
      socket.on("close", () => sockets.delete(socket))
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = address !== null && typeof address === "object" ? address.port : 0
      resume(
        Effect.succeed({
          listener: { host: "127.0.0.1", port, accepted: () => accepted },
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
).pipe(Effect.map(({ listener }) => listener))

// ---------------------------------------------------------------------------------------------
// The process: unhandled rejections and uncaught exceptions
// ---------------------------------------------------------------------------------------------

export interface ProcessWatch {
  /** Unhandled promise rejections and uncaught exceptions seen since the watch started. */
  readonly problems: () => ReadonlyArray<string>
}

/**
 * Listens on the process for `unhandledRejection` and `uncaughtExceptionMonitor` until the scope
 * closes. (A monitor, not an `uncaughtException` listener: it observes without changing what
 * Node does with the exception.)
 */
export const watchProcess: Effect.Effect<ProcessWatch, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const problems: Array<string> = []
    const onRejection = (reason: unknown) => {
      problems.push(`unhandledRejection: ${describe(reason)}`)
    }
    const onException = (error: unknown) => {
      problems.push(`uncaughtException: ${describe(error)}`)
    }
    process.on("unhandledRejection", onRejection)
    process.on("uncaughtExceptionMonitor", onException)
    return { problems, onRejection, onException }
  }),
  ({ onRejection, onException }) =>
    Effect.sync(() => {
      process.off("unhandledRejection", onRejection)
      process.off("uncaughtExceptionMonitor", onException)
    })
).pipe(Effect.map(({ problems }) => ({ problems: () => problems.slice() })))

const describe = (value: unknown): string =>
  value instanceof Error ? `${value.name}: ${value.message}` : String(value)

// ---------------------------------------------------------------------------------------------
// Fibers
// ---------------------------------------------------------------------------------------------

export interface FiberCount {
  /** Fibers started under `track` that have not ended. */
  readonly running: () => number
  /** Fibers started under `track`. */
  readonly started: () => number
  /** Runs `effect` with every fiber it forks (and they fork, transitively) counted. */
  readonly track: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/**
 * Counts fibers through the runtime's own hook (`Metric.FiberRuntimeMetrics`): the runtime
 * reports the start and the end of every child fiber forked in a context that holds the service,
 * including the fibers the cache, the request resolver and the SQL client fork for a caller.
 */
export const fiberCount = (): FiberCount => {
  let running = 0
  let started = 0
  const service: Metric.FiberRuntimeMetricsService = {
    recordFiberStart: (_context: Context.Context<never>) => {
      running++
      started++
    },
    recordFiberEnd: () => {
      running--
    }
  }
  return {
    running: () => running,
    started: () => started,
    track: (effect) => Effect.provideService(effect, Metric.FiberRuntimeMetrics, service)
  }
}

// ---------------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------------

/** Sleeps on the live clock (`setTimeout`), whatever `Clock` the test has. */
export const sleepLive = (millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const handle = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(handle))
  })
