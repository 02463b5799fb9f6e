package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

var sample = []Case{
	{Suite: "verify", Target: "service orders-api", Name: "serviceAccount:a@p.iam.gserviceaccount.com", Outcome: Pass, Detail: "present-direct via roles/run.invoker"},
	{Suite: "verify", Target: "service billing-api", Name: "serviceAccount:b@p.iam.gserviceaccount.com", Outcome: Fail, Detail: "missing\nno binding"},
	{Suite: "invoke", Target: "function on-upload", Name: "invoke as a", Outcome: Skip, Detail: "event-driven"},
	{Suite: "invoke", Target: "service orders-api", Name: "invoke as a", Outcome: Warn, Detail: "ok after 2 attempts", Duration: 1500 * time.Millisecond},
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := Table(&b, sample); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"STAGE", "service orders-api", "FAIL", "missing; no binding", "2 passed (1 with warnings), 1 failed, 1 skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := JUnit(&b, "invokerctl", sample); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not valid XML: %v\n%s", err, b.String())
	}
	if got.Tests != 4 || got.Failures != 1 || got.Skipped != 1 || len(got.Suites) != 2 {
		t.Fatalf("counts = %+v", got)
	}
	inv := got.Suites[0]
	if inv.Name != "invoke" || inv.Time != "1.500" || inv.Cases[0].Skipped == nil {
		t.Errorf("invoke suite = %+v", inv)
	}
	ver := got.Suites[1]
	if ver.Cases[1].Failure == nil || ver.Cases[1].Failure.Message != "missing" || ver.Cases[1].Classname != "service billing-api" {
		t.Errorf("verify failure case = %+v", ver.Cases[1])
	}
}

// A check that could not be completed is neither a pass nor a failure: the
// table counts it apart and JUnit writes <error>, which CI shows apart from
// <failure>.
func TestErrorOutcome(t *testing.T) {
	cases := append(append([]Case(nil), sample...),
		Case{Suite: "invoke", Target: "service orders-api", Name: "invoke as b", Outcome: Error, Detail: "GET / → no response\nminting: 503"})
	var tb bytes.Buffer
	if err := Table(&tb, cases); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tb.String(), "ERROR") || !strings.Contains(tb.String(), "1 failed, 1 skipped, 1 could not be completed") {
		t.Errorf("table:\n%s", tb.String())
	}
	if c := Count(cases); c.Error != 1 || c.Fail != 1 {
		t.Errorf("counts = %+v", c)
	}
	var jb bytes.Buffer
	if err := JUnit(&jb, "invokerctl", cases); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(jb.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	inv := got.Suites[0]
	last := inv.Cases[len(inv.Cases)-1]
	if got.Errors != 1 || got.Failures != 1 || inv.Errors != 1 || last.Error == nil || last.Failure != nil || last.Error.Message != "GET / → no response" {
		t.Errorf("junit = %+v, last case %+v", got, last)
	}
}
