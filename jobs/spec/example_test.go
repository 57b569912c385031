package spec_test

import (
	"errors"
	"fmt"

	"github.com/ipdm/ipdm/jobs/spec"
)

func ExampleDecode() {
	_, err := spec.Decode([]byte(`
apiVersion: ipdm/v1
kind: Job
module: wordcount@1.2.0
resources:
  memory: 12QB
replicas: 3
quorum: 4
`))
	var fe *spec.FieldErrors
	if errors.As(err, &fe) {
		for _, e := range fe.Errors {
			fmt.Printf("line %d: %s\n", e.Line, e)
		}
	}
	// Output:
	// line 6: spec.resources.memory: "12QB" is not a size
	// line 8: spec.quorum: 4 exceeds replicas (3)
}

func ExampleSpec_Digest() {
	a, _ := spec.Decode([]byte("apiVersion: ipdm/v1\nkind: Job\nmodule: wc@1\nreplicas: 3\n"))
	b, _ := spec.Decode([]byte(`{"kind":"Job","apiVersion":"ipdm/v1","module":"wc@1","replicas":3,"quorum":2,"resources":{"memory":"64MiB"}}`))
	da, _ := a.Digest()
	db, _ := b.Digest()
	fmt.Println(da == db)
	// Output: true
}
