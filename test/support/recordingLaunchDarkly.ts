/**
 * A loopback stand-in for LaunchDarkly (or a Relay Proxy) that records every request: it serves
 * `flags` on the streaming endpoint and accepts analytics events, so a test can read the events
 * the real SDK sent. Network only on 127.0.0.1.
 */
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { Effect, type Scope } from "effect"

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: string
}

export interface RecordingLaunchDarkly {
  /** The base URI, for `baseUri`, `streamUri` and `eventsUri` (or `LAUNCHDARKLY_RELAY_URI`). */
  readonly uri: string
  /** Every request so far, in arrival order. */
  readonly requests: () => ReadonlyArray<RecordedRequest>
  /** The analytics events posted so far (every payload of `/bulk`, flattened). */
  readonly events: () => ReadonlyArray<Record<string, unknown>>
}

/** A server answering the stream with `flags` and every other request with 202. */
export const recordingLaunchDarkly = (
  flags: Record<string, unknown> = {}
): Effect.Effect<RecordingLaunchDarkly, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: RecordingLaunchDarkly; readonly close: () => Promise<void> }>((resume) => {
      const sockets = new Set<Socket>()
      const streams = new Set<ServerResponse>()
      const requests: Array<RecordedRequest> = []
      const server = createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const path = request.url ?? "/"
          requests.push({
            method: request.method ?? "GET",
            path,
            headers: request.headers,
            body: Buffer.concat(chunks).toString("utf8")
          })
          if (path.endsWith("/all")) {
            response.writeHead(200, { "content-type": "text/event-stream" })
            response.write(`event: put\ndata: ${JSON.stringify({ path: "/", data: { flags, segments: {} } })}\n\n`)
            streams.add(response)
            return
          }
          response.writeHead(202).end()
        })
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(
          Effect.succeed({
            server: {
              uri: `http://127.0.0.1:${port}`,
              requests: () => [...requests],
              events: () =>
                requests
                  .filter((request) => request.method === "POST" && request.path.endsWith("/bulk"))
                  .flatMap((request) => JSON.parse(request.body) as Array<Record<string, unknown>>)
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
  ).pipe(Effect.map(({ server }) => server))
