package httpx

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// Paging is how one list method pages: Default items when the request
// gives no pageSize (or 0; Default 0 means every remaining item), at most
// Max (0: no limit).
type Paging struct{ Default, Max int }

// Page returns the window [start, end) of n items that the request's
// pageSize and pageToken ask for, and the token of the next page ("" when
// none remain). Tokens are opaque to clients (base64 of an offset), as
// Google's are; a bad size or token is 400.
func Page(r *http.Request, n int, p Paging) (start, end int, next string, aerr *Error) {
	q := r.URL.Query()
	if t := q.Get("pageToken"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		off, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "offset:") || off < 0 || off > n {
			return 0, 0, "", ErrInvalid("Invalid page token %q.", t)
		}
		start = off
	}
	size := p.Default
	if s := q.Get("pageSize"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, 0, "", ErrInvalid("Invalid pageSize %q.", s)
		}
		if v > 0 {
			size = v
		}
	}
	if p.Max > 0 && (size == 0 || size > p.Max) {
		size = p.Max
	}
	end = n
	if size > 0 && start+size < n {
		end = start + size
	}
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return start, end, next, nil
}

// WritePage answers the page of n items the request asks for: render(i)
// for each index under field (left out when the page is empty) and
// nextPageToken when more remain.
func WritePage(w http.ResponseWriter, r *http.Request, field string, n int, p Paging, render func(i int) any) {
	start, end, next, aerr := Page(r, n, p)
	if aerr != nil {
		WriteError(w, aerr)
		return
	}
	out := map[string]any{}
	if end > start {
		items := make([]any, 0, end-start)
		for i := start; i < end; i++ {
			items = append(items, render(i))
		}
		out[field] = items
	}
	if next != "" {
		out["nextPageToken"] = next
	}
	WriteJSON(w, http.StatusOK, out)
}
