package testutil

import (
	"context"
	"testing"

	run "google.golang.org/api/run/v2"
)

// A seeded emulator answers a real client built with its client options,
// and counts the request.
func TestStartSeededAndClientOptions(t *testing.T) {
	emu := StartSeeded(t, `defaults: {project: demo-project, location: us-central1}
projects:
  - id: demo-project
services:
  - name: orders-api
  - name: billing-api
`)
	rs, err := run.NewService(context.Background(), EmulatorClientOptions(emu)...)
	if err != nil {
		t.Fatal(err)
	}
	list, err := rs.Projects.Locations.Services.List("projects/demo-project/locations/us-central1").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Services) != 2 {
		t.Errorf("services: %d, want the 2 seeded", len(list.Services))
	}
	if n := emu.Calls()["run.v2.services.list"]; n != 1 {
		t.Errorf("run.v2.services.list counted %d times, want 1 (counters: %v)", n, emu.Calls())
	}
	if got := Calls(t, emu.URL(), emu.BootstrapToken()); got["run.v2.services.list"] != 1 {
		t.Errorf("GET /_emulator/calls: %v, want run.v2.services.list 1", got)
	}
	wrong := ClientOptions(emu.URL(), "not-the-token")
	rs, _ = run.NewService(context.Background(), wrong...)
	if _, err := rs.Projects.Locations.Services.List("projects/demo-project/locations/us-central1").Do(); err == nil {
		t.Error("a wrong token was accepted")
	}
}
