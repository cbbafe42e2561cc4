/**
 * How the SDK options of a client are put together: service URIs (a Relay Proxy's as their
 * default) and options from several places merged, keeping the hooks and plugins of each.
 *
 * @internal
 */
import type { LDOptions } from "@launchdarkly/node-server-sdk"

/** `baseUri`, `streamUri` and `eventsUri`: each one given, else the relay's, else the SDK's default. */
export const serviceUris = (options: {
  readonly baseUri?: string | undefined
  readonly streamUri?: string | undefined
  readonly eventsUri?: string | undefined
  readonly relayUri?: string | undefined
}): LDOptions => {
  const baseUri = options.baseUri ?? options.relayUri
  const streamUri = options.streamUri ?? options.relayUri
  const eventsUri = options.eventsUri ?? options.relayUri
  return {
    ...(baseUri === undefined ? {} : { baseUri }),
    ...(streamUri === undefined ? {} : { streamUri }),
    ...(eventsUri === undefined ? {} : { eventsUri })
  }
}

/**
 * `later` over `earlier`, except `hooks` and `plugins`, which are concatenated, and
 * `privateAttributes`, which are united: a later list adds private attributes, never makes one public.
 */
export const mergeSdkOptions = (earlier: LDOptions, later: LDOptions): LDOptions => {
  const merged: LDOptions = { ...earlier, ...later }
  if (earlier.hooks !== undefined && later.hooks !== undefined) merged.hooks = [...earlier.hooks, ...later.hooks]
  if (earlier.plugins !== undefined && later.plugins !== undefined) {
    merged.plugins = [...earlier.plugins, ...later.plugins]
  }
  if (earlier.privateAttributes !== undefined && later.privateAttributes !== undefined) {
    merged.privateAttributes = Array.from(new Set([...earlier.privateAttributes, ...later.privateAttributes]))
  }
  return merged
}
