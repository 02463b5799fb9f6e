package tfprovider

import (
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strconv"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// Values travel through the provider as plain Go data:
//
//	null              -> nil
//	unknown           -> unknown{}
//	string            -> string
//	bool              -> bool
//	number            -> *big.Float
//	list, set, tuple  -> []any
//	map, object       -> map[string]any
//
// toGo and fromGo convert between that form and tftypes.Value. fromGo is
// lenient the way the SDK's flatteners are: a missing object attribute is
// null, a JSON number can fill a string and a numeric string a number.

type unknown struct{}

// isUnknown reports whether v is an unknown value.
func isUnknown(v any) bool {
	_, ok := v.(unknown)
	return ok
}

func toGo(v tftypes.Value) (any, error) {
	if !v.IsKnown() {
		return unknown{}, nil
	}
	if v.IsNull() {
		return nil, nil
	}
	t := v.Type()
	switch {
	case t.Is(tftypes.String):
		var s string
		err := v.As(&s)
		return s, err
	case t.Is(tftypes.Bool):
		var b bool
		err := v.As(&b)
		return b, err
	case t.Is(tftypes.Number):
		f := new(big.Float)
		err := v.As(&f)
		return f, err
	case t.Is(tftypes.List{}), t.Is(tftypes.Set{}), t.Is(tftypes.Tuple{}):
		var elems []tftypes.Value
		if err := v.As(&elems); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(elems))
		for _, e := range elems {
			g, err := toGo(e)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	case t.Is(tftypes.Map{}), t.Is(tftypes.Object{}):
		var elems map[string]tftypes.Value
		if err := v.As(&elems); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(elems))
		for k, e := range elems {
			g, err := toGo(e)
			if err != nil {
				return nil, err
			}
			out[k] = g
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported type %s", t)
}

func fromGo(t tftypes.Type, v any) (tftypes.Value, error) {
	if v == nil {
		return tftypes.NewValue(t, nil), nil
	}
	if isUnknown(v) {
		return tftypes.NewValue(t, tftypes.UnknownValue), nil
	}
	switch {
	case t.Is(tftypes.String):
		switch x := v.(type) {
		case string:
			return tftypes.NewValue(t, x), nil
		case bool:
			return tftypes.NewValue(t, strconv.FormatBool(x)), nil
		case float64:
			return tftypes.NewValue(t, strconv.FormatFloat(x, 'f', -1, 64)), nil
		case json.Number:
			return tftypes.NewValue(t, x.String()), nil
		case *big.Float:
			return tftypes.NewValue(t, x.Text('f', -1)), nil
		case int:
			return tftypes.NewValue(t, strconv.Itoa(x)), nil
		case int64:
			return tftypes.NewValue(t, strconv.FormatInt(x, 10)), nil
		case map[string]any, []any:
			b, err := json.Marshal(x)
			if err != nil {
				return tftypes.Value{}, err
			}
			return tftypes.NewValue(t, string(b)), nil
		}
	case t.Is(tftypes.Bool):
		switch x := v.(type) {
		case bool:
			return tftypes.NewValue(t, x), nil
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return tftypes.Value{}, fmt.Errorf("cannot use %q as bool", x)
			}
			return tftypes.NewValue(t, b), nil
		}
	case t.Is(tftypes.Number):
		var f *big.Float
		switch x := v.(type) {
		case *big.Float:
			f = x
		case float64:
			f = big.NewFloat(x)
		case int:
			f = new(big.Float).SetInt64(int64(x))
		case int64:
			f = new(big.Float).SetInt64(x)
		case json.Number:
			if g, _, err := big.ParseFloat(x.String(), 10, 512, big.ToNearestEven); err == nil {
				f = g
			}
		case string:
			if g, _, err := big.ParseFloat(x, 10, 512, big.ToNearestEven); err == nil {
				f = g
			}
		}
		if f != nil {
			return tftypes.NewValue(t, f), nil
		}
	case t.Is(tftypes.List{}), t.Is(tftypes.Set{}):
		var et tftypes.Type
		if l, ok := t.(tftypes.List); ok {
			et = l.ElementType
		} else {
			et = t.(tftypes.Set).ElementType
		}
		var in []any
		switch x := v.(type) {
		case []any:
			in = x
		case []string:
			for _, s := range x {
				in = append(in, s)
			}
		case map[string]any:
			// A single message where the schema has a list of blocks
			// (the SDK's MaxItems:1 convention).
			in = []any{x}
		default:
			return tftypes.Value{}, fmt.Errorf("cannot use %T as %s", v, t)
		}
		out := make([]tftypes.Value, 0, len(in))
		for _, e := range in {
			ev, err := fromGo(et, e)
			if err != nil {
				return tftypes.Value{}, err
			}
			if t.Is(tftypes.Set{}) {
				dup := false
				for _, o := range out {
					if o.Equal(ev) {
						dup = true
						break
					}
				}
				if dup {
					continue
				}
			}
			out = append(out, ev)
		}
		return tftypes.NewValue(t, out), nil
	case t.Is(tftypes.Map{}):
		et := t.(tftypes.Map).ElementType
		in, ok := v.(map[string]any)
		if !ok {
			if ms, ok2 := v.(map[string]string); ok2 {
				in = map[string]any{}
				for k, s := range ms {
					in[k] = s
				}
			} else {
				return tftypes.Value{}, fmt.Errorf("cannot use %T as %s", v, t)
			}
		}
		out := make(map[string]tftypes.Value, len(in))
		for k, e := range in {
			ev, err := fromGo(et, e)
			if err != nil {
				return tftypes.Value{}, err
			}
			out[k] = ev
		}
		return tftypes.NewValue(t, out), nil
	case t.Is(tftypes.Object{}):
		ot := t.(tftypes.Object)
		in, ok := v.(map[string]any)
		if !ok {
			if l, ok2 := v.([]any); ok2 && len(l) == 1 {
				in, ok = l[0].(map[string]any)
			}
			if !ok {
				return tftypes.Value{}, fmt.Errorf("cannot use %T as %s", v, t)
			}
		}
		out := make(map[string]tftypes.Value, len(ot.AttributeTypes))
		for k, at := range ot.AttributeTypes {
			ev, err := fromGo(at, in[k])
			if err != nil {
				return tftypes.Value{}, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = ev
		}
		return tftypes.NewValue(t, out), nil
	}
	return tftypes.Value{}, fmt.Errorf("cannot use %T as %s", v, t)
}

// decode unmarshals a DynamicValue into Go data using the schema's type.
func decode(s *tfprotov5.Schema, dv *tfprotov5.DynamicValue) (map[string]any, error) {
	if dv == nil {
		return nil, nil
	}
	v, err := dv.Unmarshal(s.ValueType())
	if err != nil {
		return nil, err
	}
	g, err := toGo(v)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, nil
	}
	m, ok := g.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("unexpected top-level value %T", g)
	}
	return m, nil
}

