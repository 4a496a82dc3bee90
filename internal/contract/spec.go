package contract

import (
	"context"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/xchat-go/xchat/internal/testref"
)

// ChatSpec and ActivitySpec are the OpenAPI documents exchanges are
// validated against. ChatSpec's operations must all be covered.
const (
	ChatSpec     = "x-api-chat-openapi.json"
	ActivitySpec = "x-api-activity-openapi.json"
)

// ReadSpec returns the bytes of one reference OpenAPI document, vendored
// in testdata/reference (see internal/testref).
func ReadSpec(name string) ([]byte, error) {
	b, err := testref.Load(name)
	if err != nil {
		return nil, fmt.Errorf("contract: reading reference spec: %w", err)
	}
	return b, nil
}

// LoadSpec parses and validates one reference document and makes it
// strict (see Strict). The servers are dropped so that routes match any
// host, the emulator's loopback address included.
func LoadSpec(name string) (*openapi3.T, error) {
	raw, err := ReadSpec(name)
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("contract: parsing %s: %w", name, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("contract: %s is not a valid OpenAPI document: %w", name, err)
	}
	doc.Servers = nil
	Strict(doc)
	return doc, nil
}

// Strict closes every object schema that lists properties but says nothing
// about others (additionalProperties: false), so a field the document does
// not name is reported instead of silently accepted. Free-form objects (no
// properties) stay open. The document never uses allOf, which closing would
// break.
func Strict(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			no := false
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		walk(s.Not)
		for _, list := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf, s.AllOf} {
			for _, r := range list {
				walk(r)
			}
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value != nil {
					walk(p.Value.Schema)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
			for _, r := range op.Responses.Map() {
				if r.Value != nil {
					for _, mt := range r.Value.Content {
						walk(mt.Schema)
					}
				}
			}
		}
	}
}

// ReadSeed returns the text of the seed document (an X documentation page,
// vendored in testdata/reference/seeds) whose file name starts with prefix
// (e.g. "003_").
func ReadSeed(prefix string) ([]byte, error) {
	name, err := testref.Seed(prefix)
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	return testref.Load(name)
}
