package storage

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
)

// apiError is an error of the Cloud Storage JSON API: an HTTP status, the
// legacy reason clients branch on (notFound, conditionNotMet, conflict,
// forbidden, required, invalid) and a message.
type apiError struct {
	Code    int
	Reason  string
	Message string
	// XMLCode is the code of the XML API's <Error> (NoSuchKey, ...).
	XMLCode string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message) }

func errf(code int, reason, format string, args ...any) *apiError {
	return &apiError{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func errNoBucket(bucket string) *apiError {
	e := errf(http.StatusNotFound, "notFound", "The specified bucket does not exist.")
	e.XMLCode = "NoSuchBucket"
	return e
}

func errNoObject(bucket, object string) *apiError {
	e := errf(http.StatusNotFound, "notFound", "No such object: %s/%s", bucket, object)
	e.XMLCode = "NoSuchKey"
	return e
}

// errConditionNotMet is the 412 of a failed generation or metageneration
// precondition.
func errConditionNotMet() *apiError {
	e := errf(http.StatusPreconditionFailed, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.")
	e.XMLCode = "PreconditionFailed"
	return e
}

// errDenied is the 403 of a caller without permission; what names the
// resource kind ("bucket", "object").
func errDenied(principal, permission, what string) *apiError {
	_, email, _ := strings.Cut(principal, ":")
	e := errf(http.StatusForbidden, "forbidden",
		"%s does not have %s access to the Google Cloud Storage %s. Permission '%s' denied on resource (or it may not exist).",
		email, permission, what, permission)
	e.XMLCode = "AccessDenied"
	return e
}

// fromHTTPX turns the core's Google-shaped error (401 from authentication)
// into the storage shape.
func fromHTTPX(ae *httpx.Error) *apiError {
	reason, xmlCode := "invalid", "InvalidArgument"
	switch ae.Code {
	case http.StatusUnauthorized:
		reason, xmlCode = "required", "AuthenticationRequired"
	case http.StatusForbidden:
		reason, xmlCode = "forbidden", "AccessDenied"
	case http.StatusNotFound:
		reason, xmlCode = "notFound", "NotFound"
	}
	return &apiError{Code: ae.Code, Reason: reason, Message: ae.Message, XMLCode: xmlCode}
}

// writeError answers err in the JSON API's error shape.
func writeError(w http.ResponseWriter, err *apiError) {
	if err.Code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
	}
	httpx.WriteJSON(w, err.Code, map[string]any{"error": map[string]any{
		"code":    err.Code,
		"message": err.Message,
		"errors":  []map[string]string{{"message": err.Message, "domain": "global", "reason": err.Reason}},
	}})
}

// writeXMLError answers err as the XML API does.
func writeXMLError(w http.ResponseWriter, r *http.Request, err *apiError) {
	code := err.XMLCode
	if code == "" {
		code = "InvalidArgument"
	}
	w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
	w.WriteHeader(err.Code)
	if r.Method == http.MethodHead {
		return
	}
	body := struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}{Code: code, Message: err.Message}
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(body)
}
