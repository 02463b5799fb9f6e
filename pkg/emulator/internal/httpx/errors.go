// Package httpx is the emulator's HTTP plumbing shared by every API:
// Google-shaped JSON errors, JSON bodies, path routing with custom verbs,
// and pagination.
package httpx

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is an error in Google's JSON error shape (contract §1.3).
// error.code always equals the HTTP status.
type Error struct {
	Code    int              `json:"code"`
	Message string           `json:"message"`
	Status  string           `json:"status"`
	Details []map[string]any `json:"details,omitempty"`
	// RetryAfter, when set, is sent as a Retry-After header (seconds).
	RetryAfter int `json:"-"`
	// Header holds extra response headers (injected faults).
	Header map[string]string `json:"-"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Status, e.Message) }

// Errf is an error with HTTP code, canonical status and a formatted message.
func Errf(code int, status, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// ErrInvalid is 400 INVALID_ARGUMENT.
func ErrInvalid(format string, args ...any) *Error {
	return Errf(http.StatusBadRequest, "INVALID_ARGUMENT", format, args...)
}

// ErrNotFound is 404 NOT_FOUND.
func ErrNotFound(format string, args ...any) *Error {
	return Errf(http.StatusNotFound, "NOT_FOUND", format, args...)
}

// ErrAlreadyExists is 409 ALREADY_EXISTS.
func ErrAlreadyExists(format string, args ...any) *Error {
	return Errf(http.StatusConflict, "ALREADY_EXISTS", format, args...)
}

// ErrAborted is 409 ABORTED (an etag conflict).
func ErrAborted(format string, args ...any) *Error {
	return Errf(http.StatusConflict, "ABORTED", format, args...)
}

// ErrFailedPrecondition is 400 FAILED_PRECONDITION.
func ErrFailedPrecondition(format string, args ...any) *Error {
	return Errf(http.StatusBadRequest, "FAILED_PRECONDITION", format, args...)
}

// ErrUnauthenticated is the 401 of a missing or unknown token.
func ErrUnauthenticated() *Error {
	return Errf(http.StatusUnauthorized, "UNAUTHENTICATED",
		"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
}

// ErrPermissionDenied is the 403 a caller gets without permission on
// resource, with the ErrorInfo detail clients look for.
func ErrPermissionDenied(permission, resource string) *Error {
	e := Errf(http.StatusForbidden, "PERMISSION_DENIED",
		"Permission '%s' denied on resource '%s' (or it may not exist).", permission, resource)
	e.Details = []map[string]any{{
		"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
		"reason": "IAM_PERMISSION_DENIED",
		"domain": "iam.googleapis.com",
		"metadata": map[string]string{
			"permission": permission,
			"resource":   resource,
		},
	}}
	return e
}

// WriteError writes err (an *apiError, or any error as a 500) in Google's shape.
func WriteError(w http.ResponseWriter, err error) {
	ae, ok := err.(*Error)
	if !ok {
		ae = Errf(http.StatusInternalServerError, "INTERNAL", "%v", err)
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(ae.RetryAfter))
	}
	for k, v := range ae.Header {
		w.Header().Set(k, v)
	}
	WriteJSON(w, ae.Code, map[string]any{"error": ae})
}

// WriteJSON writes v as a JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ReadJSON decodes the request body into v; an empty body leaves v as is.
func ReadJSON(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 && r.Header.Get("Transfer-Encoding") == "" {
		return nil
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4<<20))
	if err := dec.Decode(v); err != nil {
		if err.Error() == "EOF" {
			return nil
		}
		return ErrInvalid("Invalid JSON payload received. %v", err)
	}
	return nil
}
