// Package problem carries client-facing errors as RFC 9457 problem details. Service code returns
// *problem.Error for anything the client did wrong; every other error is a server fault that is
// logged with the request id and reported to the client as an opaque 500.
package problem

import (
	"errors"
	"fmt"
	"net/http"
)

// FieldError names one invalid input and why it is invalid.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Error is an RFC 9457 problem document and a Go error at once.
type Error struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
	// RetryAfter, when positive, becomes a Retry-After header (seconds).
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Title, e.Detail) }

func newError(status int, slug, detail string) *Error {
	return &Error{Type: "https://streamspace.dev/problems/" + slug, Title: http.StatusText(status), Status: status, Detail: detail}
}

// Invalid reports a bad field; the detail names the field so clients can show it next to the input.
func Invalid(field, detail string) *Error {
	e := newError(http.StatusBadRequest, "invalid-input", field+": "+detail)
	e.Errors = []FieldError{{Field: field, Detail: detail}}
	return e
}

func BadRequest(detail string) *Error { return newError(http.StatusBadRequest, "bad-request", detail) }
func Unauthorized(detail string) *Error {
	return newError(http.StatusUnauthorized, "unauthorized", detail)
}
func Forbidden(detail string) *Error { return newError(http.StatusForbidden, "forbidden", detail) }
func Conflict(detail string) *Error  { return newError(http.StatusConflict, "conflict", detail) }
func Gone(detail string) *Error      { return newError(http.StatusGone, "gone", detail) }
func TooLarge(detail string) *Error {
	return newError(http.StatusRequestEntityTooLarge, "too-large", detail)
}
func Unavailable(detail string) *Error {
	return newError(http.StatusServiceUnavailable, "unavailable", detail)
}
func PreconditionFailed(detail string) *Error {
	return newError(http.StatusPreconditionFailed, "precondition-failed", detail)
}
func MethodNotAllowed() *Error {
	return newError(http.StatusMethodNotAllowed, "method-not-allowed", "method not allowed on this resource")
}

// NotFound is also what callers get for things that exist but are not theirs to see.
func NotFound(what string) *Error {
	return newError(http.StatusNotFound, "not-found", what+" not found")
}

func TooManyRequests(detail string, retryAfter int) *Error {
	e := newError(http.StatusTooManyRequests, "rate-limited", detail)
	e.RetryAfter = retryAfter
	return e
}

// Internal is the only thing a client ever learns about a server fault.
func Internal() *Error {
	return newError(http.StatusInternalServerError, "internal", "an internal error occurred; it has been logged")
}

// As returns the problem inside err, or nil when err is a server fault.
func As(err error) *Error {
	var p *Error
	if errors.As(err, &p) {
		return p
	}
	return nil
}