// encode turns Go data into a DynamicValue of the schema's type. A nil map
// encodes a null object (a removed resource).
func encode(s *tfprotov5.Schema, m map[string]any) (*tfprotov5.DynamicValue, error) {
	t := s.ValueType()
	var v tftypes.Value
	if m == nil {
		v = tftypes.NewValue(t, nil)
	} else {
		var err error
		if v, err = fromGo(t, m); err != nil {
			return nil, err
		}
	}
	dv, err := tfprotov5.NewDynamicValue(t, v)
	if err != nil {
		return nil, err
	}
	return &dv, nil
}

// str returns m[k] as a string; null, unknown and other types give "".
func str(m map[string]any, k string) string {
	if m == nil {
		return ""
	}
	s, _ := m[k].(string)
	return s
}

// boolean returns m[k] as a bool; null and unknown give false.
func boolean(m map[string]any, k string) bool {
	if m == nil {
		return false
	}
	b, _ := m[k].(bool)
	return b
}

// strList returns m[k] as a list of strings, skipping nulls and unknowns.
func strList(m map[string]any, k string) []string {
	if m == nil {
		return nil
	}
	l, _ := m[k].([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// firstBlock returns the first element of a list block as a map, or nil.
func firstBlock(m map[string]any, k string) map[string]any {
	if m == nil {
		return nil
	}
	l, _ := m[k].([]any)
	if len(l) == 0 {
		return nil
	}
	b, _ := l[0].(map[string]any)
	return b
}

// anyList converts strings to []any, sorted for stable output.
func anyList(ss []string) []any {
	c := append([]string(nil), ss...)
	sort.Strings(c)
	out := make([]any, len(c))
	for i, s := range c {
		out[i] = s
	}
	return out
}

// copyMap returns a shallow copy of m.
func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
