/**
 * Segmentation is pure: build a context from a user, a clock value and the rules, with no Effect
 * and no I/O. Run it anywhere, property-test it, and see exactly what LaunchDarkly receives.
 */
import { DateTime, Effect } from "effect"
import {
  buildContext,
  DAY_MS,
  idOnlyContext,
  makeRules,
  privateAttributeReferences,
  User,
  UserId,
  withRequestAttributes
} from "effect-flag-context"

// #region build
const rules = makeRules({
  systemUserIds: ["svc-billing"],
  employeeDomains: ["agpt.co"],
  metadataAttributes: ["plan", "team"]
})

const now = Date.UTC(2026, 0, 31)
const ada = new User({
  id: UserId.make("user-42"),
  email: "Ada@AGPT.co",
  email_verified: true,
  name: "Ada",
  created_at: DateTime.makeUnsafe(now - 10 * DAY_MS),
  updated_at: DateTime.makeUnsafe(now),
  metadata: { role: "moderator", segments: ["beta"], plan: "pro", ssn: "kept out by the allow-list" }
})

const context = buildContext(ada, now, rules)
// context.segments: ["beta", "employee", "moderator", "recent_user", "user"]
// context.account_age_days: 10, context.email_domain: "agpt.co"
// context.custom: { plan: "pro" }: targeted in LaunchDarkly as `/custom/plan`
// no `_meta`: the private attributes are named once, in the SDK's options
const privateToTheSdk = privateAttributeReferences(rules)
// privateToTheSdk: ["email", "name", "/custom"]
// #endregion

// #region verified
// A domain makes an employee only when the address is verified (unless the rule is turned off).
const unverified = new User({ ...ada, email_verified: false })
const notEmployee = buildContext(unverified, now, rules)
// notEmployee.segments: ["beta", "moderator", "recent_user", "user"]
const trusting = buildContext(unverified, now, makeRules({ ...rules, domainSegmentsRequireVerifiedEmail: false }))
// trusting.segments includes "employee"
// #endregion

// #region request
// Per-request attributes go onto a copy; the cached context is never modified. They are private
// (never sent to LaunchDarkly in events) unless named in `publicAttributes`.
const forThisRequest = withRequestAttributes(context, {
  role: "admin",
  attributes: { country: "NZ", ip: "203.0.113.9" },
  publicAttributes: ["country"]
})
// forThisRequest.segments includes "admin"; context.segments does not.
// forThisRequest.ip: "203.0.113.9" (a rule targets `ip`), private through its own _meta:
// forThisRequest._meta.privateAttributes: ["ip"]

// When the user can't be loaded, only the id is sent.
const fallback = idOnlyContext("user-42")
// #endregion

export const program = Effect.sync(() => {
  if (!forThisRequest.segments?.includes("admin") || context.segments?.includes("admin")) {
    throw new Error("request attributes leaked into the cached context")
  }
  if (notEmployee.segments?.includes("employee") || !trusting.segments?.includes("employee")) {
    throw new Error("domain segments ignored email_verified")
  }
  const redacted = forThisRequest._meta?.privateAttributes ?? []
  if (!redacted.includes("ip") || redacted.includes("country")) throw new Error("request attributes not private")
  const custom = context["custom"] as Record<string, unknown> | undefined
  if (custom?.["plan"] !== "pro" || "ssn" in (custom ?? {}) || "_meta" in context) {
    throw new Error("metadata not under custom, or a _meta on the user's context")
  }
  if (privateToTheSdk.join() !== "email,name,/custom") throw new Error("PII not named once")
  return { context, forThisRequest, fallback, privateToTheSdk }
})
