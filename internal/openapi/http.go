package openapi

import "net/http"

// errorNames are components.responses of the problem statuses the API uses.
var errorNames = map[int]string{
	400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 410: "Gone",
	412: "PreconditionFailed", 413: "PayloadTooLarge", 429: "TooManyRequests", 500: "InternalError",
	503: "ServiceUnavailable",
}

var errorDescriptions = map[int]string{
	400: "Bad input: errors names each field and why (a malformed query string is field query).",
	401: "No or invalid credentials.",
	403: "Authenticated, but not allowed: a role, access level or API-key scope; quota refusals have type …/quota-exceeded.",
	404: "Not found, or not visible to the caller.",
	409: "Conflict: an invalid state transition, a duplicate, or a concurrent change.",
	410: "Gone: used up, expired or revoked.",
	412: "If-Match names a version the resource no longer has.",
	413: "The body is over 64 KiB (over 10 MB the gateway itself answers).",
	429: "The API key is over its hourly limit.",
	500: "A server fault: logged with the request id, no detail given.",
	503: "A part of this installation the route needs is not configured (e.g. no streaming gateway).",
}

// problem is the Problem schema with its status pinned to the response's own.
func problemOf(status int) map[string]any {
	return map[string]any{"schema": map[string]any{"allOf": []any{ref("schemas", "Problem"),
		map[string]any{"properties": map[string]any{"status": map[string]any{"const": status}}}}}}
}

func errorResponses() map[string]any {
	out := map[string]any{}
	for code, name := range errorNames {
		content := map[string]any{"application/problem+json": problemOf(code)}
		if code == http.StatusInternalServerError || code == http.StatusRequestEntityTooLarge {
			content["application/json"] = map[string]any{"schema": ref("schemas", "GatewayMessage")}
		}
		resp := map[string]any{"description": errorDescriptions[code], "content": content}
		if code == http.StatusTooManyRequests {
			hs := map[string]any{"Retry-After": ref("headers", "Retry-After")}
			for _, h := range rateLimitHeaders {
				hs[h] = ref("headers", h)
			}
			resp["headers"] = hs
		}
		out[name] = resp
	}
	return out
}

var rateLimitHeaders = []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}

func header(desc string, required bool, s schema) map[string]any {
	h := map[string]any{"description": desc, "schema": s}
	if required {
		h["required"] = true
	}
	return h
}

var integer = schema{"type": "integer", "minimum": 0}

// headers are the response headers that matter to clients.
var headers = map[string]any{
	"ETag":                header("The resource's version, quoted; send it back in If-Match.", true, schema{"type": "string", "pattern": `^"[1-9][0-9]*"$`}),
	"Location":            header("The created resource.", true, schema{"type": "string", "pattern": "^/api/v1/"}),
	"Idempotent-Replayed": header("Present on a replay of an Idempotency-Key.", false, schema{"type": "string", "enum": []string{"true"}}),
	"Cache-Control":       header("The body holds a secret shown once.", true, schema{"type": "string", "enum": []string{"no-store"}}),
	"Retry-After":         header("Seconds until the key's hourly window resets.", true, integer),
	"RateLimit-Limit":     header("Requests per hour the API key may make (requests made with a key only).", false, integer),
	"RateLimit-Remaining": header("Requests left in this hour (requests made with a key only).", false, integer),
	"RateLimit-Reset":     header("Seconds until the hour resets (requests made with a key only).", false, integer),
}

// headerParams are the request headers some routes read.
var headerParams = map[string]any{
	"If-Match": map[string]any{"name": "If-Match", "in": "header", "schema": schema{"type": "string"},
		"description": `The resource's version from ETag, quoted or not (W/ tolerated), or *. A mismatch is 412; anything else 400. Without it a concurrent change is retried for you.`},
	"Idempotency-Key": map[string]any{"name": "Idempotency-Key", "in": "header", "schema": schema{"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-\"$-~]+$"},
		"description": "Per user, binding for 24 h, on every create: a retry with the same key, method, path and body returns the first result (its status, Idempotent-Replayed: true); the key with another body, route or resource is 409 (type …/idempotency-key-reused). 1-255 visible ASCII characters other than '#', else 400."},
}

var securitySchemes = map[string]any{
	"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
		"description": "An OIDC JWT (RS256 or ES256; issuer and audience checked), or an API key sk_… (refused on token-only routes)."},
	"apiKey": map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key",
		"description": "An API key sk_…: acts as its owner, narrowed by its scopes (x-api-key-scope names the one a route needs)."},
	"queryToken": map[string]any{"type": "apiKey", "in": "query", "name": "token",
		"description": "The same token or key as a query parameter (for WebSocket clients; accepted on HTTP routes too)."},
}
