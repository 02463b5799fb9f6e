package httpx

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"
)

// Walking every page visits each item once, whatever the paging; bad
// sizes and tokens are 400.
func TestWritePage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		n         int
		paging    Paging
		size      string
		wantPages int
	}{
		{"everything at once", 5, Paging{}, "", 1},
		{"default size", 5, Paging{Default: 2}, "", 3},
		{"asked size", 5, Paging{Default: 2}, "4", 2},
		{"size capped by max", 5, Paging{Default: 2, Max: 3}, "100", 2},
		{"no default, max", 5, Paging{Max: 3}, "", 2},
		{"empty list", 0, Paging{Default: 2}, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []any
			token, pages := "", 0
			for {
				url := "/x?pageSize=" + tt.size + "&pageToken=" + token
				rec := httptest.NewRecorder()
				WritePage(rec, httptest.NewRequest("GET", url, nil), "items", tt.n, tt.paging, func(i int) any { return float64(i) })
				var out struct {
					Items []any  `json:"items"`
					Next  string `json:"nextPageToken"`
				}
				if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
					t.Fatalf("HTTP %d %s", rec.Code, rec.Body)
				}
				got = append(got, out.Items...)
				pages++
				if token = out.Next; token == "" || pages > 10 {
					break
				}
			}
			var want []any
			for i := range tt.n {
				want = append(want, float64(i))
			}
			if !reflect.DeepEqual(got, want) || pages != tt.wantPages {
				t.Errorf("items %v in %d pages, want %v in %d", got, pages, want, tt.wantPages)
			}
		})
	}
	for _, q := range []string{"pageSize=-1", "pageSize=x", "pageToken=nope", "pageToken=b2Zmc2V0Ojk"} {
		rec := httptest.NewRecorder()
		WritePage(rec, httptest.NewRequest("GET", "/x?"+q, nil), "items", 3, Paging{}, func(i int) any { return i })
		if rec.Code != 400 {
			t.Errorf("%s: HTTP %d, want 400", q, rec.Code)
		}
	}
}
