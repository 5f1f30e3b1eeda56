package shop

import (
	"testing"
)

// FuzzManifest checks that decoding a manifest, whatever its bytes, never
// panics and either yields entries or says why not.
func FuzzManifest(f *testing.F) {
	f.Add([]byte(demoManifest))
	f.Add([]byte(`{"version": 1, "zapps": []}`))
	f.Add([]byte(`{"version": 1, "zapps": [{"category": 1}]}`))
	f.Add([]byte(`{"version": 1, "zapps": [{"category": "a", "name": "b", "description": "c", "readable_descr": "d",
		"parameters": [{"kind": "environment", "name": "X", "type": "int", "default": "1e3", "min": -1, "max": 1e400, "step": 0}]}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"version": 1, "zapps": [null, "x", {"parameters": {}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, errs := decodeManifest(data)
		if len(entries) == 0 && len(errs) == 0 {
			// Only a manifest with an empty zapps list has neither.
			if _, e := decodeManifest([]byte(`{"version": 1, "zapps": []}`)); e != nil {
				t.Fatal("the empty manifest is invalid")
			}
		}
		for i, e := range entries {
			if e == nil {
				continue
			}
			for _, p := range e.Parameters {
				if p.Integer() && (p.Min > p.Max || p.Step <= 0) {
					t.Errorf("entry %d: accepted integer parameter %+v with bad bounds", i, p)
				}
				if p.Integer() && p.Default != nil {
					if _, msg := p.parseInt(*p.Default); msg != "" {
						t.Errorf("entry %d: accepted default %q: %s", i, *p.Default, msg)
					}
				}
			}
		}
	})
}
