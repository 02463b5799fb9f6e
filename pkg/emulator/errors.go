package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an error in Google's JSON error shape (contract §1.3).
// error.code always equals the HTTP status.
type apiError struct {
	Code    int              `json:"code"`
	Message string           `json:"message"`
	Status  string           `json:"status"`
	Details []map[string]any `json:"details,omitempty"`
	// retryAfter, when set, is sent as a Retry-After header (seconds).
	retryAfter int
	// header holds extra response headers (injected faults).
	header map[string]string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Status, e.Message) }

func errf(code int, status, format string, args ...any) *apiError {
	return &apiError{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

func errInvalid(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "INVALID_ARGUMENT", format, args...)
}
func errNotFound(format string, args ...any) *apiError {
	return errf(http.StatusNotFound, "NOT_FOUND", format, args...)
}
func errAlreadyExists(format string, args ...any) *apiError {
	return errf(http.StatusConflict, "ALREADY_EXISTS", format, args...)
}
func errAborted(format string, args ...any) *apiError {
	return errf(http.StatusConflict, "ABORTED", format, args...)
}
func errFailedPrecondition(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "FAILED_PRECONDITION", format, args...)
}
func errUnauthenticated() *apiError {
	return errf(http.StatusUnauthorized, "UNAUTHENTICATED",
		"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
}

// errPermissionDenied is the 403 a caller gets without permission on
// resource, with the ErrorInfo detail clients look for.
func errPermissionDenied(permission, resource string) *apiError {
	e := errf(http.StatusForbidden, "PERMISSION_DENIED",
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

// writeError writes err (an *apiError, or any error as a 500) in Google's shape.
func writeError(w http.ResponseWriter, err error) {
	ae, ok := err.(*apiError)
	if !ok {
		ae = errf(http.StatusInternalServerError, "INTERNAL", "%v", err)
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(ae.retryAfter))
	}
	for k, v := range ae.header {
		w.Header().Set(k, v)
	}
	writeJSON(w, ae.Code, map[string]any{"error": ae})
}

// writeJSON writes v as a JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// readJSON decodes the request body into v; an empty body leaves v as is.
func readJSON(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 && r.Header.Get("Transfer-Encoding") == "" {
		return nil
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4<<20))
	if err := dec.Decode(v); err != nil {
		if err.Error() == "EOF" {
			return nil
		}
		return errInvalid("Invalid JSON payload received. %v", err)
	}
	return nil
}
