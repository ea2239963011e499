package openapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// schema is one JSON Schema (2020-12) object.
type schema = map[string]any

// mode says which side of the wire a type is on: what "required" means differs. A response
// field the encoder always writes (no omitempty) is required; a request field is required only
// when the handler refuses a body without it, which the component says explicitly.
type mode int

const (
	response mode = iota
	request
	// both: a value type that reads as it writes (every field required either way).
	both
)

// component names a Go type in components.schemas. Overlays add what the code enforces beyond
// the Go type (enums, lengths, ranges, patterns), keyed by JSON property name; an overlay for a
// property the type does not have is an error, so a renamed field cannot leave a stale rule.
type component struct {
	name     string
	typ      reflect.Type
	mode     mode
	required []string // request mode only
	desc     string
	overlay  map[string]schema
}

type typeKey struct {
	t reflect.Type
	m mode
}

// reflector turns Go types into schemas the way encoding/json writes and reads them.
type reflector struct {
	names   map[typeKey]string
	schemas map[string]schema
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
	textType      = reflect.TypeFor[encoding.TextMarshaler]()
)

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// reflectAll builds every component; the names are known first so types can refer to each other.
func reflectAll(cs []component) (map[string]schema, map[typeKey]string, error) {
	r := &reflector{names: map[typeKey]string{}, schemas: map[string]schema{}}
	for _, c := range cs {
		modes := []mode{c.mode}
		if c.mode == both {
			modes = []mode{response, request}
		}
		for _, m := range modes {
			k := typeKey{c.typ, m}
			if prev, dup := r.names[k]; dup {
				return nil, nil, fmt.Errorf("type %v is both %s and %s", c.typ, prev, c.name)
			}
			r.names[k] = c.name
		}
	}
	for _, c := range cs {
		if _, dup := r.schemas[c.name]; dup {
			return nil, nil, fmt.Errorf("component %s is defined twice", c.name)
		}
		m := c.mode
		if m == both {
			m = response
		}
		s, err := r.object(c.typ, m, c.required)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", c.name, err)
		}
		props, _ := s["properties"].(map[string]any)
		for p, extra := range c.overlay {
			ps, ok := props[p].(schema)
			if !ok {
				return nil, nil, fmt.Errorf("%s: overlay for %q, which %v does not have", c.name, p, c.typ)
			}
			merge(ps, extra)
		}
		if c.desc != "" {
			s["description"] = c.desc
		}
		r.schemas[c.name] = s
	}
	return r.schemas, r.names, nil
}

// merge copies src into dst; nested objects merge, everything else replaces.
func merge(dst, src schema) {
	for k, v := range src {
		if sv, ok := v.(schema); ok {
			if dv, ok := dst[k].(schema); ok {
				merge(dv, sv)
				continue
			}
		}
		dst[k] = clone(v)
	}
}

// clone copies overlay values deeply: overlays are shared package values, and the document is
// built more than once in tests.
func clone(v any) any {
	switch x := v.(type) {
	case schema:
		out := make(schema, len(x))
		for k, e := range x {
			out[k] = clone(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = clone(e)
		}
		return out
	}
	return v
}

// object is the schema of a struct type. Unknown properties are refused both ways: the decoder
// refuses them in requests, and in responses an extra property means the document is behind.
func (r *reflector) object(t reflect.Type, m mode, required []string) (schema, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%v is not a struct", t)
	}
	props := map[string]any{}
	var order, always []string
	if err := r.fields(t, m, props, &order, &always, map[string]bool{}); err != nil {
		return nil, err
	}
	if m == request {
		for _, f := range required {
			if _, ok := props[f]; !ok {
				return nil, fmt.Errorf("required %q is not a field of %v", f, t)
			}
		}
		always = required
	}
	s := schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(always) > 0 {
		s["required"] = always
	}
	return s, nil
}

// fields adds t's JSON properties, promoting embedded structs' fields as encoding/json does
// (a field of the outer struct hides an embedded one of the same name).
func (r *reflector) fields(t reflect.Type, m mode, props map[string]any, order, always *[]string, outer map[string]bool) error {
	var embedded []reflect.Type
	own := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if outer[name] {
			continue
		}
		omitempty := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		s, err := r.typeSchema(ft, m)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		if ft.Kind() == reflect.Pointer && !omitempty && m == response {
			s = nullable(s) // a nil pointer is written as null
		}
		props[name] = s
		own[name] = true
		*order = append(*order, name)
		if !omitempty && m == response {
			*always = append(*always, name)
		}
	}
	hide := map[string]bool{}
	for k := range outer {
		hide[k] = true
	}
	for k := range own {
		hide[k] = true
	}
	for _, et := range embedded {
		if err := r.fields(et, m, props, order, always, hide); err != nil {
			return err
		}
	}
	return nil
}

func nullable(s schema) schema {
	if t, ok := s["type"].(string); ok {
		s["type"] = []any{t, "null"}
		return s
	}
	return schema{"anyOf": []any{s, schema{"type": "null"}}}
}

// typeSchema is the schema of one Go type; named struct components become references.
func (r *reflector) typeSchema(t reflect.Type, m mode) (schema, error) {
	if t == timeType {
		return schema{"type": "string", "format": "date-time"}, nil
	}
	if t.Kind() == reflect.Pointer {
		return r.typeSchema(t.Elem(), m)
	}
	if t.Implements(marshalerType) || t.Implements(textType) {
		return nil, fmt.Errorf("%v marshals itself; give it a schema by hand", t)
	}
	switch t.Kind() {
	case reflect.String:
		return schema{"type": "string"}, nil
	case reflect.Bool:
		return schema{"type": "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return schema{"type": "integer"}, nil
	case reflect.Float32, reflect.Float64:
		return schema{"type": "number"}, nil
	case reflect.Interface:
		return schema{}, nil // any JSON value
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return schema{"type": "string", "contentEncoding": "base64"}, nil
		}
		items, err := r.typeSchema(t.Elem(), m)
		if err != nil {
			return nil, err
		}
		return schema{"type": "array", "items": items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key %v is not a string", t.Key())
		}
		vals, err := r.typeSchema(t.Elem(), m)
		if err != nil {
			return nil, err
		}
		return schema{"type": "object", "additionalProperties": vals}, nil
	case reflect.Struct:
		if name, ok := r.names[typeKey{t, m}]; ok {
			return schema{"$ref": "#/components/schemas/" + name}, nil
		}
		return r.object(t, m, nil)
	}
	return nil, fmt.Errorf("no schema for %v", t)
}
