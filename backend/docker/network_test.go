package docker

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/backend"
)

func TestPoolNetworks(t *testing.T) {
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"))
	ctx := testContext(t)
	idle, used, other := "idle-"+b.deployment, "used-"+b.deployment, "exec-"+b.deployment
	pool := map[string]string{backend.LabelPool: backend.PoolReady}
	for _, n := range []string{idle, used} {
		if err := b.EnsureNetwork(ctx, "h1", n, pool); err != nil {
			t.Fatal(err)
		}
	}
	// Not the pool's: an execution's own network is never listed.
	if err := b.EnsureNetwork(ctx, "h1", other, map[string]string{backend.LabelExecution: "7"}); err != nil {
		t.Fatal(err)
	}
	mustStart(t, b, "h1", spec(b, "on-used", used, "sleep", "600"))

	got, err := b.PoolNetworks(ctx, "h1")
	if err != nil {
		t.Fatalf("PoolNetworks: %v", err)
	}
	labels := map[string]string{backend.LabelPool: backend.PoolReady, backend.LabelManagedBy: backend.ManagedBy, backend.LabelDeployment: b.deployment}
	want := map[string]backend.Network{
		idle: {Name: idle, Labels: labels, Containers: 0},
		used: {Name: used, Labels: labels, Containers: 1},
	}
	byName := map[string]backend.Network{}
	for _, n := range got {
		byName[n.Name] = n
	}
	if diff := cmp.Diff(want, byName); diff != "" {
		t.Errorf("PoolNetworks (-want +got):\n%s", diff)
	}
	if _, err := b.PoolNetworks(ctx, "nowhere"); err == nil {
		t.Error("PoolNetworks on an unknown host: got no error")
	}
}
