#!/usr/bin/env node
/**
 * The command-line entry point (placeholder until the command-line tool lands): prints the context
 * built for a sample user.
 *
 * @since 0.1.0
 */
import { DateTime } from "effect"
import { buildContext, DAY_MS, makeRules } from "./Segmentation.js"
import { User, type UserId } from "./User.js"

const now = Date.now()
const sample = new User({
  id: "sample-user" as UserId,
  email: "ada@Example.com",
  email_verified: true,
  name: "Ada",
  created_at: DateTime.makeUnsafe(now - 3 * DAY_MS),
  updated_at: DateTime.makeUnsafe(now),
  metadata: { role: "admin", segments: ["beta"], plan: "pro" }
})
console.log(JSON.stringify(buildContext(sample, now, makeRules({ employeeDomains: ["example.com"] })), null, 2))
