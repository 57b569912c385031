package engine

import "testing"

func TestPlanCacheKeepsTheMostRecentlyUsed(t *testing.T) {
	c := &PlanCache{Size: 2}
	a, b, d := &Plan{Output: "a"}, &Plan{Output: "b"}, &Plan{Output: "d"}
	c.put("a", a)
	c.put("b", b)
	if c.get("a") != a { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.put("d", d) // evicts b, the least recently used
	if c.get("b") != nil {
		t.Error("b kept beyond the size")
	}
	if c.get("a") != a || c.get("d") != d {
		t.Error("a or d evicted instead of b")
	}
	c.put("a", a) // re-putting does not grow the cache
	if len(c.order) != 2 || len(c.plans) != 2 {
		t.Errorf("order %v, %d plans; want 2 of each", c.order, len(c.plans))
	}
	var none *PlanCache
	none.put("a", a)
	if none.get("a") != nil {
		t.Error("a nil cache returned a plan")
	}
}

func TestTaskPlanKey(t *testing.T) {
	base := Task{Manifest: "m", Wasm: map[string]string{"x": "w1", "y": "w2"}, Output: "x"}
	same := Task{Manifest: "m", Wasm: map[string]string{"y": "w2", "x": "w1"}, Output: "x", Start: 5}
	if base.planKey() != same.planKey() {
		t.Error("the plan key depends on map order or the segment")
	}
	for _, other := range []Task{
		{Manifest: "m2", Wasm: base.Wasm, Output: "x"},
		{Manifest: "m", Wasm: map[string]string{"x": "w1", "y": "w3"}, Output: "x"},
		{Manifest: "m", Wasm: map[string]string{"x": "w1"}, Output: "x"},
		{Manifest: "m", Wasm: base.Wasm, Output: "y"},
	} {
		if other.planKey() == base.planKey() {
			t.Errorf("%+v shares the key of %+v", other, base)
		}
	}
}
